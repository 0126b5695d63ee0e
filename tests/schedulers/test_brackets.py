"""KerasTunerHyperband has KerasTuner's brackets, and promotes by Pareto rank with several
objectives (without Ray: the brackets are plain numbers)."""

from __future__ import annotations

import pytest

from raynas.objectives import Objective
from raynas.schedulers import KerasTunerHyperband, SchedulerError, keras_brackets
from raynas.schedulers._brackets import rank


def test_the_brackets_are_kerastuners() -> None:
    # HyperbandOracle._get_size / _get_epochs, worked out by hand for these settings
    assert keras_brackets(10, 3) == [([12, 4, 2], [2, 4, 10]), ([6, 2], [4, 10]), ([4], [10])]
    assert keras_brackets(2, 2) == [([2, 1], [1, 2]), ([2], [2])]
    assert keras_brackets(27, 3)[0] == ([27, 9, 3, 1], [1, 3, 9, 27])
    sched = KerasTunerHyperband(objectives=["val_acc"], max_epochs=10, factor=3)
    assert (sched.num_trials, sched.max_bracket, sched.total_epochs()) == (22, 12, 120)
    twice = KerasTunerHyperband(objectives=["val_acc"], max_epochs=10, hyperband_iterations=2)
    assert twice.num_trials == 44


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_epochs": 0}, r"`max_epochs` must be an int >= 1"),
        ({"max_epochs": 10, "factor": 1}, r"`factor` must be an int >= 2"),
        ({"max_epochs": 10, "hyperband_iterations": 0}, r"`hyperband_iterations` must be an int"),
    ],
)
def test_bad_settings_are_refused(kwargs, message) -> None:
    with pytest.raises(SchedulerError, match=message):
        KerasTunerHyperband(objectives=["val_acc"], **kwargs)


def test_ranking_one_objective_puts_failures_last() -> None:
    acc = [Objective("val_acc", "max")]
    results = [{"val_acc": 0.5}, {"val_acc": 0.9, "feasible": False}, {"val_acc": 0.7}, None]
    assert rank(acc, results)[:2] == [2, 0]


def test_ranking_several_objectives_is_by_pareto_rank_not_a_sum() -> None:
    objs = [Objective("val_acc", "max"), Objective("latency", "min")]
    results = [
        {"val_acc": 0.90, "latency": 5.0},  # front
        {"val_acc": 0.80, "latency": 6.0},  # dominated by 0
        {"val_acc": 0.70, "latency": 1.0},  # front: the fastest
    ]
    order = rank(objs, results)
    assert set(order[:2]) == {0, 2} and order[2] == 1
