"""raynas.pareto: fronts with ties within the measurement spread, normalized hypervolume."""

from __future__ import annotations

import numpy as np
import pytest

from raynas.objectives import Objective
from raynas.pareto import losses, normalized_hypervolume, pareto_front, spreads

OBJS = [Objective("val_acc", "max"), Objective("latency_p50_ms", "min")]


def test_a_faster_candidate_within_the_spread_ties_and_falls_off_the_front():
    # the README's case: the same network at two learning rates, 6% apart in latency
    ms = [
        {"val_acc": 0.90, "latency_p50_ms": 0.0067, "latency_std_ms": 0.0008},
        {"val_acc": 0.84, "latency_p50_ms": 0.0063, "latency_std_ms": 0.0009},
        {"val_acc": 0.70, "latency_p50_ms": 0.0030, "latency_std_ms": 0.0004},
    ]
    pts = losses(OBJS, ms)
    assert pareto_front(pts).tolist() == [0, 1, 2]
    sp = spreads(OBJS, ms)
    assert sp.tolist() == [[0.0, 0.0008], [0.0, 0.0009], [0.0, 0.0004]]
    assert pareto_front(pts, spread=sp).tolist() == [0, 2]  # 0.0004 ms faster is a tie
    # spreads of zero are plain dominance
    assert pareto_front(pts, spread=np.zeros_like(pts)).tolist() == [0, 1, 2]


def test_spreads_follow_a_targets_prefix_and_ignore_missing_values():
    objs = [Objective("val_acc", "max"), Objective("ov_latency_p90_ms", "min")]
    ms = [{"ov_latency_std_ms": 0.5}, {"ov_latency_std_ms": None}, {"latency_std_ms": 1.0}]
    assert spreads(objs, ms).tolist() == [[0.0, 0.5], [0.0, 0.0], [0.0, 0.0]]


def test_infinite_losses_never_dominate_within_a_spread():
    pts = np.array([[np.inf, 1.0], [0.5, 2.0]])
    assert pareto_front(pts, spread=np.full((2, 2), 0.1)).tolist() == [0, 1]


def test_normalized_hypervolume_is_unit_free_with_its_reference_point():
    ms = [
        {"val_acc": 0.9, "latency_p50_ms": 2.0},
        {"val_acc": 0.8, "latency_p50_ms": 1.0},
        {"val_acc": 0.7, "latency_p50_ms": 1.5},  # dominated
    ]
    hv = normalized_hypervolume(OBJS, ms)
    scaled = normalized_hypervolume(
        OBJS, [{**m, "latency_p50_ms": m["latency_p50_ms"] * 1000} for m in ms]
    )
    assert 0 < hv.value < 1 and hv.value == pytest.approx(scaled.value)
    assert hv.names == ("val_acc", "latency_p50_ms")
    assert hv.ideal == pytest.approx((0.9, 1.0)) and hv.reference == pytest.approx((0.68, 2.1))
    assert hv.raw == pytest.approx(hv.value * 0.22 * 1.1)
    assert str(hv).startswith(f"hypervolume {hv.value:.4f} (normalized; reference point ")
    assert "val_acc=0.68, latency_p50_ms=2.1" in str(hv)
    # a front of the single best-in-both point fills the whole box
    best = normalized_hypervolume(OBJS, ms, front=[{"val_acc": 0.9, "latency_p50_ms": 1.0}])
    assert best.value == pytest.approx(1.0)


def test_normalized_hypervolume_of_nothing_and_a_bad_margin():
    assert normalized_hypervolume(OBJS, [{"val_acc": None}]).value == 0.0
    with pytest.raises(ValueError, match=r"`margin` must be a finite number > 0, but got 0"):
        normalized_hypervolume(OBJS, [], margin=0)
