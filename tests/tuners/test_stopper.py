"""``max_consecutive_failed_trials``: the stopper counts failed candidates in a row."""

from __future__ import annotations

from raynas.tuners._stopper import ConsecutiveFailures


def test_failures_in_a_row_stop_the_search_and_a_trained_candidate_resets_the_count() -> None:
    stop = ConsecutiveFailures(2)
    stop("a", {"feasible": False, "reason": "build failed"})
    stop("b", {"feasible": True, "epoch": 1})  # trains: the count starts over
    stop("b", {"feasible": False, "reason": "nan later"})  # one candidate counts once
    stop("c", {"feasible": False, "reason": "out of memory"})
    assert not stop.stop_all()
    assert stop("d", {"feasible": False, "reason": "nan"}) is False  # no trial is stopped alone
    assert stop.stop_all() and stop.reasons[-2:] == ["c: out of memory", "d: nan"]
