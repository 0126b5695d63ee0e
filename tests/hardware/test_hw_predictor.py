from __future__ import annotations

import numpy as np
import pytest

from raynas.hardware import (
    HardwareTarget,
    LatencyPredictor,
    Measurement,
    MeasurementCache,
    TargetError,
)
from raynas.hardware._predictor import report

OPS = ["none", "skip", "conv1", "conv3", "pool"]
COST = {"none": 0.0, "skip": 0.05, "conv1": 0.6, "conv3": 1.8, "pool": 0.3}


def _cells(n, seed):
    rng = np.random.default_rng(seed)
    return [{f"edge_{k}": OPS[rng.integers(5)] for k in range(6)} for _ in range(n)]


def _encode(cfg):
    v = np.zeros(30)
    for k in range(6):
        v[k * 5 + OPS.index(cfg[f"edge_{k}"])] = 1.0
    return v


def _latency(cfgs, seed=0, noise=0.01):
    rng = np.random.default_rng(seed)
    y = np.array([1.0 + sum(COST[c[f"edge_{k}"]] for k in range(6)) for c in cfgs])
    return y * (1 + noise * rng.standard_normal(len(y)))


@pytest.mark.parametrize(
    ("estimator", "log_target", "within"),
    [("gp", False, 0.9), ("ridge", False, 0.9), ("gbm", True, 0.5)],
)
def test_learns_additive_latency_and_reports_its_accuracy(estimator, log_target, within):
    train, test = _cells(150, 0), _cells(300, 1)
    p = LatencyPredictor(
        estimator=estimator, n_models=3, encode=_encode, log_target=log_target, seed=0
    )
    p.fit(train, _latency(train))
    rep = p.evaluate(test, _latency(test, seed=1))
    assert rep.n == 300
    # trees need more data than a linear model for an additive cost; both rank well
    assert rep.within_10pct >= within and rep.spearman >= 0.95, str(rep)
    assert 0 <= rep.mape < 0.1
    assert "within±10%=" in str(rep)


def test_uncertainty_and_screening():
    train = _cells(120, 0)
    p = LatencyPredictor(estimator="ridge", n_models=5, encode=_encode, log_target=False, seed=3)
    p.fit(train, _latency(train))
    slow = {f"edge_{k}": "conv3" for k in range(6)}  # ~11.8 ms
    fast = {f"edge_{k}": "skip" for k in range(6)}  # ~1.3 ms
    mean, std = p.predict([slow, fast], return_std=True)
    assert mean[0] == pytest.approx(11.8, rel=0.1) and mean[1] == pytest.approx(1.3, rel=0.1)
    assert np.all(std > 0)
    assert p.screen([slow, fast], "latency_p50_ms <= 5").tolist() == [False, True]
    assert p.screen([slow, fast], 5.0).tolist() == [False, True]
    assert p.screen([slow, fast], (">=", 5.0)).tolist() == [True, False]
    # a wide enough margin keeps everything that is not certain to break the constraint
    assert p.screen([slow, fast], "latency_p50_ms <= 5", z=1e6).tolist() == [True, True]


def test_single_model_has_no_spread_and_update_adds_data():
    train = _cells(40, 0)
    p = LatencyPredictor(estimator="ridge", n_models=1, encode=_encode).fit(train, _latency(train))
    assert p.predict(train[:3], return_std=True)[1].tolist() == [0.0, 0.0, 0.0]
    more = _cells(10, 5)
    p.update(more, _latency(more))
    assert p.n_seen == 50


def test_seed_matters_and_repeats():
    train = _cells(60, 0)
    y = _latency(train, noise=0.1)
    a = LatencyPredictor(estimator="ridge", n_models=3, encode=_encode, seed=1).fit(train, y)
    b = LatencyPredictor(estimator="ridge", n_models=3, encode=_encode, seed=1).fit(train, y)
    c = LatencyPredictor(estimator="ridge", n_models=3, encode=_encode, seed=2).fit(train, y)
    test = _cells(20, 9)
    assert np.array_equal(a.predict(test), b.predict(test))
    assert not np.array_equal(a.predict(test), c.predict(test))


def test_from_cache(tmp_path):
    cache = MeasurementCache(tmp_path)
    t = HardwareTarget(name="cpu")
    cells = _cells(30, 0)
    for i, (c, y) in enumerate(zip(cells, _latency(cells), strict=True)):
        cache.put(f"k{i}", t, Measurement(feasible=True, p50_ms=float(y)), config=c)
    cache.put("bad", t, Measurement.infeasible("timeout"), config=cells[0])
    p = LatencyPredictor.from_cache(cache, t, encode=_encode, estimator="ridge", n_models=2)
    assert p.n_seen == 30


def test_errors():
    with pytest.raises(
        TargetError,
        match=r"`estimator` must be one of \['gp', 'gbm', 'ridge', 'mlp', 'forest'\] .* but got 'svm'",
    ):
        LatencyPredictor(estimator="svm")
    with pytest.raises(TargetError, match=r"`n_models` must be an int >= 1, but got 0"):
        LatencyPredictor(n_models=0)
    p = LatencyPredictor(estimator="ridge")
    with pytest.raises(TargetError, match="not fit yet"):
        p.predict(np.zeros((1, 3)))
    with pytest.raises(
        TargetError, match=r"latencies must be > 0 with log_target=True, but got \[0.0\]"
    ):
        LatencyPredictor(estimator="ridge", log_target=True).fit(np.eye(3), [1.0, 0.0, 2.0])
    with pytest.raises(TargetError, match="at least 2 measurements, but got 1"):
        p.fit(np.eye(1), [1.0])
    with pytest.raises(TargetError, match=r"got 3 candidates but 2 latencies"):
        p.fit(np.eye(3), [1.0, 2.0])
    with pytest.raises(TargetError, match=r"features must be a 2-D array .* shape \(3,\)"):
        p.fit(np.ones(3), [1.0, 2.0, 3.0])
    with pytest.raises(TargetError, match=r"a constraint must look like 'metric <= bound'"):
        LatencyPredictor(estimator="ridge").fit(np.eye(3), [1, 2, 3]).screen(np.eye(3), "fast")


def test_report_numbers():
    rep = report(np.array([1.0, 2.19, 2.9, 5.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert rep.within_10pct == 0.75 and rep.spearman == pytest.approx(1.0)
