"""The fidelity a trial reached when a scheduler stopped it: what a searcher should tell.

A trial stopped early by ASHA, HyperBand, BOHB or :class:`MultiObjectiveASHA` ends with a
result measured after fewer epochs than a full training. A raynas ``Searcher`` adapter tells
that result to its strategy together with the fidelity it reached, so that the strategy can
treat it as a low-fidelity observation (for example: rank it only against results of the same
fidelity, or keep it out of a surrogate model trained on full-fidelity results) instead of
mistaking a truncated learning curve for a bad architecture.

Example:
    >>> from raynas.schedulers import MultiObjectiveASHA, budget_of, reached_fidelity
    >>> sched = MultiObjectiveASHA(objectives=["val_acc"], max_t=27, reduction_factor=3)
    >>> budget_of(sched)
    ('training_iteration', 27.0)
    >>> reached_fidelity({"training_iteration": 9}, *budget_of(sched))
    0.3333333333333333
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raynas.schedulers.errors import SchedulerError


def budget_of(scheduler: Any) -> tuple[str, float] | None:
    """``(time_attr, max_t)`` of a scheduler with a per-trial budget, else None.

    Knows Ray's ``ASHAScheduler``/``AsyncHyperBandScheduler``, ``HyperBandScheduler``,
    ``HyperBandForBOHB``, ``MedianStoppingRule`` (no budget: None) and raynas'
    :class:`MultiObjectiveASHA`; population-based schedulers have no per-trial budget (None).
    """
    if scheduler is None:
        return None
    time_attr = getattr(scheduler, "_time_attr", None)
    for attr in ("_max_t", "_max_t_attr"):
        max_t = getattr(scheduler, attr, None)
        if time_attr and isinstance(max_t, (int, float)) and not isinstance(max_t, bool):
            return str(time_attr), float(max_t)
    return None


def reached_fidelity(result: Mapping[str, Any], time_attr: str, max_t: float) -> float:
    """The share of the full budget behind ``result``: ``result[time_attr] / max_t`` in [0, 1].

    Raises:
        SchedulerError: when ``result`` lacks ``time_attr`` or ``max_t`` is not positive.
    """
    if not max_t > 0:
        raise SchedulerError(f"`max_t` must be > 0, but got {max_t!r}.")
    if time_attr not in result or result[time_attr] is None:
        raise SchedulerError(
            f"the result has no `{time_attr}` (its keys are {sorted(result)}); the fidelity "
            "of a result is measured in the scheduler's `time_attr`."
        )
    return float(min(max(float(result[time_attr]) / float(max_t), 0.0), 1.0))
