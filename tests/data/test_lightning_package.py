"""A DataModule of the `lightning` package (`import lightning as L`) trains raynas candidates."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

L = pytest.importorskip("lightning.pytorch")

from raynas.data import get_datamodule  # noqa: E402
from raynas.data._lightning import LightningPackageDataModule  # noqa: E402
from raynas.evaluation import (  # noqa: E402
    EvaluationSettings,
    InMemoryReporter,
    NASTrainable,
    run_candidate,
)
from tests.evaluation.helpers import TinyMLPSpace  # noqa: E402


class UserDigits(L.LightningDataModule):
    """What a user writes with `import lightning as L`."""

    input_shape = (1, 8, 8)
    num_classes = 10

    def __init__(self, batch_size: int = 64) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.loaded_with: list[int] = []

    def setup(self, stage: str | None = None) -> None:
        x, y = load_digits(return_X_y=True)
        x = torch.tensor(x / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
        y = torch.tensor(y)
        self.train_set = TensorDataset(x[:1400], y[:1400])
        self.val_set = TensorDataset(x[1400:], y[1400:])

    def train_dataloader(self) -> DataLoader:
        self.loaded_with.append(self.batch_size)
        g = torch.Generator().manual_seed(0)
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, generator=g)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=256)


def test_pytorch_lightning_refuses_it_unwrapped():
    """The reason for the wrapper: the two packages' classes are distinct."""
    import pytorch_lightning as pl

    assert not isinstance(UserDigits(), pl.LightningDataModule)


def test_a_lightning_package_datamodule_trains_a_candidate_with_its_batch_size():
    user = UserDigits(batch_size=64)
    dm = get_datamodule(user)
    assert isinstance(dm, LightningPackageDataModule) and dm.inner is user
    assert dm.input_shape == (1, 8, 8) and dm.num_classes == 10 and dm.batch_size == 64
    reporter = InMemoryReporter()
    config = {"width": 64, "depth": 1, "dropout": 0.0, "learning_rate": 0.01, "batch_size": 32}
    run_candidate(
        config,
        space=TinyMLPSpace(),
        datamodule=dm,
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=2),
        num_threads=1,
    )
    last = reporter.reports[-1]
    assert last["feasible"] and last["epoch"] == 2 and last["val_acc"] > 0.6
    # the candidate loaded its data with its own batch size, set on a copy (a shallow one, as
    # for raynas's own DataModules: the list is shared); the user's module keeps its 64
    assert user.loaded_with == [32] and user.batch_size == 64


def test_the_wrapper_copies_pickles_and_hands_assignments_to_the_user_module():
    dm = LightningPackageDataModule(UserDigits(batch_size=16))
    twin = copy.copy(dm)
    twin.batch_size = 128
    assert twin.inner.batch_size == 128 and dm.inner.batch_size == 16
    twin.extra = "the wrapper's own"  # not an attribute of the user's module: stays here
    assert twin.__dict__["extra"] == "the wrapper's own" and not hasattr(twin.inner, "extra")
    back = pickle.loads(pickle.dumps(dm))
    assert isinstance(back.inner, UserDigits) and back.batch_size == 16
    back.setup("fit")
    xb, yb = next(iter(back.train_dataloader()))
    assert xb.shape == (16, 1, 8, 8) and back.inner.loaded_with == [16]
    assert np.isin(yb.numpy(), np.arange(10)).all()


def test_nas_trainable_and_search_accept_it():
    trainable = NASTrainable(TinyMLPSpace(), UserDigits(), max_epochs=1)
    assert isinstance(trainable.get_datamodule(), LightningPackageDataModule)
    # a factory returning one is called in each trial, then wrapped the same way
    lazy = NASTrainable(TinyMLPSpace(), UserDigits, max_epochs=1)
    assert isinstance(lazy.get_datamodule(), LightningPackageDataModule)


def test_lightning_package_modules_and_callbacks_are_refused_naming_the_fix():
    from raynas.evaluation import EvaluationError

    class Printer(L.Callback):
        pass

    with pytest.raises(
        EvaluationError,
        match=r"`trainer_kwargs.callbacks\[0\]` is a `lightning.pytorch.Callback` \(Printer, .*"
        r"subclass `pytorch_lightning.Callback` instead",
    ):
        NASTrainable(TinyMLPSpace(), "digits", trainer_kwargs={"callbacks": [Printer()]})

    class UserModule(L.LightningModule):
        def __init__(self, config):
            super().__init__()
            self.net = torch.nn.Linear(64, 10)

    config = {"width": 64, "depth": 1, "dropout": 0.0, "learning_rate": 0.01, "batch_size": 32}
    with pytest.raises(EvaluationError, match=r"the module `module_factory` returned is a "):
        run_candidate(
            config,
            space=TinyMLPSpace(),
            datamodule=get_datamodule("digits"),
            reporter=InMemoryReporter(),
            module_factory=UserModule,
            settings=EvaluationSettings(max_epochs=1),
            num_threads=1,
        )


def test_supernet_trainable_refuses_a_lightning_package_callback():
    from raynas.evaluation import EvaluationError
    from raynas.oneshot import supernet_trainable
    from raynas.search_spaces import NB201CellSpace

    space = NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4, cells_per_stage=1)
    with pytest.raises(EvaluationError, match=r"`callbacks\[0\]` of supernet_trainable is a "):
        supernet_trainable({"epochs": 1}, space=space, data="digits", callbacks=[L.Callback()])
