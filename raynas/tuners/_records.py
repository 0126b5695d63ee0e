"""KerasTuner's views of a search's results: trials, the oracle, the best hyperparameters."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raynas.objectives import Objective
from raynas.search_spaces import HyperParameters


def hyperparameters(config: Mapping[str, Any]) -> HyperParameters:
    """A ``hp`` holding ``config``: ``.values``, ``.get(name)``, and ``build_model(hp)`` builds it."""
    hp = HyperParameters(values=config)
    hp.values.update(dict(config))
    return hp


@dataclass
class Trial:
    """One candidate as KerasTuner shows a trial.

    Attributes:
        trial_id: the Tune trial's id.
        hyperparameters: its values (``.values``, ``.get(name)``).
        score: the first objective's value in its last report (NaN if it has none).
        status: ``"COMPLETED"`` (trained to its last round), ``"STOPPED"`` (stopped early by the
            scheduler) or ``"FAILED"`` (infeasible: ``reason`` says why).
        metrics: everything it reported last (raynas's names), test metrics once evaluated.
        best_step: the epochs it trained.
        reason: why it failed ("" otherwise).
        candidate: the :class:`~raynas.results.Candidate` behind it.
    """

    trial_id: str
    hyperparameters: HyperParameters
    score: float
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    best_step: int = 0
    reason: str = ""
    candidate: Any = None


def trials_of(results: Any, max_epochs: int) -> list[Trial]:
    """Every candidate of ``results`` as a :class:`Trial`, in the order they were run."""
    first = results.objectives[0]
    out = []
    for c in results.candidates:
        epochs = int(c.metrics.get("epoch") or 0)
        status = "FAILED" if not c.feasible else "COMPLETED"
        if c.feasible and epochs < max_epochs:
            status = "STOPPED"
        out.append(
            Trial(
                trial_id=c.trial_id,
                hyperparameters=hyperparameters(c.config),
                score=c.value(first.name),
                status=status,
                metrics=dict(c.metrics),
                best_step=epochs,
                reason=c.reason,
                candidate=c,
            )
        )
    return out


def ranked(results: Any) -> list[Any]:
    """Feasible candidates, best first: the Pareto front (by the first objective), then the
    rest by the first objective; one objective: by it alone."""
    first = results.objectives[0]
    pool = [c for c in results.feasible() if math.isfinite(c.value(first.name))]
    front = results.pareto_front() if len(results.objectives) > 1 else []
    ids = {c.trial_id for c in front}
    rest = sorted(
        (c for c in pool if c.trial_id not in ids), key=lambda c: first.loss(c.value(first.name))
    )
    return [*front, *rest]


class Oracle:
    """KerasTuner's ``tuner.oracle``: the objective and the trials of the search."""

    def __init__(
        self, objectives: Sequence[Objective], trials: Sequence[Trial], best: Sequence[Any]
    ) -> None:
        self._ranked = list(best)  # candidates, best first
        self.objectives = list(objectives)
        self.objective = self.objectives[0] if len(self.objectives) == 1 else self.objectives
        self.trials: dict[str, Trial] = {t.trial_id: t for t in trials}

    def get_trial(self, trial_id: str) -> Trial:
        """The trial with this id."""
        if trial_id not in self.trials:
            raise KeyError(f"no trial {trial_id!r}; the trials are {sorted(self.trials)}.")
        return self.trials[trial_id]

    def get_best_trials(self, num_trials: int = 1) -> list[Trial]:
        """The best trials, best first (see :func:`ranked`)."""
        best = [t for t in self.trials.values() if t.status != "FAILED"]
        order = {id(c): i for i, c in enumerate(self._ranked)}
        best = [t for t in best if id(t.candidate) in order]
        return sorted(best, key=lambda t: order[id(t.candidate)])[:num_trials]


def summary_lines(trial: Trial, objectives: Sequence[Objective]) -> list[str]:
    lines = [f"Trial {trial.trial_id} summary", "Hyperparameters:"]
    lines += [f"{k}: {v}" for k, v in trial.hyperparameters.values.items()]
    for o in objectives:
        value = trial.metrics.get(o.name)
        lines.append(f"{o.name}: {value:.6g}" if isinstance(value, float) else f"{o.name}: {value}")
    if trial.status != "COMPLETED":
        lines.append(f"Status: {trial.status}" + (f" ({trial.reason})" if trial.reason else ""))
    lines.append(f"Score: {trial.score:.6g}")
    return lines
