"""Objective specs: parsing, and refusing what is not one (no Ray, no torch)."""

from __future__ import annotations

import math

import pytest

from raynas.objectives import Objective, ObjectiveError, as_objectives


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("val_acc", Objective("val_acc", "max")),
        ("val_loss:min", Objective("val_loss", "min")),
        ("latency_p50_ms <= 5", Objective("latency_p50_ms", "min", ("<=", 5.0))),
        ("latency_p50_ms<=5", Objective("latency_p50_ms", "min", ("<=", 5.0))),
        ("val/acc >= 0.9", Objective("val/acc", "max", (">=", 0.9))),
        ("edge_energy_j < 1e-3", Objective("edge_energy_j", "min", ("<", 1e-3))),
        ({"name": "lat", "constraint": "<= 2"}, Objective("lat", "min", ("<=", 2.0))),
    ],
)
def test_specs_parse(spec, expected) -> None:
    assert Objective.parse(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "latency_p50_ms <= fast",  # not a number
        "latency_p50_ms <= nan",  # never holds: every candidate would be infeasible
        "latency_p50_ms <= 1e999",  # inf: never binds
        "latency_p50_ms <= 0.9.5",
        "latency_p50_ms =< 5",  # not an operator
        "val_acc = 0.9",
        "val_acc == 0.9",
        "<= 5",  # no name
        {"name": "lat", "constraint": "<= x"},
    ],
)
def test_a_malformed_constraint_is_refused_with_the_form_it_must_take(spec) -> None:
    # before, most of these became an objective *named* e.g. "latency_p50_ms <= fast", which no
    # candidate reports: the search ran and ended with every candidate infeasible
    with pytest.raises(ObjectiveError, match=r"must read `NAME OP BOUND` with OP one of \["):
        Objective.parse(spec)


@pytest.mark.parametrize("bound", [True, math.nan, math.inf, "5"])
def test_a_constraint_bound_must_be_a_finite_number(bound) -> None:
    with pytest.raises(ObjectiveError, match="a finite number as bound, but got"):
        Objective("lat", "min", ("<=", bound))


def test_names_must_be_unique_and_present() -> None:
    with pytest.raises(ObjectiveError, match="unique"):
        as_objectives(["val_acc", "val_acc:min"])
    with pytest.raises(ObjectiveError, match="at least one"):
        as_objectives([])


@pytest.mark.parametrize(
    ("spec", "mode"),
    [
        ({"name": "lat", "constraint": "<= 2"}, "min"),
        ({"name": "lat", "constraint": ["<", 2]}, "min"),
        ({"name": "acc", "constraint": ">= 0.9"}, "max"),
        ({"name": "lat", "mode": "max", "constraint": "<= 2"}, "max"),  # a stated mode wins
    ],
)
def test_a_dict_constraint_without_a_mode_takes_its_direction_like_the_string_form(
    spec, mode
) -> None:
    # a "<=" constraint asks for less; it must not maximize latency inside the bound
    assert Objective.parse(spec).mode == mode
