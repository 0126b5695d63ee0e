"""CandidateModule: joint NAS + HPO settings from the config, tasks, user modules and data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from raynas.data import ArrayDataModule
from raynas.evaluation import (
    CandidateModule,
    EvaluationError,
    EvaluationSettings,
    InMemoryReporter,
    run_candidate,
    training_hparams,
)
from raynas.search_spaces import Int, SearchSpace
from tests.evaluation.helpers import TinyMLPSpace


@pytest.mark.parametrize(
    ("config", "opt_cls", "lr", "wd"),
    [
        ({}, torch.optim.Adam, 1e-3, 0.0),
        (
            {"optimizer": "adamw", "learning_rate": 0.01, "weight_decay": 0.1},
            torch.optim.AdamW,
            0.01,
            0.1,
        ),
        ({"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.5}, torch.optim.SGD, 0.1, 0.0),
    ],
)
def test_optimizer_learning_rate_and_weight_decay_come_from_the_config(config, opt_cls, lr, wd):
    out = CandidateModule(nn.Linear(4, 3), config).configure_optimizers()
    opt = out["optimizer"]
    assert type(opt) is opt_cls
    assert opt.param_groups[0]["lr"] == lr and opt.param_groups[0]["weight_decay"] == wd
    if opt_cls is torch.optim.SGD:
        assert opt.param_groups[0]["momentum"] == 0.5
    assert "lr_scheduler" not in out


@pytest.mark.parametrize(("name", "cls"), [("cosine", "CosineAnnealingLR"), ("step", "StepLR")])
def test_lr_schedules(name, cls):
    out = CandidateModule(
        nn.Linear(4, 3), {"lr_schedule": name}, max_epochs=9
    ).configure_optimizers()
    sched = out["lr_scheduler"]["scheduler"]
    assert type(sched).__name__ == cls and out["lr_scheduler"]["interval"] == "epoch"
    if name == "cosine":
        assert sched.T_max == 9
    else:
        assert sched.step_size == 3 and sched.gamma == 0.1


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"learning_rate": 0}, r"`learning_rate` must be a positive number, but got 0"),
        ({"weight_decay": -1.0}, r"`weight_decay` must be a number >= 0, but got -1.0"),
        ({"batch_size": 0}, r"`batch_size` must be an int >= 1, but got 0"),
        ({"batch_size": 32.0}, r"`batch_size` must be an int >= 1, but got 32.0"),
        ({"optimizer": "rmsprop"}, r"`optimizer` must be one of \['adam', 'adamw', 'sgd'\]"),
        (
            {"lr_schedule": "linear"},
            r"`lr_schedule` must be one of \['constant', 'cosine', 'step'\]",
        ),
        ({"momentum": 1.0}, r"`momentum` must be a number in \[0, 1\), but got 1.0"),
    ],
)
def test_bad_training_keys_name_the_key_value_and_choices(config, expected):
    with pytest.raises(EvaluationError, match=expected):
        training_hparams(config)


def test_numpy_scalars_from_searchers_are_accepted():
    hp = training_hparams({"batch_size": np.int64(32), "learning_rate": np.float64(0.01)})
    assert hp["batch_size"] == 32 and type(hp["batch_size"]) is int


def test_bad_module_arguments():
    with pytest.raises(EvaluationError, match=r"`task` must be one of \['classification', 'regr"):
        CandidateModule(nn.Linear(4, 3), {}, task="ranking")
    with pytest.raises(EvaluationError, match=r"`model` must be a torch.nn.Module, but got str"):
        CandidateModule("net", {})


class _LinearSpace(SearchSpace):
    input_shape = (5,)
    num_classes = None

    def __init__(self):
        super().__init__({"hidden": Int(0, 8)})

    def build(self, config):
        c = self.validate(config)
        if c["hidden"] == 0:
            return nn.Linear(5, 1)
        return nn.Sequential(nn.Linear(5, c["hidden"]), nn.ReLU(), nn.Linear(c["hidden"], 1))


def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.1 * rng.normal(size=400)).astype(np.float32)
    return ArrayDataModule(x, y, task="regression")


def test_regression_task_reports_val_mae_and_learns():
    reporter = InMemoryReporter()
    run_candidate(
        {"hidden": 0, "learning_rate": 0.05},
        space=_LinearSpace(),
        datamodule=_regression_data(),
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=8),
        num_threads=1,
    )
    first, last = reporter.reports[0], reporter.reports[-1]
    assert "val_mae" in last and "val_acc" not in last
    assert last["val_loss"] < first["val_loss"] and last["val_mae"] < 0.5 * first["val_mae"]


class _LoggingModule(pl.LightningModule):
    """A user's own LightningModule that logs the metrics raynas reports."""

    def __init__(self, config, log_acc=True):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(64, config["width"]), nn.ReLU(), nn.Linear(config["width"], 10)
        )
        self.lr, self.log_acc = config["learning_rate"], log_acc

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        loss = nn.functional.cross_entropy(self(batch[0]), batch[1])
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch, _):
        out = self(batch[0])
        self.log("val_loss", nn.functional.cross_entropy(out, batch[1]))
        if self.log_acc:
            self.log("val_acc", (out.argmax(-1) == batch[1]).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def test_a_user_lightning_module_factory_is_trained_and_reported(digits):
    space = TinyMLPSpace()
    reporter = InMemoryReporter()
    run_candidate(
        {**space.default_config(), "width": 64},
        space=space,
        datamodule=digits,
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=2),
        num_threads=1,
        module_factory=_LoggingModule,
    )
    assert [r["epoch"] for r in reporter.reports] == [1, 2]
    last = reporter.reports[-1]
    assert last["feasible"] and last["val_acc"] > 0.5
    assert last["params"] == 64 * 64 + 64 + 64 * 10 + 10


def test_a_user_module_that_does_not_log_the_metrics_is_an_error(digits):
    space = TinyMLPSpace()
    with pytest.raises(
        EvaluationError,
        match=r"must log \['train_loss', 'val_loss', 'val_acc'\]"
        r".*missing \['val_acc'\]",
    ):
        run_candidate(
            {**space.default_config(), "width": 64},
            space=space,
            datamodule=digits,
            reporter=InMemoryReporter(),
            settings=EvaluationSettings(max_epochs=1),
            module_factory=lambda c: _LoggingModule(c, log_acc=False),
            num_threads=1,
        )


class _PlainDataModule(pl.LightningDataModule):
    """A user's DataModule with a ``batch_size`` attribute and nothing raynas-specific."""

    def __init__(self):
        super().__init__()
        from sklearn.datasets import load_digits

        d = load_digits()
        self.x = torch.tensor(d.images[:, None] / 16.0, dtype=torch.float32)
        self.y = torch.tensor(d.target)
        self.batch_size = 10

    def train_dataloader(self):
        ds = torch.utils.data.TensorDataset(self.x[:1000], self.y[:1000])
        return torch.utils.data.DataLoader(ds, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        ds = torch.utils.data.TensorDataset(self.x[1000:], self.y[1000:])
        return torch.utils.data.DataLoader(ds, batch_size=256)


def test_a_user_datamodule_gets_the_batch_size_and_train_fraction():
    def steps(model, config):
        return {"train_steps": model.calls}

    from tests.evaluation.helpers import FaultySpace

    dm = _PlainDataModule()
    reporter = InMemoryReporter()
    run_candidate(
        {"mode": "ok", "at_step": 100, "batch_size": 100, "train_fraction": 0.5},
        space=FaultySpace(),
        datamodule=dm,
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=1),
        objectives=[steps],
        num_threads=1,
    )
    assert reporter.reports[-1]["train_steps"] == 5  # half of 1000 / 100
    assert dm.batch_size == 10  # the user's object itself is left as it was
    assert math.isfinite(reporter.reports[-1]["val_loss"])


def test_user_callbacks_in_trainer_kwargs_run_beside_the_reporting_one():
    """`trainer_kwargs={"callbacks": [...]}` replaced raynas's reporting callback: the
    candidate trained and reported nothing. Both run now."""
    from raynas.data import get_datamodule

    class EpochCounter(pl.Callback):
        epochs = 0

        def on_train_epoch_end(self, trainer, pl_module):
            EpochCounter.epochs += 1

    reporter = InMemoryReporter()
    config = {"width": 32, "depth": 1, "dropout": 0.0, "learning_rate": 0.01, "batch_size": 64}
    run_candidate(
        config,
        space=TinyMLPSpace(),
        datamodule=get_datamodule("digits"),
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=2),
        trainer_kwargs={"callbacks": [EpochCounter()]},
        num_threads=1,
    )
    assert EpochCounter.epochs == 2
    assert [r["epoch"] for r in reporter.reports] == [1, 2] and reporter.reports[-1]["feasible"]
