"""Datasets as LightningDataModules: fixed seeded splits, subsets, shuffling, the name table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from raynas.data import (
    ArrayDataModule,
    DataError,
    DigitsDataModule,
    MNIST1DDataModule,
    get_datamodule,
)


def test_digits_split_sizes_shapes_and_scaling():
    dm = DigitsDataModule()
    assert dm.sizes == {"train": 1437, "val": 180, "test": 180}
    assert dm.input_shape == (1, 8, 8) and dm.num_classes == 10 and dm.task == "classification"
    x, y = dm.arrays("train")
    assert x.shape == (1437, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert DigitsDataModule(flatten=True).input_shape == (64,)


def test_splits_are_disjoint_fixed_by_seed_and_change_with_it():
    a, b, c = DigitsDataModule(seed=0), DigitsDataModule(seed=0), DigitsDataModule(seed=1)
    idx = a.split_indices
    assert sorted(np.concatenate([idx["train"], idx["val"], idx["test"]])) == list(range(1797))
    for split in ("train", "val", "test"):
        assert torch.equal(a.arrays(split)[0], b.arrays(split)[0])
    assert not torch.equal(a.arrays("val")[0], c.arrays("val")[0])


def test_mnist1d_is_generated_offline_with_library_defaults_and_leaves_numpy_rng_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    dm = MNIST1DDataModule()
    assert np.array_equal(np.random.get_state()[1], before)
    assert dm.sizes == {"train": 3200, "val": 800, "test": 1000}  # 4,000 + the library's 1,000
    assert dm.input_shape == (1, 40) and dm.num_classes == 10
    assert MNIST1DDataModule(flatten=True, num_samples=200).input_shape == (40,)
    again = MNIST1DDataModule()
    assert torch.equal(dm.arrays("test")[0], again.arrays("test")[0])
    with pytest.raises(DataError, match=r"`num_samples` must be an int >= 20, but got 5"):
        MNIST1DDataModule(num_samples=5)


def test_train_fraction_is_a_fixed_subset_and_shuffling_follows_the_candidate_seed():
    dm = DigitsDataModule()
    dm.configure(train_fraction=0.25, shuffle_seed=1)
    sub1 = dm.arrays("train")[0]
    assert dm.sizes["train"] == 359
    dm.configure(shuffle_seed=2)
    assert torch.equal(dm.arrays("train")[0], sub1)  # the subset does not depend on the seed

    def first_batch(seed):
        d = DigitsDataModule().configure(batch_size=16, shuffle_seed=seed)
        return next(iter(d.train_dataloader()))[1]

    assert torch.equal(first_batch(5), first_batch(5))
    assert not torch.equal(first_batch(5), first_batch(6))
    dm.configure(train_fraction=1.0)
    assert dm.sizes["train"] == 1437


def test_state_dict_restores_the_shuffling_stream():
    dm = DigitsDataModule().configure(batch_size=32, shuffle_seed=3)
    loader = dm.train_dataloader()
    next(iter(loader))
    state = dm.state_dict()
    expected = next(iter(loader))[1]
    other = DigitsDataModule().configure(batch_size=32, shuffle_seed=99)
    other.load_state_dict(state)
    assert torch.equal(next(iter(other.train_dataloader()))[1], expected)


def test_array_datamodule_with_explicit_test_set_and_regression():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
    dm = ArrayDataModule(x, y, x_test=x[:7], y_test=y[:7], task="regression", val_fraction=0.2)
    assert dm.sizes == {"train": 40, "val": 10, "test": 7}
    assert dm.num_classes is None and dm.arrays("val")[1].dtype == torch.float32
    assert dm.describe()["sizes"] == dm.sizes


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((np.zeros(10), np.zeros(10, int)), {}, r"`x` must have shape \(n, \*input_shape\)"),
        (
            (np.zeros((10, 2)), np.zeros(9, int)),
            {},
            r"`y` must have one entry per sample of `x` "
            r"\(10\), but has 9",
        ),
        (  # float targets: say how to ask for regression
            (np.zeros((10, 2)), np.zeros(10)),
            {},
            r"`y` must be a 1-d array of integer class labels .* pass task='regression' "
            r"\(in raynas.search: data_kwargs=\{'task': 'regression'\}\)",
        ),
        ((np.zeros((10, 2)), -np.ones(10, int)), {}, r"class labels must be >= 0"),
        (
            (np.zeros((10, 2)), np.zeros(10, int)),
            {"task": "ranking"},
            r"`task` must be one of \['classification', 'regression'\], but got 'ranking'",
        ),
        (
            (np.zeros((10, 2)), np.zeros(10, int)),
            {"val_fraction": 0},
            r"`val_fraction` must be a number in \(0, 1\), but got 0",
        ),
        (
            (np.zeros((10, 2)), np.zeros(10, int)),
            {"test_fraction": 1.0},
            r"`test_fraction` must be a number in \[0, 1\), but got 1.0",
        ),
        (
            (np.zeros((10, 2)), np.zeros(10, int)),
            {"x_test": np.zeros((3, 2))},
            r"`x_test` and `y_test` must be given together",
        ),
        (
            (np.zeros((10, 2)), np.zeros(10, int)),
            {"x_test": np.zeros((3, 4)), "y_test": np.zeros(3, int)},
            r"`x_test` samples must have the shape of `x` samples",
        ),
        (
            (np.zeros((10, 2)), np.zeros(10, int)),
            {"batch_size": 0},
            r"`batch_size` must be a positive int, but got 0",
        ),
        (
            (np.zeros((10, 2)), np.arange(10)),
            {"num_classes": 5},
            r"`num_classes` must be an int >= 10 \(the largest label \+ 1\), but got 5",
        ),
        (
            (np.zeros((4, 2)), np.zeros(4, int)),
            {"val_fraction": 0.5, "test_fraction": 0.5},
            r"no training samples are left",
        ),
    ],
)
def test_bad_array_input_names_the_argument(args, kwargs, expected):
    with pytest.raises(DataError, match=expected):
        ArrayDataModule(*args, **kwargs)


def test_configure_refuses_bad_values():
    dm = DigitsDataModule()
    with pytest.raises(DataError, match=r"`train_fraction` must be a number in \(0, 1\]"):
        dm.configure(train_fraction=0)
    with pytest.raises(DataError, match=r"`split` must be one of \['train', 'val', 'test'\]"):
        dm.arrays("holdout")


def test_name_table_arrays_and_passthrough():
    assert isinstance(get_datamodule("digits", seed=2), DigitsDataModule)
    x, y = np.zeros((20, 3), np.float32), np.arange(20) % 2
    assert isinstance(get_datamodule((x, y)), ArrayDataModule)
    dm = DigitsDataModule()
    assert get_datamodule(dm) is dm
    with pytest.raises(
        DataError,
        match=r"must be one of \['digits', 'listops', 'mnist1d', 'reviews'\].*Got: 'cifar'",
    ):
        get_datamodule("cifar")
    with pytest.raises(DataError, match=r"keyword arguments \['seed'\] cannot be applied"):
        get_datamodule(dm, seed=1)
    with pytest.raises(DataError, match=r"Got: int"):
        get_datamodule(3)
