"""Progress reporting: Tune's table with raynas columns and a Pareto status line.

:class:`NASReporter` is a Tune ``CLIReporter`` whose table shows the objectives, feasibility and
epoch, preceded by a line with the number of finished candidates, infeasible ones, the current
Pareto set size and its hypervolume. Tune's legacy output engine must be active for a custom
reporter (``RAY_AIR_NEW_OUTPUT=0``); :func:`raynas.search` sets it for its own run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from raynas.objectives import Objective, total_violation
from raynas.pareto import hypervolume, losses, non_dominated_ranks


class ParetoTracker:
    """Keeps the last result of every trial and answers front size and hypervolume."""

    def __init__(self, objectives: Sequence[Objective]) -> None:
        self.objectives = list(objectives)
        self.results: dict[str, dict[str, Any]] = {}
        self.finished: set[str] = set()

    def update(self, trial_id: str, result: dict[str, Any], done: bool = False) -> None:
        self.results[trial_id] = result
        if done:
            self.finished.add(trial_id)

    def feasible(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.results.values()
            if r.get("feasible", True) is not False and total_violation(self.objectives, r) == 0
        ]

    def front(self) -> list[dict[str, Any]]:
        pool = self.feasible()
        if not pool:
            return []
        pts = losses(self.objectives, pool)
        keep = np.all(np.isfinite(pts), axis=1)
        pool = [r for r, k in zip(pool, keep, strict=True) if k]
        if not pool:
            return []
        ranks = non_dominated_ranks(pts[keep])
        return [r for r, rank in zip(pool, ranks, strict=True) if rank == 0]

    def hypervolume(self) -> float:
        pool = self.feasible()
        if not pool:
            return 0.0
        pts = losses(self.objectives, pool)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if not len(pts):
            return 0.0
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return hypervolume(pts, hi + 0.1 * np.maximum(hi - lo, 1e-12))

    def status(self) -> str:
        infeasible = sum(
            1
            for t in self.finished
            if self.results[t].get("feasible", True) is False
            or total_violation(self.objectives, self.results[t]) > 0
        )
        hv = self.hypervolume()
        return (
            f"raynas: {len(self.finished)} candidates finished ({infeasible} infeasible), "
            f"Pareto set {len(self.front())}, hypervolume {hv:.4g}"
            + ("" if math.isfinite(hv) else "")
        )


def make_reporter(
    objectives: Sequence[Objective], budget: int, *, max_report_frequency: int = 15
) -> Any:
    """A Tune ``CLIReporter`` with raynas columns and a Pareto status line."""
    from ray.tune import CLIReporter

    class NASReporter(CLIReporter):
        def __init__(self) -> None:
            columns = {o.name: o.name for o in objectives}
            columns.update({"epoch": "epoch", "feasible": "feasible"})
            super().__init__(
                metric_columns=columns,
                max_progress_rows=12,
                max_report_frequency=max_report_frequency,
                sort_by_metric=False,
            )
            self.tracker = ParetoTracker(objectives)

        def report(self, trials: list[Any], done: bool, *sys_info: str) -> None:
            for t in trials:
                if t.last_result:
                    self.tracker.update(t.trial_id, t.last_result, t.status == "TERMINATED")
            print(f"{self.tracker.status()} of a budget of {budget}")
            super().report(trials, done, *sys_info)

    return NASReporter()
