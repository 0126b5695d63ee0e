"""KerasTuner's ``max_consecutive_failed_trials`` as a Tune stopper (imports Ray)."""

from __future__ import annotations

from typing import Any

from ray.tune.stopper import Stopper


class ConsecutiveFailures(Stopper):
    """Stop the whole search after ``limit`` failed candidates in a row.

    A candidate fails when its report says ``feasible=False`` (it did not build, its loss
    became NaN, it ran out of memory...); one that reports a trained epoch resets the count.

    Example:
        >>> stop = ConsecutiveFailures(2)
        >>> stop("a", {"feasible": False, "reason": "build failed"}), stop.stop_all()
        (False, False)
        >>> stop("b", {"feasible": False, "reason": "nan"}), stop.stop_all()
        (False, True)
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.count, self.tripped = limit, 0, False
        self.reasons: list[str] = []
        self._seen: set[str] = set()

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if trial_id in self._seen:
            return False
        self._seen.add(trial_id)
        if result.get("feasible") is False:
            self.count += 1
            self.reasons.append(f"{trial_id}: {result.get('reason')}")
            self.tripped = self.tripped or self.count >= self.limit
        else:  # a candidate that trains resets the count
            self.count = 0
        return False

    def stop_all(self) -> bool:
        return self.tripped
