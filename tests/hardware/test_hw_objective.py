from __future__ import annotations

import pickle

import pytest
import torch

from raynas.hardware import (
    HardwareObjective,
    HardwareTarget,
    MeasurementCache,
    TargetError,
    with_hardware,
)
from raynas.hardware._constraints import parse_constraint, total_violation, violation

FAST = dict(min_runs=3, min_seconds=0.0, warmup_runs=0, energy="off", exporter="torchscript")


def _target(**kw):
    return HardwareTarget(**{"name": "cpu", "input_shape": (8,), **FAST, **kw})


def test_objective_reports_metrics_constraints_and_uses_the_cache(tmp_path):
    hw = HardwareObjective(
        _target(),
        metrics=("latency_p50_ms", "energy_j"),
        constraints=["latency_p90_ms <= 1000", "params <= 10"],
        cache=tmp_path,
    )
    assert hw.constraints == ["latency_p90_ms <= 1000", "params <= 10"]
    assert hw.metrics == (
        "latency_p50_ms",
        "energy_j",
        "latency_p90_ms",
        "params",
        "latency_std_ms",
    )
    model = torch.nn.Linear(8, 2)  # 18 params: breaks `params <= 10` by 8
    out = hw(model, {"units": 2, "learning_rate": 0.1})
    assert set(out) == {
        "latency_p50_ms",
        "energy_j",
        "latency_p90_ms",
        "params",
        "hw_violation",
        "latency_std_ms",  # every latency comes with its spread
    }
    assert out["latency_p50_ms"] > 0 and out["energy_j"] is None and out["params"] == 18
    assert out["latency_std_ms"] is not None and out["latency_std_ms"] >= 0
    assert out["hw_violation"] == pytest.approx(8.0)
    assert "feasible" not in out  # a success never overrides a training failure
    # same architecture, other learning rate: served from the cache, not measured again
    assert hw(model, {"units": 2, "learning_rate": 0.5}) == out
    assert len(MeasurementCache(tmp_path)) == 1


def test_infeasible_candidate_and_prefix():
    class Eigh(torch.nn.Module):
        def forward(self, x):
            return torch.linalg.eigh(x.reshape(-1, 2, 4) @ x.reshape(-1, 4, 2))[0]

    hw = HardwareObjective(
        _target(), metrics=["latency_p50_ms"], prefix="edge_", constraints=["latency_p50_ms <= 5"]
    )
    out = hw(Eigh(), {})
    assert out["feasible"] is False
    assert out["reason"].startswith("cpu: export failed: torchscript exporter:")
    assert out["edge_latency_p50_ms"] is None
    assert out["edge_hw_violation"] == float("inf")
    assert hw.constraints == ["edge_latency_p50_ms <= 5"]


def test_keys():
    class Space:
        def key(self, config):
            return "space:" + str(sorted(config))

    class ArchSpace(Space):
        def arch_key(self, config):
            return "arch"

    t = _target()
    assert HardwareObjective(t, space=Space()).key({"a": 1}) == "space:['a']"
    assert HardwareObjective(t, space=ArchSpace()).key({"a": 1}) == "arch"
    assert HardwareObjective(t, key_fn=lambda c: "mine").key({"a": 1}) == "mine"
    plain = HardwareObjective(t)
    assert plain.key({"b": 1, "a": [1, 2], "learning_rate": 3}) == '{"a":[1,2],"b":1}'


def test_objective_pickles_for_trials(tmp_path):
    hw = HardwareObjective(_target(), cache=tmp_path, constraints=["latency_p50_ms <= 5"])
    clone = pickle.loads(pickle.dumps(hw))
    assert clone.target == hw.target and clone.cache.path == hw.cache.path
    assert clone.constraints == hw.constraints
    assert "latency_p50_ms <= 5" in repr(clone)


def test_errors():
    t = _target()
    with pytest.raises(
        TargetError,
        match=r"`metrics` must be a non-empty list among \[.*'latency_p50_ms'.*\], but got \['latency'\]",
    ):
        HardwareObjective(t, metrics=["latency"])
    with pytest.raises(TargetError, match=r"constraint metric 'speed' must be one of"):
        HardwareObjective(t, constraints=["speed <= 3"])
    with pytest.raises(
        TargetError,
        match=r"a constraint must look like 'metric <= bound' with an operator among \['<=', '>=', '<', '>'\], but got 'latency_p50_ms == 5'",
    ):
        HardwareObjective(t, constraints=["latency_p50_ms == 5"])
    with pytest.raises(TargetError, match=r"`target` must be a HardwareTarget, but got str"):
        HardwareObjective("cpu")
    with pytest.raises(TargetError, match=r"`route` must be one of"):
        HardwareObjective(t, route="fast")
    with pytest.raises(TargetError, match="quantization='static', which needs `calibration`"):
        HardwareObjective(_target(quantization="static", name="q"))
    with pytest.raises(TargetError, match="must be a HardwareObjective or a list of them"):
        with_hardware(lambda c: None, [])


def test_constraint_helpers():
    assert parse_constraint("energy_j>=0.5") == ("energy_j", ">=", 0.5)
    assert parse_constraint(("a", "<", 1)) == ("a", "<", 1.0)
    assert violation("<=", 5, 7.5) == 2.5 and violation(">=", 5, 7.5) == 0.0
    assert violation("<", 5, 5.0) > 0 and violation("<=", 5, None) == float("inf")
    assert total_violation([("a", "<=", 1.0), ("b", ">=", 2.0)], {"a": 2.0, "b": 1.0}) == 2.0


@pytest.mark.ray
@pytest.mark.slow
def test_wrapping_a_users_tune_trainable(ray_session, tmp_path):
    from ray import tune

    def _user_trainable(config):
        """A user's own Tune function trainable: trains, reports, returns its model.

        (Defined here so Ray pickles it by value: workers cannot import test modules.)
        """
        torch.manual_seed(0)
        model = torch.nn.Linear(8, config["out"])
        tune.report({"val_acc": 0.5, "epoch": 1})
        return {"model": model, "val_acc": 0.75}

    hw = HardwareObjective(
        _target(),
        metrics=["latency_p50_ms", "params"],
        constraints=["latency_p50_ms <= 10000"],
        cache=tmp_path / "cache",
    )
    tuner = tune.Tuner(
        hw.wrap(_user_trainable),
        param_space={"out": tune.grid_search([2, 3])},
        run_config=tune.RunConfig(storage_path=str(tmp_path / "results"), name="wrap", verbose=0),
    )
    results = tuner.fit()
    assert not results.errors
    finals = sorted((r.metrics["params"], r.metrics) for r in results)
    assert [p for p, _ in finals] == [18, 27]
    for _, m in finals:
        assert m["val_acc"] == 0.75 and m["latency_p50_ms"] > 0 and m["hw_violation"] == 0.0
    assert len(MeasurementCache(tmp_path / "cache")) == 2


def test_wrapper_refuses_a_trainable_without_model():
    hw = HardwareObjective(_target())
    with pytest.raises(
        TargetError, match=r"must return its trained torch model .* but it returned int"
    ):
        hw.wrap(lambda config: 3)({})
    with pytest.raises(TargetError, match=r"returned a dict without the key 'model'"):
        hw.wrap(lambda config: {"val_acc": 1.0})({})
