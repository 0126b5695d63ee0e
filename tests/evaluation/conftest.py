"""Fixtures of the evaluation tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def digits():
    """The digits DataModule (1,437 / 180 / 180), built once."""
    from raynas.data import DigitsDataModule

    return DigitsDataModule()


@pytest.fixture
def recorder():
    """A Tune callback keeping every result the driver receives, per trial id."""
    from ray import tune

    class Recorder(tune.Callback):
        def __init__(self) -> None:
            self.results: dict[str, list[dict]] = {}

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.results.setdefault(trial.trial_id, []).append(dict(result))

    return Recorder()
