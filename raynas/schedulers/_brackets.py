"""KerasTuner's Hyperband brackets on Ray Tune, promoted trials continuing from their weights.

KerasTuner's Hyperband (``HyperbandOracle``) and Ray's :class:`~ray.tune.schedulers.HyperBandScheduler`
share the idea, not the numbers: for ``max_epochs=10, factor=3`` KerasTuner runs brackets of 12,
6 and 4 models from 2, 4 and 10 epochs (30 trainings, 120 epochs), Ray 9, 5 and 3 from 1, 3 and
10. :class:`KerasTunerHyperband` is Ray's scheduler with KerasTuner's bracket sizes and epoch
milestones (:func:`keras_brackets`), so a search ported from KerasTuner trains the same models
for the same epochs. Ray pauses a trial at its milestone and resumes the promoted ones from
their checkpoints, as KerasTuner's ``tuner/initial_epoch`` continues a model from its weights.

With several objectives the trials of a round are ranked by Pareto rank, then crowding
distance (:func:`~raynas.schedulers.rank_and_crowding`), instead of KerasTuner's sum.

Example:
    >>> keras_brackets(10, 3)
    [([12, 4, 2], [2, 4, 10]), ([6, 2], [4, 10]), ([4], [10])]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ray.tune.schedulers.hyperband import HyperBandScheduler, _Bracket

from raynas.objectives import Objective, as_objectives
from raynas.schedulers.errors import SchedulerError


def keras_brackets(max_epochs: int, factor: int) -> list[tuple[list[int], list[int]]]:
    """KerasTuner's brackets, largest first: per bracket the number of models in each round and
    the epochs each round trains them to (cumulative), as ``HyperbandOracle`` computes them."""
    _check(max_epochs, factor)
    count, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs /= factor
        count += 1
    end0 = math.ceil(1 + math.log(max_epochs, factor))
    out = []
    for b in range(count - 1, -1, -1):
        end = end0 / (b + 1)
        sizes = [math.ceil(end * factor ** (b - r)) for r in range(b + 1)]
        milestones = [math.ceil(max_epochs / factor ** (b - r)) for r in range(b + 1)]
        out.append((sizes, milestones))
    return out


def _check(max_epochs: Any, factor: Any) -> None:
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
        raise SchedulerError(f"`max_epochs` must be an int >= 1, but got {max_epochs!r}.")
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
        raise SchedulerError(f"`factor` must be an int >= 2, but got {factor!r}.")


class _Rounds(_Bracket):
    """One bracket with explicit round sizes and milestones (Ray's is geometric)."""

    def __init__(
        self,
        *,
        time_attr: str,
        sizes: Sequence[int],
        milestones: Sequence[int],
        max_t: int,
        factor: int,
        objectives: Sequence[Objective],
    ) -> None:
        super().__init__(
            time_attr=time_attr,
            max_trials=sizes[0],
            init_t_attr=milestones[0],
            max_t_attr=max_t,
            eta=factor,
            s=len(sizes) - 1,
        )
        self._sizes, self._milestones, self._round = list(sizes), list(milestones), 0
        self._objectives = list(objectives)
        steps = [milestones[0], *(b - a for a, b in zip(milestones, milestones[1:], strict=False))]
        self._total_work = sum(n * e for n, e in zip(sizes, steps, strict=True))

    def successive_halving(self, metric: str, metric_op: float) -> tuple[list[Any], list[Any]]:
        """Keep the best ``sizes[round + 1]`` trials, to train on to the next milestone."""
        if self._halves <= 0:
            raise SchedulerError("the bracket has no round left to promote to.")
        self._halves -= 1
        self._round += 1
        self._n = self._sizes[self._round]
        self._r = self._cumul_r = self._milestones[self._round]
        trials = list(self._live_trials)
        order = rank(self._objectives, [self._live_trials[t] for t in trials])
        ranked = [trials[i] for i in order]
        return ranked[: self._n], ranked[self._n :]


def rank(objectives: Sequence[Objective], results: Sequence[Mapping[str, Any] | None]) -> list[int]:
    """Indices of ``results``, best first: infeasible last, then by the first objective (one
    objective) or by Pareto rank and crowding distance (several)."""
    from raynas.schedulers._moasha import rank_and_crowding

    losses = np.full((len(results), len(objectives)), np.inf)
    for i, r in enumerate(results):
        if not r or r.get("feasible") is False:
            continue
        for j, o in enumerate(objectives):
            try:
                v = float(r.get(o.name))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if math.isfinite(v):
                losses[i, j] = o.loss(v)
    if len(objectives) == 1:
        return sorted(range(len(results)), key=lambda i: losses[i, 0])
    ranks, crowd = rank_and_crowding(losses)
    return sorted(range(len(results)), key=lambda i: (ranks[i], -crowd[i], losses[i, 0]))


class KerasTunerHyperband(HyperBandScheduler):
    """Ray Tune's HyperBand with KerasTuner's brackets (``max_epochs``, ``factor``,
    ``hyperband_iterations``); several objectives promote by Pareto rank.

    A trial is paused at its round's milestone; the best of a round resume from their
    checkpoints (the trainable must restore from ``tune.get_checkpoint()``, as
    :class:`~raynas.evaluation.NASTrainable` does), the others stop. Run it with
    ``num_samples=scheduler.num_trials`` and a search algorithm that lets at least
    ``scheduler.max_bracket`` trials be live at once: paused trials count as live.

    Args:
        objectives: what to rank by, e.g. ``["val_acc"]`` or ``["val_acc", "latency_p50_ms:min"]``.
        max_epochs: the epochs of a model trained to the end (KerasTuner's ``max_epochs``).
        factor: the reduction factor between rounds (KerasTuner's ``factor``).
        hyperband_iterations: how many times the whole set of brackets runs.
        time_attr: the reported count of epochs.

    Example:
        >>> sched = KerasTunerHyperband(objectives=["val_acc"], max_epochs=10, factor=3)
        >>> sched.num_trials, sched.max_bracket
        (22, 12)
    """

    def __init__(
        self,
        *,
        objectives: Sequence[str | Objective],
        max_epochs: int,
        factor: int = 3,
        hyperband_iterations: int = 1,
        time_attr: str = "training_iteration",
    ) -> None:
        _check(max_epochs, factor)
        if (
            isinstance(hyperband_iterations, bool)
            or not isinstance(hyperband_iterations, int)
            or hyperband_iterations < 1
        ):
            raise SchedulerError(
                f"`hyperband_iterations` must be an int >= 1, but got {hyperband_iterations!r}."
            )
        objs = as_objectives(objectives)
        super().__init__(
            time_attr=time_attr,
            metric=objs[0].name,
            mode=objs[0].mode,
            max_t=max_epochs,
            reduction_factor=factor,
        )
        self.objectives = objs
        self.factor = factor
        self.hyperband_iterations = hyperband_iterations
        self.brackets = keras_brackets(max_epochs, factor)
        self._s_max_1 = len(self.brackets)
        self._get_n0 = self._first_size
        self._get_r0 = self._first_milestone

    def _first_size(self, s: int) -> int:
        return self.brackets[s][0][0]

    def _first_milestone(self, s: int) -> int:
        return self.brackets[s][1][0]

    @property
    def num_trials(self) -> int:
        """Models trained from scratch: the first rounds of every bracket, every iteration."""
        return sum(sizes[0] for sizes, _ in self.brackets) * self.hyperband_iterations

    @property
    def max_bracket(self) -> int:
        """The largest first round: how many trials may be live (running or paused) at once."""
        return max(sizes[0] for sizes, _ in self.brackets)

    def total_epochs(self) -> int:
        """Epochs trained over the whole search when every round fills up."""
        total = 0
        for sizes, milestones in self.brackets:
            before = 0
            for n, m in zip(sizes, milestones, strict=True):
                total, before = total + n * (m - before), m
        return total * self.hyperband_iterations

    def _create_bracket(self, s: int) -> _Bracket:
        sizes, milestones = self.brackets[s]
        return _Rounds(
            time_attr=self._time_attr,
            sizes=sizes,
            milestones=milestones,
            max_t=self._max_t_attr,
            factor=self.factor,
            objectives=self.objectives,
        )
