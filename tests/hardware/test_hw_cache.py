from __future__ import annotations

import multiprocessing as mp
import pickle

import hw_fakes
import pytest
from hw_fakes import relu_onnx

from raynas.hardware import HardwareTarget, Measurement, MeasurementCache, ProcessRunner, measure

FAST = dict(min_runs=3, min_seconds=0.0, warmup_runs=0, energy="off")


class CountingRunner(ProcessRunner):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def run(self, fn, payload, timeout_s):
        self.calls += 1
        return super().run(fn, payload, timeout_s)


def test_second_measure_is_a_cache_hit_and_survives_reopening(tmp_path):
    runner = CountingRunner()
    try:
        t = HardwareTarget(name="cpu", **FAST)
        cache = MeasurementCache(tmp_path / "exp")
        first = measure(
            relu_onnx(),
            t,
            cache=cache,
            key="cell-a",
            config={"op": "relu"},
            runner=runner,
            route="local",
        )
        second = measure(relu_onnx(), t, cache=cache, key="cell-a", runner=runner, route="local")
        assert runner.calls == 1
        assert not first.from_cache and second.from_cache
        assert second.p50_ms == first.p50_ms and second.runs == first.runs
        # a resumed search opens the same file: still no new measurement
        reopened = MeasurementCache(tmp_path / "exp")
        third = measure(relu_onnx(), t, cache=reopened, key="cell-a", runner=runner, route="local")
        assert runner.calls == 1 and third.p50_ms == first.p50_ms
        # another target is measured; another key with the same graph is not
        t2 = HardwareTarget(name="cpu", intra_op_threads=2, **FAST)
        measure(relu_onnx(), t2, cache=reopened, key="cell-a", runner=runner, route="local")
        same = measure(relu_onnx(), t, cache=reopened, key="cell-b", runner=runner, route="local")
        assert runner.calls == 2 and same.from_cache and same.p50_ms == first.p50_ms
        assert len(reopened) == 2
        records = reopened.records(t)
        assert [c for c, _ in records] == [{"op": "relu"}]
        assert (tmp_path / "exp" / "raynas_measurements.sqlite").is_file()
    finally:
        runner.close()


def test_infeasible_results_are_cached_too(tmp_path):
    cache = MeasurementCache(tmp_path / "m.sqlite")
    t = HardwareTarget(name="cpu", verify_provider=False)
    calls = []

    def fail():
        calls.append(1)
        return Measurement.infeasible("export failed: nope", target="cpu")

    assert not cache.get_or_measure("k", t, fail).feasible
    again = cache.get_or_measure("k", t, fail)
    assert calls == [1] and again.reason == "export failed: nope" and again.from_cache


def test_concurrent_trials_measure_a_candidate_once(tmp_path):
    log = tmp_path / "log.txt"
    ctx = mp.get_context("spawn")
    with ctx.Pool(3) as pool:
        out = pool.map(hw_fakes.cache_worker, [(str(tmp_path / "exp"), str(log))] * 3)
    assert out == [1.25, 1.25, 1.25]
    assert len(log.read_text().split()) == 1


def test_cache_pickles_as_its_path(tmp_path):
    cache = MeasurementCache(tmp_path)
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.path == cache.path == tmp_path / "raynas_measurements.sqlite"
    assert repr(clone) == f"MeasurementCache({str(cache.path)!r})"


@pytest.mark.parametrize("bad", [None])
def test_get_of_unknown_key_is_none(tmp_path, bad):
    cache = MeasurementCache(tmp_path)
    assert cache.get("nothing", HardwareTarget(name="cpu")) is bad


def _mlp(seed: int, width: int = 16):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(8, width), torch.nn.ReLU(), torch.nn.Linear(width, 2)
    )


def test_one_measurement_per_inference_graph(tmp_path):
    """Candidates that differ only in training hyperparameters (so only in their weights)
    share one measurement; another architecture is measured; the candidate key is an alias
    that answers without exporting again."""
    from raynas.hardware import HardwareObjective

    t = HardwareTarget(name="cpu", input_shape=(8,), exporter="torchscript", **FAST)
    cache = MeasurementCache(tmp_path)
    runner = CountingRunner()
    try:
        a = measure(
            _mlp(0), t, cache=cache, key="lr=0.1", config={"lr": 0.1}, runner=runner, route="local"
        )
        b = measure(
            _mlp(1), t, cache=cache, key="lr=0.5", config={"lr": 0.5}, runner=runner, route="local"
        )
        assert runner.calls == 1 and b.from_cache and b.p50_ms == a.p50_ms
        assert b.std_ms == a.std_ms and a.std_ms is not None
        c = measure(_mlp(0, width=32), t, cache=cache, key="wide", runner=runner, route="local")
        assert runner.calls == 2 and not c.from_cache
        assert len(cache) == 2
        # the alias answers even for a model that would not export any more
        assert cache.get("lr=0.5", t).p50_ms == a.p50_ms
    finally:
        runner.close()
    # through the objective: the space key differs (learning rate), the measurement is shared
    hw = HardwareObjective(
        t,
        metrics=["latency_p50_ms"],
        cache=tmp_path / "obj",
        key_fn=lambda cfg: str(sorted(cfg.items())),
    )
    first = hw(_mlp(0), {"width": 16, "learning_rate": 0.1})
    second = hw(_mlp(3), {"width": 16, "learning_rate": 0.5})
    assert first == second and len(MeasurementCache(tmp_path / "obj")) == 1


def test_graph_key_ignores_weights_but_not_structure():
    import io

    import torch

    from raynas.hardware._cache import graph_key

    def onnx_of(model):
        buf = io.BytesIO()
        torch.onnx.export(model, (torch.zeros(1, 8),), buf, dynamo=False)
        return buf.getvalue()

    k0, k1 = graph_key(onnx_of(_mlp(0))), graph_key(onnx_of(_mlp(1)))
    assert k0 == k1 and k0.startswith("graph:")
    assert graph_key(onnx_of(_mlp(0, width=32))) != k0
    assert graph_key(onnx_of(_mlp(0)), weights=True) != graph_key(onnx_of(_mlp(1)), weights=True)
    assert graph_key(relu_onnx(4)) != graph_key(relu_onnx(8))  # shapes are structure
