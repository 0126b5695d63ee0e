"""KerasTuner-style ``build_model(hp)`` spaces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from raynas.search_spaces import (
    DefineByRunSpace,
    HyperParameters,
    Int,
    InvalidConfigError,
    SpaceDefinitionError,
    When,
)


def build_model(hp):
    """The classic KerasTuner example, written in PyTorch."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 64
    for i in range(hp.Int("num_layers", 1, 3)):
        units = hp.Int(f"units_{i}", min_value=32, max_value=512, step=32)
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    if hp.Boolean("dropout"):
        layers.append(nn.Dropout(hp.Float("dropout_rate", 0.1, 0.5)))
    hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


@pytest.fixture(scope="module")
def space() -> DefineByRunSpace:
    return DefineByRunSpace(build_model)


def test_conditionals_are_inferred_from_use(space: DefineByRunSpace) -> None:
    fields = space.fields
    assert list(fields)[:4] == ["num_layers", "units_0", "units_1", "units_2"]
    assert isinstance(fields["units_0"], Int)
    assert isinstance(fields["units_1"], When) and fields["units_1"].values == [2, 3]
    assert isinstance(fields["units_2"], When) and fields["units_2"].values == [3]
    assert isinstance(fields["dropout_rate"], When) and fields["dropout_rate"].values == [True]
    assert fields["learning_rate"].values == [1e-2, 1e-3, 1e-4]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_operations_stay_valid(space: DefineByRunSpace, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = space.sample(rng), space.sample(rng)
    for config in (a, space.mutate(a, rng), space.crossover(a, b, rng)):
        assert space.validate(config) == config
        assert len(space.encode(config)) == space.encode_len
        assert (
            sum(isinstance(m, nn.Linear) for m in space.build(config)) == config["num_layers"] + 1
        )


def test_build_uses_the_config(space: DefineByRunSpace) -> None:
    config = {
        "num_layers": 2,
        "units_0": 64,
        "units_1": 128,
        "dropout": False,
        "learning_rate": 1e-3,
    }
    model = space.build(config)
    linear = [m for m in model if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linear] == [64, 128, 10]
    assert model(torch.zeros(5, 8, 8)).shape == (5, 10)


def test_seeds(space: DefineByRunSpace) -> None:
    assert space.sample(3) == space.sample(3)
    assert len({space.key(space.sample(s)) for s in range(10)}) == 10


def test_explicit_parent_and_conditional_scope() -> None:
    def build(hp):
        kind = hp.Choice("kind", ["mlp", "cnn"])
        with hp.conditional_scope("kind", ["cnn"]):
            if kind == "cnn":
                hp.Int("filters", 8, 64, step=8)
        hp.Float("lr", 1e-4, 1e-2, sampling="log", parent_name="kind", parent_values=["mlp", "cnn"])
        return nn.Identity()

    space = DefineByRunSpace(build)
    assert space.fields["filters"].parent == "kind" and space.fields["filters"].values == ["cnn"]
    assert space.validate({"kind": "mlp", "lr": 1e-3}) == {"kind": "mlp", "lr": 1e-3}


def test_hp_outside_a_space() -> None:
    hp = HyperParameters(values={"units": 64})
    assert hp.Int("units", 32, 512, step=32) == 64
    assert hp.Choice("act", ["relu", "tanh"], default="tanh") == "tanh"
    assert hp["units"] == 64


def test_errors() -> None:
    with pytest.raises(SpaceDefinitionError, match=r"`build_model` must be callable"):
        DefineByRunSpace(42)  # type: ignore[arg-type]

    def twice(hp):
        hp.Int("a", 1, 3)
        hp.Int("a", 1, 5)

    with pytest.raises(SpaceDefinitionError, match=r"`a` is defined twice with different ranges"):
        DefineByRunSpace(twice)

    def bad_sampling(hp):
        hp.Float("lr", 1e-4, 1e-1, sampling="reverse")

    with pytest.raises(SpaceDefinitionError, match=r"`sampling` of `lr` must be one of"):
        DefineByRunSpace(bad_sampling)

    def opaque(hp):
        if np.random.default_rng().random() < 0.5:  # condition raynas cannot see
            hp.Int("maybe", 1, 3)
        hp.Int("always", 1, 3)
        return nn.Identity()

    with pytest.raises(SpaceDefinitionError, match=r"`maybe` is asked for in only some runs"):
        DefineByRunSpace(opaque)


@pytest.mark.parametrize(
    ("define", "message"),
    [
        (lambda hp: hp.Int("units", 64, 32), r"hyperparameter `units`: `low` must be less"),
        (lambda hp: hp.Int("units", 32, 64, step=0), r"hyperparameter `units`: `step` of Int"),
        (lambda hp: hp.Float("lr", 0.0, 0.1, sampling="log"), r"hyperparameter `lr`: `low` must"),
        (lambda hp: hp.Choice("act", []), r"hyperparameter `act`: `values` of a Choice must not"),
        (lambda hp: hp.Int("units", 1, 5, default=9), r"`default` of `units` must be an integer"),
        (lambda hp: hp.Choice("act", ["relu"], default="gelu"), r"`default` of `act` must be one"),
    ],
)
def test_a_bad_hyperparameter_is_named_in_its_error(define, message) -> None:
    def build(hp):
        define(hp)
        return nn.Identity()

    with pytest.raises(SpaceDefinitionError, match=message):
        DefineByRunSpace(build)


def test_build_model_must_return_a_module() -> None:
    def forgot_return(hp):
        nn.Linear(8, hp.Int("units", 1, 4))

    with pytest.raises(
        SpaceDefinitionError,
        match=r"build_model must return a torch.nn.Module, but it returned NoneType: None "
        r"\(is `return model` missing\?\)",
    ):
        DefineByRunSpace(forgot_return)
    with pytest.raises(SpaceDefinitionError, match=r"`explore_runs` of DefineByRunSpace must be"):
        DefineByRunSpace(build_model, explore_runs=0)


def test_validate_error_names_the_parameter(space: DefineByRunSpace) -> None:
    with pytest.raises(InvalidConfigError, match=r"`units_0` must be an integer in \[32, 512\]"):
        space.validate({"num_layers": 1, "units_0": 7, "dropout": False, "learning_rate": 1e-2})
