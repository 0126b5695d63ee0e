"""Multi-objective asynchronous successive halving as a Ray Tune ``TrialScheduler``."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from ray.tune.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

from raynas import pareto
from raynas.objectives import Objective, as_objectives, total_violation
from raynas.schedulers.errors import SchedulerError

if TYPE_CHECKING:  # pragma: no cover
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.experiment import Trial

logger = logging.getLogger(__name__)

_STATE_VERSION = 1


@dataclass(frozen=True)
class ParetoEntry:
    """One trial of the current Pareto set.

    Attributes:
        trial_id: the Tune trial id.
        time: the trial's progress (``time_attr``) at its latest result.
        metrics: the objectives' values at that result (original units, not losses).
        config: the trial's config.
    """

    trial_id: str
    time: float
    metrics: dict[str, float]
    config: dict[str, Any] = field(default_factory=dict)


def _number(value: Any, name: str, *, low: float, strict: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and math.isfinite(float(value)):
        v = float(value)
        if v > low or (not strict and v == low):
            return v
    rel = ">" if strict else ">="
    raise SchedulerError(f"`{name}` must be a finite number {rel} {low}, but got {value!r}.")


class MultiObjectiveASHA(FIFOScheduler):
    """Asynchronous successive halving that promotes by Pareto rank over several objectives.

    Rungs sit at ``grace_period * reduction_factor**k`` units of ``time_attr`` up to ``max_t``
    (as in Ray's ``ASHAScheduler`` with one bracket). When a trial first reaches a rung, its
    objectives are recorded there and it is ordered among every result recorded at that rung so
    far by

    1. *constraint-domination rank* (Deb et al. 2002): feasible results are sorted into
       non-dominated fronts; every infeasible one (a broken ``Objective.constraint`` or a
       ``feasible=False`` report) ranks behind all feasible ones, by its total violation;
    2. *crowding distance* within its front, larger first (the NSGA-II tie break, favouring
       the ends and sparse parts of the front); a remaining tie goes to the arriving trial.

    It continues if it is among the first ``ceil(n / reduction_factor)`` of the ``n`` results
    of that rung, and stops otherwise. A trial reaching ``max_t`` stops (``stop_last_trials``),
    and a report with ``feasible=False`` stops its trial at once. A report that lacks an
    objective reuses the trial's last value of it (hardware metrics are often static); with no
    value at all the scheduler makes no decision for that report (like Ray's ASHA when its
    metric is missing). So measure hardware objectives before training (objective hooks with
    ``measure_at = "start"`` in ``NASTrainable``): an objective first reported after the last
    epoch leaves the rungs nothing to compare, and no trial is stopped early.

    **Compared with Syne Tune's MOASHA** (Salinas et al. 2021; Schmucker et al. 2021): both
    keep ASHA's rungs and its ``1/reduction_factor`` promotion quota and replace the scalar
    cut-off by a multi-objective ordering. Syne Tune orders a rung by non-dominated sorting and
    breaks ties inside a front with an *epsilon-net* (greedy max-min-distance picks starting
    from one preferred objective), or by linear scalarization. We chose crowding distance
    instead: it is the tie break of NSGA-II, which raynas' evolutionary strategies use too, so
    a candidate is judged the same way by the strategy and by the scheduler; it needs no
    preferred objective and is deterministic; and it is O(k n log n) per decision. We also add
    constraint domination, so that hardware budgets (``latency_p50_ms <= 5``) and failed
    candidates are handled as constraints instead of as bad objective values, and we tolerate
    reports that lack an objective (Syne Tune requires every metric in every report). The quota
    differs by rounding: Syne Tune continues the arriving trial when its 0-based position ``p``
    among the ``n`` results satisfies ``p / n <= 1 / reduction_factor`` (3 of 4 with a factor
    of 2), we when ``p < ceil(n / reduction_factor)`` (2 of 4), as in the successive-halving
    definition of keeping the top ``1/reduction_factor``.

    The scheduler keeps the latest objectives of every trial, so :meth:`pareto_set` and
    :meth:`hypervolume` report the search's progress (``debug_string`` includes both when a
    ``reference_point`` is given). :meth:`save` / :meth:`restore` write and read all of this as
    JSON.

    Args:
        objectives: the metrics to optimize: :class:`~raynas.objectives.Objective` objects or
            specs such as ``"val_acc"`` (max), ``"params:min"``, ``"latency_p50_ms <= 5"``.
        time_attr: the monotonically increasing progress attribute of the reports.
        max_t: trials stop when ``time_attr`` reaches it.
        grace_period: the first rung; no trial stops before it (except infeasible ones).
        reduction_factor: keep the best ``1/reduction_factor`` at each rung (> 1).
        stop_last_trials: stop trials at ``max_t`` (as Ray's ASHA does).
        feasible_attr: the report key that marks a failed candidate when it is ``False``.
        reference_point: objective values (original units) bounding the hypervolume shown in
            :meth:`debug_string`; a mapping by name or a sequence in objective order.

    Example:
        >>> from raynas.schedulers import MultiObjectiveASHA
        >>> sched = MultiObjectiveASHA(objectives=["val_acc", "params:min"], max_t=27,
        ...                            grace_period=1, reduction_factor=3)
        >>> sched.milestones
        [1.0, 3.0, 9.0, 27.0]
        >>> # tune.Tuner(trainable, tune_config=tune.TuneConfig(scheduler=sched)).fit()
    """

    def __init__(
        self,
        *,
        objectives: Iterable[str | Objective | Mapping[str, Any]] | str | Objective | None = None,
        time_attr: str = "training_iteration",
        max_t: float = 100,
        grace_period: float = 1,
        reduction_factor: float = 4,
        stop_last_trials: bool = True,
        feasible_attr: str = "feasible",
        reference_point: Mapping[str, float] | Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(time_attr, str) or not time_attr:
            raise SchedulerError(f"`time_attr` must be a non-empty str, but got {time_attr!r}.")
        self._max_t = _number(max_t, "max_t", low=0.0, strict=True)
        self._grace = _number(grace_period, "grace_period", low=0.0, strict=True)
        self._rf = _number(reduction_factor, "reduction_factor", low=1.0, strict=True)
        if self._grace > self._max_t:
            raise SchedulerError(
                f"`grace_period` must be <= `max_t`, but got grace_period={grace_period!r} > "
                f"max_t={max_t!r}."
            )
        self._objectives: list[Objective] = as_objectives(objectives) if objectives else []
        self._time_attr = time_attr
        self._stop_last_trials = bool(stop_last_trials)
        self._feasible_attr = feasible_attr
        self._reference = reference_point
        if reference_point is not None and self._objectives:
            self._ref_losses(reference_point)
        n_rungs = int(math.floor(math.log(self._max_t / self._grace) / math.log(self._rf) + 1e-9))
        self._milestones = [self._grace * self._rf**k for k in range(n_rungs + 1)]
        # state (plain data, see save/restore)
        self._rungs: dict[int, dict[str, dict[str, Any]]] = {
            i: {} for i in range(len(self._milestones))
        }
        self._last: dict[str, dict[str, Any]] = {}
        self._decisions: list[dict[str, Any]] = []
        self._num_stopped = 0
        self._metric = None  # no single metric: Tune's strict metric check must not apply

    # -- configuration -------------------------------------------------------------------------
    @property
    def objectives(self) -> list[Objective]:
        """The objectives, in order."""
        return list(self._objectives)

    @property
    def milestones(self) -> list[float]:
        """The rung levels, in units of ``time_attr``, ascending."""
        return list(self._milestones)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        """Every rung decision: ``{"trial_id", "rung", "milestone", "position", "size",
        "kept", "action"}`` in the order made."""
        return [dict(d) for d in self._decisions]

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Accept Tune's ``metric``/``mode`` if they name one of the objectives (or give none).

        Without objectives of its own the scheduler takes ``metric``/``mode`` as its single
        objective. A ``metric`` that is not one of the objectives is refused, so Tune reports
        the conflict.
        """
        if not self._objectives:
            if metric is None:
                return True
            self._objectives = [Objective(metric, mode or "max")]
            return True
        if metric is None:
            return True
        match = [o for o in self._objectives if o.name == metric]
        return bool(match) and (mode is None or match[0].mode == mode)

    # -- Tune hooks ----------------------------------------------------------------------------
    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        """Check that the scheduler knows what to optimize."""
        if not self._objectives:
            raise SchedulerError(
                "MultiObjectiveASHA needs `objectives` (e.g. objectives=['val_acc', "
                "'params:min']) or a `metric` and `mode` in tune.TuneConfig; it got neither."
            )

    def on_trial_result(
        self, tune_controller: TuneController, trial: Trial, result: dict[str, Any]
    ) -> str:
        """Record the result; at a rung, continue only the top ``1/reduction_factor``."""
        action = self._process(trial, result)
        if action == TrialScheduler.STOP:
            self._num_stopped += 1
        return action

    def on_trial_complete(
        self, tune_controller: TuneController, trial: Trial, result: dict[str, Any]
    ) -> None:
        """Record the final result (at the rung it reached, if not recorded yet)."""
        if result:
            self._process(trial, result)

    def on_trial_remove(self, tune_controller: TuneController, trial: Trial) -> None:
        """Nothing to forget: recorded rung results stay, as in ASHA."""

    def on_trial_error(self, tune_controller: TuneController, trial: Trial) -> None:
        """A crashed trial keeps what it recorded."""

    # -- the decision --------------------------------------------------------------------------
    def _process(self, trial: Trial, result: Mapping[str, Any]) -> str:
        t = result.get(self._time_attr)
        if t is None:
            return TrialScheduler.CONTINUE
        t = float(t)
        tid = str(trial.trial_id)
        entry = self._last.setdefault(
            tid, {"time": t, "metrics": {}, "feasible": True, "config": {}}
        )
        entry["time"] = max(entry["time"], t)
        entry["config"] = _jsonable(dict(getattr(trial, "config", {}) or {}))
        for o in self._objectives:
            if o.name in result and result[o.name] is not None:
                entry["metrics"][o.name] = _float(result[o.name])
        if result.get(self._feasible_attr, True) is False:
            if not entry["feasible"]:
                return TrialScheduler.STOP  # told again (on_trial_complete): decided already
            entry["feasible"] = False
            reason = result.get("reason", "")
            self._decisions.append(
                {"trial_id": tid, "rung": None, "milestone": None, "action": "STOP",
                 "reason": f"infeasible: {reason}" if reason else "infeasible"}
            )  # fmt: skip
            return TrialScheduler.STOP
        action = TrialScheduler.CONTINUE
        if all(o.name in entry["metrics"] for o in self._objectives):
            action = self._at_rung(tid, t, entry["metrics"])
        if t >= self._max_t and self._stop_last_trials:
            action = TrialScheduler.STOP
        return action

    def _at_rung(self, tid: str, t: float, metrics: Mapping[str, float]) -> str:
        for i in reversed(range(len(self._milestones))):
            milestone = self._milestones[i]
            recorded = self._rungs[i]
            if t < milestone:
                continue
            if tid in recorded:
                break  # the decision at the highest reached rung was made already
            row = {
                "losses": [o.loss(metrics[o.name]) for o in self._objectives],
                "violation": total_violation(self._objectives, metrics),
            }
            position, size, kept = self._position(recorded, row)
            recorded[tid] = row
            action = TrialScheduler.CONTINUE if position < kept else TrialScheduler.STOP
            self._decisions.append(
                {"trial_id": tid, "rung": i, "milestone": milestone, "position": position,
                 "size": size, "kept": kept, "action": action}
            )  # fmt: skip
            return action
        return TrialScheduler.CONTINUE

    def _position(
        self, recorded: Mapping[str, Mapping[str, Any]], row: Mapping[str, Any]
    ) -> tuple[int, int, int]:
        """Where ``row`` falls among ``recorded`` + itself, the rung size and the quota."""
        rows = [*recorded.values(), row]
        n = len(rows)
        kept = max(1, math.ceil(n / self._rf - 1e-9))
        losses = np.array([r["losses"] for r in rows], dtype=float)
        losses[~np.isfinite(losses)] = np.inf
        violations = np.array([r["violation"] for r in rows], dtype=float)
        ranks, crowd = rank_and_crowding(losses, violations)
        me = n - 1
        ahead = sum(1 for j in range(n - 1) if (ranks[j], -crowd[j]) < (ranks[me], -crowd[me]))
        return ahead, n, kept

    # -- progress ------------------------------------------------------------------------------
    def pareto_set(self, *, min_time: float | None = None) -> list[ParetoEntry]:
        """The non-dominated feasible trials by their latest results.

        Args:
            min_time: only consider trials whose progress reached this (e.g. ``max_t`` for
                fully trained candidates only).

        Returns:
            Entries sorted by the first objective's loss (best first).
        """
        ids, pts = self._feasible_points(min_time)
        if not ids:
            return []
        front = pareto.pareto_front(pts)
        front = front[np.argsort(pts[front, 0], kind="stable")]
        out = []
        for i in front:
            e = self._last[ids[i]]
            out.append(ParetoEntry(ids[i], float(e["time"]), dict(e["metrics"]), dict(e["config"])))
        return out

    def hypervolume(
        self,
        ref: Mapping[str, float] | Sequence[float] | None = None,
        *,
        min_time: float | None = None,
    ) -> float:
        """Hypervolume of :meth:`pareto_set`, bounded by ``ref`` (original units).

        Args:
            ref: the reference point: worst acceptable value of each objective, by name or in
                objective order (``{"val_acc": 0.0, "params": 1e6}``); default: the
                constructor's ``reference_point``.
            min_time: as in :meth:`pareto_set`.
        """
        ref = self._reference if ref is None else ref
        if ref is None:
            raise SchedulerError(
                "`ref` must be given (or `reference_point` at construction) to compute a "
                f"hypervolume over {[o.name for o in self._objectives]}."
            )
        ref_losses = self._ref_losses(ref)
        _, pts = self._feasible_points(min_time)
        return pareto.hypervolume(pts, ref_losses) if len(pts) else 0.0

    def _feasible_points(self, min_time: float | None) -> tuple[list[str], np.ndarray]:
        ids, rows = [], []
        for tid, e in self._last.items():
            if not e["feasible"] or (min_time is not None and e["time"] < min_time):
                continue
            m = e["metrics"]
            if not all(o.name in m for o in self._objectives):
                continue
            if total_violation(self._objectives, m) > 0:
                continue
            ids.append(tid)
            rows.append([o.loss(m[o.name]) for o in self._objectives])
        return ids, np.array(rows, dtype=float).reshape(len(rows), len(self._objectives))

    def _ref_losses(self, ref: Mapping[str, float] | Sequence[float]) -> list[float]:
        names = [o.name for o in self._objectives]
        if isinstance(ref, Mapping):
            missing = [n for n in names if n not in ref]
            if missing:
                raise SchedulerError(
                    f"the reference point must give every objective {names}, but misses "
                    f"{missing}: {dict(ref)!r}."
                )
            values = [ref[n] for n in names]
        else:
            values = list(ref)
            if len(values) != len(names):
                raise SchedulerError(
                    f"the reference point must have {len(names)} values (one per objective "
                    f"{names}), but got {len(values)}: {values!r}."
                )
        return [o.loss(_float(v)) for o, v in zip(self._objectives, values, strict=True)]

    def debug_string(self) -> str:
        """Rung sizes, stopped trials, Pareto set size (and hypervolume with a reference)."""
        rungs = ", ".join(f"{m:g}: {len(self._rungs[i])}" for i, m in enumerate(self._milestones))
        out = (
            f"MultiObjectiveASHA: {self._num_stopped} stopped; trials per rung {{{rungs}}}; "
            f"Pareto set {len(self.pareto_set())}"
        )
        if self._reference is not None and self._objectives:
            out += f", hypervolume {self.hypervolume():.6g}"
        return out

    # -- persistence ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state as JSON-able data."""
        return {
            "version": _STATE_VERSION,
            "objectives": [
                {
                    "name": o.name,
                    "mode": o.mode,
                    "constraint": list(o.constraint) if o.constraint else None,
                }
                for o in self._objectives
            ],
            "milestones": list(self._milestones),
            "time_attr": self._time_attr,
            "rungs": {str(i): r for i, r in self._rungs.items()},
            "last": self._last,
            "decisions": self._decisions,
            "num_stopped": self._num_stopped,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; the rungs and objectives must match this scheduler's."""
        if state.get("version") != _STATE_VERSION:
            raise SchedulerError(
                f"scheduler state version must be {_STATE_VERSION}, but got "
                f"{state.get('version')!r}."
            )
        names = [o["name"] for o in state["objectives"]]
        if self._objectives and names != [o.name for o in self._objectives]:
            raise SchedulerError(
                f"the saved state optimizes {names}, but this scheduler optimizes "
                f"{[o.name for o in self._objectives]}."
            )
        if [float(m) for m in state["milestones"]] != self._milestones:
            raise SchedulerError(
                f"the saved state has rungs at {state['milestones']}, but this scheduler has "
                f"them at {self._milestones}; build it with the same grace_period, "
                "reduction_factor and max_t."
            )
        if not self._objectives:
            self._objectives = [
                Objective(o["name"], o["mode"], tuple(o["constraint"]) if o["constraint"] else None)
                for o in state["objectives"]
            ]
        self._rungs = {int(i): dict(r) for i, r in state["rungs"].items()}
        self._last = {k: dict(v) for k, v in state["last"].items()}
        self._decisions = [dict(d) for d in state["decisions"]]
        self._num_stopped = int(state["num_stopped"])

    def save(self, checkpoint_path: str) -> None:
        """Write :meth:`state_dict` to ``checkpoint_path`` as JSON (Tune calls this)."""
        with open(checkpoint_path, "w") as f:
            json.dump(self.state_dict(), f)

    def restore(self, checkpoint_path: str) -> None:
        """Read a state written by :meth:`save`."""
        with open(checkpoint_path) as f:
            self.load_state_dict(json.load(f))


def rank_and_crowding(
    losses: np.ndarray, violations: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Constraint-domination rank and crowding distance (within each rank) of every row.

    Example:
        >>> r, c = rank_and_crowding(np.array([[0., 2.], [1., 1.], [2., 0.], [2., 2.]]))
        >>> r.tolist(), c.tolist()
        ([0, 0, 0, 1], [inf, 2.0, inf, inf])
    """
    ranks = pareto.non_dominated_ranks(losses, violations)
    crowd = np.zeros(len(ranks))
    for r in np.unique(ranks):
        idx = np.flatnonzero(ranks == r)
        pts = losses[idx]
        finite = np.all(np.isfinite(pts), axis=0)
        crowd[idx] = pareto.crowding_distance(pts[:, finite]) if finite.any() else np.inf
    return ranks, crowd


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=repr))
