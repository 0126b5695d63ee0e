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
        # another target or another key is measured
        t2 = HardwareTarget(name="cpu", intra_op_threads=2, **FAST)
        measure(relu_onnx(), t2, cache=reopened, key="cell-a", runner=runner, route="local")
        measure(relu_onnx(), t, cache=reopened, key="cell-b", runner=runner, route="local")
        assert runner.calls == 3
        assert len(reopened) == 3
        records = reopened.records(t)
        assert [c for c, _ in records] == [{"op": "relu"}, None]
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
