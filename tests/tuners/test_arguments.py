"""Every wrong argument of a tuner or of its search() is refused by name, before Ray starts."""

from __future__ import annotations

import pytest
from torch import nn
from tuner_models import build_model, digits

from raynas import ConfigError
from raynas.tuners import BayesianOptimization, GridSearch, Hyperband, Objective, RandomSearch


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (
            RandomSearch,
            {"max_trails": 3},
            r"`max_trails` is not an argument.*did you mean `max_trials`",
        ),
        (
            RandomSearch,
            {"optimizer": "adam"},
            r"`optimizer` is a KerasTuner argument.*hp.Choice\('optimizer'",
        ),
        (
            RandomSearch,
            {"distribution_strategy": 1},
            r"`distribution_strategy`.*resources_per_trial",
        ),
        (RandomSearch, {"max_trials": 0}, r"`max_trials` must be an int >= 1, but got 0"),
        (RandomSearch, {"seed": -1}, r"`seed` must be an int >= 0, but got -1"),
        (RandomSearch, {"overwrite": "yes"}, r"`overwrite` must be True or False"),
        (RandomSearch, {"project_name": "a/b"}, r"`project_name` must be a folder name"),
        (
            RandomSearch,
            {"max_consecutive_failed_trials": 0},
            r"`max_consecutive_failed_trials` must be an int >= 1",
        ),
        (
            RandomSearch,
            {"objective": "val_f1"},
            r"`objective` = 'val_f1': cannot infer whether to minimize",
        ),
        (RandomSearch, {"objective": []}, r"`objective` must name at least one metric"),
        (RandomSearch, {"objective": ["val_accuracy", "val_acc"]}, r"names a metric twice"),
        (RandomSearch, {"objective": "val_accuracy >= x"}, r"`objective`: constraint"),
        (RandomSearch, {"strategy": "anneal"}, r"`strategy` must be one of \["),
        (RandomSearch, {"options": {"budjet": 3}}, r"`options.budjet` is not an option.*`budget`"),
        (RandomSearch, {"options": {"budget": 3}}, r"`options.budget` is set by the tuner"),
        (GridSearch, {"strategy": "random"}, r"`strategy` of GridSearch is the grid"),
        (BayesianOptimization, {"alpha": 1e-4}, r"`alpha` is a setting of KerasTuner's Gaussian"),
        (
            BayesianOptimization,
            {"num_initial_points": 0},
            r"`num_initial_points` must be an int >= 1",
        ),
        (Hyperband, {"factor": 1}, r"`factor` must be an int >= 2, but got 1"),
        (Hyperband, {"max_epochs": 0}, r"`max_epochs` must be an int >= 1"),
        (Hyperband, {"hyperband_iterations": 0}, r"`hyperband_iterations` must be an int >= 1"),
        (Hyperband, {"max_trials": 5}, r"`max_trials` is not an argument of Hyperband"),
        (Hyperband, {"options": {"scheduler": "asha"}}, r"`options.scheduler` of Hyperband"),
    ],
)
def test_constructor_arguments_are_refused_by_name(tmp_path, cls, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        cls(build_model, directory=str(tmp_path), **kwargs)
    assert not list(tmp_path.iterdir()), "nothing may be written before the arguments are checked"


def test_objective_directions_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"`Objective.direction` of `val_f1` must be one of"):
        Objective("val_f1", "up")


def test_a_hypermodel_that_is_not_a_model_function_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"`hypermodel` must be a function build_model"):
        RandomSearch(42, directory=str(tmp_path))
    with pytest.raises(
        ConfigError, match=r"`hypermodel`: build_model must return a torch.nn.Module"
    ):
        RandomSearch(lambda hp: hp.Int("units", 1, 2) and None, directory=str(tmp_path))


def test_training_hyperparameters_the_trainer_cannot_use_are_refused(tmp_path) -> None:
    def with_rmsprop(hp):
        hp.Choice("optimizer", ["adam", "rmsprop"])
        return build_model(hp)

    with pytest.raises(
        ConfigError,
        match=r"`optimizer` feeds the trainer.*must be one of \['adam', 'adamw', 'sgd'\], but got 'rmsprop'",
    ):
        RandomSearch(with_rmsprop, directory=str(tmp_path))


def test_a_lightning_module_from_build_model_says_how_to_train_it(tmp_path) -> None:
    import pytorch_lightning as pl

    class Module(pl.LightningModule):
        def __init__(self, units):
            super().__init__()
            self.net = nn.Linear(64, units)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, i):  # pragma: no cover - never trained
            return None

        def configure_optimizers(self):  # pragma: no cover
            return None

    with pytest.raises(ConfigError, match=r"returned a LightningModule.*module_factory"):
        RandomSearch(lambda hp: Module(hp.Int("units", 8, 16)), directory=str(tmp_path))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"callbacks": []}, r"`search\(callbacks=...\)`: weak candidates are stopped"),
        ({"epochz": 3}, r"`epochz` is not an argument of search\(\) \(did you mean `epochs`\?\)"),
        ({"epochs": 0}, r"`epochs` must be an int >= 1"),
        ({"validation_split": 1.5}, r"`validation_split` must be a number in \(0, 1\)"),
        (
            {"validation_split": 0.2, "validation_data": "v"},
            r"give `validation_data` or `validation_split`",
        ),
        ({"validation_data": (1, 2, 3)}, r"`validation_data` must be a pair \(x, y\)"),
        ({"batch_size": 0}, r"`batch_size` must be an int >= 1"),
        ({"data_kwargs": {"x_val": 1}}, r"`data_kwargs.x_val` is set by search\(\)"),
    ],
)
def test_search_arguments_are_refused_by_name(tmp_path, kwargs, message) -> None:
    tuner = RandomSearch(build_model, directory=str(tmp_path), max_trials=2)
    x, y = digits()["train"]
    with pytest.raises(ConfigError, match=message):
        tuner.search(x, y, **kwargs)
    assert not list(tmp_path.iterdir())


def test_search_needs_data_and_takes_no_splits_with_a_datamodule(tmp_path) -> None:
    from raynas.data import get_datamodule

    tuner = RandomSearch(build_model, directory=str(tmp_path))
    with pytest.raises(ConfigError, match=r"`x` must be given"):
        tuner.search()
    with pytest.raises(ConfigError, match=r"`y` must be given with array `x`"):
        tuner.search(digits()["train"][0])
    with pytest.raises(ConfigError, match=r"`validation_split` cannot be used with a DataModule"):
        tuner.search(get_datamodule("digits"), validation_split=0.3)


def test_batch_size_given_twice_is_refused(tmp_path) -> None:
    def with_batch(hp):
        hp.Choice("batch_size", [16, 32])
        return build_model(hp)

    tuner = RandomSearch(with_batch, directory=str(tmp_path))
    x, y = digits()["train"]
    with pytest.raises(ConfigError, match=r"`batch_size` is given to search\(\) and asked for"):
        tuner.search(x, y, batch_size=8)


def test_a_grid_over_an_unbounded_decision_is_refused_by_name(tmp_path) -> None:
    def wide(hp):
        hp.Int("width", 1, 100_000)
        return build_model(hp)

    tuner = GridSearch(wide, directory=str(tmp_path))
    x, y = digits()["train"]
    with pytest.raises(
        ConfigError, match=r"`hypermodel`: GridSearch needs a finite grid, but `width`"
    ):
        tuner.search(x, y)


def test_results_before_a_search_say_what_to_do(tmp_path) -> None:
    tuner = RandomSearch(build_model, directory=str(tmp_path))
    with pytest.raises(ConfigError, match=r"there are no results yet: run search\(\) first"):
        tuner.get_best_hyperparameters()


def test_overwrite_refuses_to_delete_a_folder_that_is_not_a_search(tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    tuner = RandomSearch(build_model, directory=str(tmp_path), project_name="mine", overwrite=True)
    x, y = digits()["train"]
    with pytest.raises(ConfigError, match=r"`overwrite=True` would delete .*not a raynas search"):
        tuner.search(x, y)
    assert (tmp_path / "mine" / "notes.txt").exists()
