from __future__ import annotations

import hw_fakes
import numpy as np
import onnx
import pytest
from hw_fakes import hung_onnx_model, relu_onnx

from raynas.hardware import (
    HardwareTarget,
    Measurement,
    ProcessRunner,
    ProviderUnavailableError,
    TargetError,
    measure,
)

FAST = dict(min_runs=5, min_seconds=0.0, warmup_runs=1, energy="off")


@pytest.fixture(scope="module")
def runner():
    r = ProcessRunner()
    yield r
    r.close()


def test_measure_torch_module(runner):
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    t = HardwareTarget(
        name="cpu",
        input_shape=(8,),
        batch_size=2,
        exporter="torchscript",
        percentiles=(75, 99),
        **FAST,
    )
    m = measure(model, t, runner=runner, route="local")
    assert m.feasible and m.reason is None
    assert m.provider == m.requested_provider == "CPUExecutionProvider"
    assert m.runs >= 5 and m.batch_size == 2
    assert m.intra_op_threads == 1 and m.inter_op_threads == 1
    assert 0 < m.p50_ms <= m.p90_ms and m.mean_ms > 0 and m.std_ms >= 0
    assert set(m.percentiles) == {50.0, 75.0, 90.0, 99.0}
    assert m.percentiles[50.0] == m.p50_ms
    assert m.params == 8 * 16 + 16 + 16 * 2 + 2
    assert m.flops == 2 * (8 * 16 + 16 * 2)
    assert m.exporter == "torchscript" and m.parity_max_abs_diff < 1e-4
    assert m.model_size_bytes > 0 and m.wall_s > 0
    assert m.energy_j is None and m.energy_source is None
    assert "energy='off'" in m.energy_unavailable_reason
    assert m.peak_memory_bytes is not None and m.memory_source.startswith("process peak RSS")
    assert m.onnxruntime_version and m.hostname
    assert Measurement.from_dict(m.to_dict()) == m
    metrics = m.metrics()
    assert metrics["latency_p50_ms"] == m.p50_ms and metrics["feasible"] is True


def test_measure_onnx_bytes_path_and_proto(runner, tmp_path):
    data = relu_onnx(width=6, batch=3)
    t = HardwareTarget(name="cpu", batch_size=3, **FAST)
    path = tmp_path / "relu.onnx"
    path.write_bytes(data)
    for model in (data, str(path), path, onnx.load_from_string(data)):
        m = measure(model, t, runner=runner, route="local")
        assert m.feasible and m.exporter is None and m.flops is None and m.params == 0
        assert m.model_size_bytes == len(data)


def test_io_binding_path(runner):
    t = HardwareTarget(name="cpu", io_binding=True, **FAST)
    m = measure(relu_onnx(), t, runner=runner, route="local")
    assert m.feasible and m.runs >= 5


def test_symbolic_dims_come_from_the_target(runner, tmp_path):
    import torch

    path = tmp_path / "dyn.onnx"
    torch.onnx.export(
        torch.nn.Linear(5, 2),
        (torch.randn(1, 5),),
        str(path),
        dynamo=False,
        input_names=["x"],
        dynamic_axes={"x": {0: "batch"}},
    )
    m = measure(
        path, HardwareTarget(name="cpu", batch_size=4, **FAST), runner=runner, route="local"
    )
    assert m.feasible and m.batch_size == 4
    with pytest.raises(
        TargetError,
        match=r"`batch_size` of HardwareTarget `cpu` is 2, but the model's input `x` has a static batch of 1",
    ):
        measure(
            relu_onnx(),
            HardwareTarget(name="cpu", batch_size=2, **FAST),
            runner=runner,
            route="local",
        )
    with pytest.raises(
        TargetError,
        match=r"`input_shape` of HardwareTarget `cpu` is \(5,\), but the model's input `x` has shape \[1, 4\]",
    ):
        measure(
            relu_onnx(),
            HardwareTarget(name="cpu", input_shape=(5,), **FAST),
            runner=runner,
            route="local",
        )


def test_missing_provider_raises_where_it_runs(runner):
    t = HardwareTarget(
        name="trt", provider="TensorrtExecutionProvider", verify_provider=False, **FAST
    )
    with pytest.raises(
        ProviderUnavailableError,
        match=r"'TensorrtExecutionProvider', which this onnxruntime build does not have; available providers: \[.*'CPUExecutionProvider'",
    ):
        measure(relu_onnx(), t, runner=runner, route="local")


def test_fallback_records_the_provider_actually_used(runner):
    t = HardwareTarget(name="gpu", provider="CUDAExecutionProvider", allow_fallback=True, **FAST)
    m = measure(relu_onnx(), t, runner=runner, route="local")
    assert m.feasible
    assert m.requested_provider == "CUDAExecutionProvider"
    assert m.provider == "CPUExecutionProvider"


def test_torch_model_needs_input_shape(runner):
    import torch

    with pytest.raises(
        TargetError,
        match=r"`input_shape` of HardwareTarget `cpu` is None; measuring a torch module needs it",
    ):
        measure(torch.nn.Linear(2, 2), HardwareTarget(name="cpu", **FAST), runner=runner)


def test_bad_arguments(runner, tmp_path):
    t = HardwareTarget(name="cpu", **FAST)
    with pytest.raises(
        TargetError, match=r"`route` must be one of \['auto', 'local', 'ray'\], but got 'gpu'"
    ):
        measure(relu_onnx(), t, route="gpu")
    with pytest.raises(TargetError, match=r"`target` must be a HardwareTarget, but got dict"):
        measure(relu_onnx(), {"name": "cpu"})
    with pytest.raises(
        TargetError, match=r"`model` is the path .*missing.onnx', which is not a file"
    ):
        measure(str(tmp_path / "missing.onnx"), t)
    m = measure(b"not an onnx model", t, runner=runner)
    assert not m.feasible and m.reason.startswith("not a readable ONNX model")


def test_hung_session_times_out_and_the_next_measurement_works(runner):
    t = HardwareTarget(name="cpu", timeout_s=3.0, **FAST)
    before = runner.run(hw_fakes.echo_pid, None, 60)[1]
    m = measure(hung_onnx_model(), t, runner=runner, route="local")
    assert not m.feasible
    assert m.reason.startswith("timeout: the measurement took longer than timeout_s=3 s")
    assert m.p50_ms is None and m.target == "cpu"
    # the hung process was killed; a fresh one measures the next candidate
    ok = measure(relu_onnx(), t, runner=runner, route="local")
    assert ok.feasible
    assert runner.run(hw_fakes.echo_pid, None, 60)[1] != before


def test_fake_runner_that_sleeps_times_out(runner):
    t = HardwareTarget(name="cpu", timeout_s=1.0, **FAST)
    m = measure(relu_onnx(), t, runner=runner, route="local", worker_fn=hw_fakes.sleepy_worker)
    assert not m.feasible and m.reason.startswith("timeout:")


def test_crash_and_error_are_infeasible_results(runner):
    t = HardwareTarget(name="cpu", **FAST)
    crash = measure(
        relu_onnx(), t, runner=runner, route="local", worker_fn=hw_fakes.crashing_worker
    )
    assert not crash.feasible
    assert crash.reason == "crash: the measuring process died (exit code 7)."
    err = measure(relu_onnx(), t, runner=runner, route="local", worker_fn=hw_fakes.failing_worker)
    assert not err.feasible
    assert err.reason == "measurement failed: RuntimeError: the provider exploded"
    assert measure(relu_onnx(), t, runner=runner, route="local").feasible


def test_runner_pickles_as_settings_and_reports_errors():
    import pickle

    r = ProcessRunner(startup_timeout_s=30.0)
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.startup_timeout_s == 30.0 and r2.pid is None
    try:
        kind, exc, name, msg, _tb = r2.run(int, "x", timeout_s=60)
        assert kind == "error" and isinstance(exc, ValueError) and name == "ValueError"
        assert "invalid literal" in msg
        assert r2.run(np.sqrt, 16.0, timeout_s=60) == ("ok", 4.0)
    finally:
        r2.close()
    assert r2.pid is None


def test_measuring_process_imports_raynas_from_where_its_parent_did(tmp_path, monkeypatch):
    """Seen on a GPU machine: a script run from a source checkout, with raynas installed as a
    wheel, started its measuring process with `python -m` in the checkout, whose `raynas/`
    folder shadowed the installed package, and the process did not start. The child now
    takes the parent's sys.path: a decoy `raynas` in the working directory is never seen."""
    import raynas

    decoy = tmp_path / "raynas"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the decoy raynas was imported')\n")
    monkeypatch.chdir(tmp_path)
    r = ProcessRunner(startup_timeout_s=60.0)
    try:
        assert r.run(hw_fakes.raynas_location, None, timeout_s=60) == ("ok", raynas.__file__)
    finally:
        r.close()
