"""Fakes for driving Tune schedulers without a Ray cluster (as Ray's own scheduler tests do)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ray.tune.experiment import Trial


class FakeController:
    """The part of ``TuneController`` that schedulers call."""

    search_alg = None

    def __init__(self, trials: Iterable[Trial] = ()) -> None:
        self.trials = list(trials)

    def get_trials(self) -> list[Trial]:
        return self.trials


def make_trials(n: int, **config: Any) -> list[Trial]:
    """``n`` stub trials (no trainable is ever started)."""
    return [Trial("__fake", config={"i": i, **config}, stub=True) for i in range(n)]


def curve(final: float, t: int, speed: float = 2.0) -> float:
    """A saturating learning curve: ``final * (1 - exp(-t / speed))``."""
    return final * (1.0 - math.exp(-t / speed))


def drive(
    scheduler: Any,
    trials: list[Trial],
    finals: list[tuple[float, float]],
    *,
    max_t: int,
    start: int = 1,
    stopped: dict[str, int] | None = None,
) -> dict[str, int]:
    """Round-robin epochs over the live trials: ``val_acc`` follows ``curve`` to ``final_acc``,
    ``params`` is fixed. Returns ``{trial_id: last time reported}`` of stopped trials."""
    ctrl = FakeController(trials)
    stopped = {} if stopped is None else stopped
    if start == 1:
        for trial in trials:
            scheduler.on_trial_add(ctrl, trial)
    for t in range(start, max_t + 1):
        for trial, (acc, params) in zip(trials, finals, strict=True):
            if trial.trial_id in stopped:
                continue
            result = {"training_iteration": t, "val_acc": curve(acc, t), "params": params}
            action = scheduler.on_trial_result(ctrl, trial, result)
            if action == "STOP":
                stopped[trial.trial_id] = t
    return stopped
