"""Collapse detector, Hessian eigenvalue and the mitigations, without training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raynas.oneshot import (  # noqa: E402
    AuxiliarySkip,
    EigenvalueEarlyStop,
    OneShotError,
    collapse_report,
    hessian_eigenvalue,
    skip_share,
)
from raynas.search_spaces._nb201 import BEST_CELL, EDGES, parse_arch_str  # noqa: E402


def test_all_skip_cell_is_flagged_and_the_best_cell_is_not():
    report = collapse_report({e: "skip_connect" for e in EDGES})
    assert report.collapsed
    assert report.skip_share == 1.0
    assert "100% of the cell's edges are skip_connect/none" in report.reasons[0]
    healthy = collapse_report(parse_arch_str(BEST_CELL))
    assert not healthy.collapsed
    assert healthy.skip_share == pytest.approx(1 / 6)
    assert healthy.reasons == ()


def test_none_counts_like_skip_and_the_threshold_is_strict():
    cell = dict(
        zip(EDGES, ["none", "skip_connect", "skip_connect"] + ["nor_conv_3x3"] * 3, strict=True)
    )
    assert skip_share(cell) == 0.5
    assert not collapse_report(cell).collapsed  # 3 of 6 is not more than half
    cell["edge_3_0"] = "none"
    assert collapse_report(cell).collapsed


def test_a_cell_without_any_weights_is_flagged_even_with_few_skips():
    pools = {e: "avg_pool_3x3" for e in EDGES}  # what DARTS- derives on a short digits search
    report = collapse_report(pools)
    assert report.skip_share == 0.0 and report.param_free_share == 1.0
    assert report.collapsed
    assert report.reasons == (
        "100% of the cell's edges have no weights (skip_connect/none/avg_pool_3x3; more than 83%)",
    )
    one_conv = dict(pools, edge_3_2="nor_conv_1x1")
    assert collapse_report(one_conv).param_free_share == pytest.approx(5 / 6)
    assert not collapse_report(one_conv).collapsed  # 5 of 6: still has weights
    assert collapse_report(one_conv, max_param_free_share=0.5).collapsed
    with pytest.raises(
        OneShotError, match=r"`max_param_free_share` must be in \[0, 1\), but got 1"
    ):
        collapse_report(pools, max_param_free_share=1)


def test_eigenvalue_growth_flags_a_healthy_cell_whose_curvature_explodes():
    cell = parse_arch_str(BEST_CELL)
    steady = collapse_report(cell, eigenvalues=[1.0, 1.05, 1.1, 1.1])
    assert not steady.collapsed and steady.eigenvalue_growth == pytest.approx(1.1 / 1.025)
    rising = collapse_report(cell, eigenvalues=[1.0, 1.0, 2.0, 3.0])
    assert rising.collapsed and rising.eigenvalue == 3.0
    assert "grew 2.50x within 2 epochs" in rising.reasons[0]
    assert collapse_report(cell, eigenvalues=[1.0, 9.0]).eigenvalue_growth is None  # too short


def test_hessian_eigenvalue_of_a_quadratic_matches_numpy():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 5))
    a = m @ m.T + np.diag([0.0, 0.0, 0.0, 0.0, 8.0])
    at = torch.tensor(a, dtype=torch.float64)
    p = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    value = hessian_eigenvalue(lambda: 0.5 * p @ at @ p, p, iterations=200, tol=1e-10)
    assert value == pytest.approx(np.linalg.eigvalsh(a).max(), rel=1e-6)
    # a matrix-shaped parameter (like alpha) works the same
    q = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
    assert hessian_eigenvalue(lambda: 3 * q[0, 0] ** 2 + q[1, 1] ** 2, q, iterations=100) == (
        pytest.approx(6.0, rel=1e-3)
    )


def test_mitigation_schedules():
    skip = AuxiliarySkip(beta0=2.0)
    assert [skip.aux_skip(e, 4) for e in range(5)] == [2.0, 1.5, 1.0, 0.5, 0.0]
    es = EigenvalueEarlyStop(window=2, lag=2)
    assert es.rollback([1.0, 1.0, 1.1, 1.2]) is None
    assert es.rollback([1.0, 1.0, 1.5, 1.6]) == 2


def test_bad_settings_name_the_argument():
    with pytest.raises(OneShotError, match=r"`beta0` must be a number > 0, but got 0"):
        AuxiliarySkip(beta0=0)
    with pytest.raises(OneShotError, match=r"`ratio` must be a number in \(0, 1\), but got 1.5"):
        EigenvalueEarlyStop(ratio=1.5)
    with pytest.raises(OneShotError, match="`lag` must be an int >= 1, but got 0"):
        EigenvalueEarlyStop(lag=0)
    with pytest.raises(OneShotError, match=r"`max_skip_share` must be in \[0, 1\), but got 1"):
        collapse_report(parse_arch_str(BEST_CELL), max_skip_share=1)
    with pytest.raises(OneShotError, match="lacks the cell edge `edge_1_0`"):
        skip_share({})
    with pytest.raises(OneShotError, match="`iterations` must be >= 1, but got 0"):
        hessian_eigenvalue(lambda: torch.zeros(()), torch.zeros(1), iterations=0)
