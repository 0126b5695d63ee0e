"""The measurement protocol, run inside the measuring process (onnxruntime and numpy only).

:func:`run_job` is what the worker process executes for one measurement: create the session with
explicit threads, check the provider actually used, check output parity against torch, warm up,
time runs (at least ``min_runs`` and ``min_seconds``) with the energy meter around them, and read
the process's peak memory. It never imports torch.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._energy import MIN_WINDOW_S, EnergyMeter, make_meter, measure_idle_power
from ._target import GPU_DEVICE_TYPES, HardwareTarget
from .errors import ProviderUnavailableError, TargetError

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
_OPT_LEVELS = {"disable": 0, "basic": 1, "extended": 2, "all": 99}
MEMORY_SOURCE = "process peak RSS (VmHWM) above RSS before session creation"


def run_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """Measure one ONNX model; returns :class:`Measurement` fields as a dict.

    Args:
        job: ``onnx`` (model bytes), ``target`` (``HardwareTarget.to_dict()``), optional
            ``reference`` (``input``, ``outputs``, ``rtol``, ``atol``: torch's outputs for the
            parity check), optional ``quant`` (``calibration``, ``eval_x``, ``eval_y``) for
            quantized targets, optional ``meter`` (an :class:`EnergyMeter`, for tests) and
            ``rapl_root``.

    Raises:
        ProviderUnavailableError: the provider is missing (or failed to initialize) and the
            target does not allow fallback.
        TargetError: the model's inputs do not fit the target (batch, shape).
    """
    import onnxruntime as ort

    t_start = time.perf_counter()
    target = HardwareTarget.from_dict(job["target"], verify_provider=False)
    available = list(ort.get_available_providers())
    requested_ok = target.check_provider(available)
    out: dict[str, Any] = {
        "feasible": True,
        "target": target.name,
        "requested_provider": target.provider,
        "batch_size": target.batch_size,
        "intra_op_threads": target.intra_op_threads,
        "inter_op_threads": target.inter_op_threads,
        "onnxruntime_version": ort.__version__,
        "hostname": platform.node(),
    }
    model = job["onnx"]
    if target.quantization is not None:
        from ._quant import quantize_and_score

        q = job.get("quant") or {}
        model, float_acc, q_acc = quantize_and_score(
            model,
            target.quantization,
            calibration=q.get("calibration"),
            eval_x=q.get("eval_x"),
            eval_y=q.get("eval_y"),
            threads=target.intra_op_threads,
        )
        out.update(quantization=target.quantization, float_acc=float_acc, quantized_acc=q_acc)
    out["model_size_bytes"] = len(model)

    _release_heap()
    can_reset = _reset_peak_rss()
    rss_before = _status_bytes("VmRSS")
    session = make_session(model, target, requested_ok)
    used = session.get_providers()[0]
    if requested_ok and used != target.provider and not target.allow_fallback:
        raise ProviderUnavailableError(
            f"`provider` of HardwareTarget `{target.name}` is {target.provider!r}, but the "
            f"session runs on {used!r}: the provider failed to initialize on this node (see "
            "onnxruntime's warnings); pass allow_fallback=True to accept the fallback."
        )
    out["provider"] = used
    out.update(_assignment(session, target, used))
    nodes = out.get("ep_nodes") or {}
    if nodes and not nodes.get(used):  # the provider claimed none of the graph
        ran = max(nodes, key=lambda k: nodes[k])
        if not target.allow_fallback:
            out.update(
                feasible=False,
                reason=(
                    f"`{used}` ran none of the graph's {sum(nodes.values())} nodes ({ran} ran "
                    "them: ops it lacks); pass allow_fallback=True to measure such graphs on "
                    f"{ran}."
                ),
                wall_s=time.perf_counter() - t_start,
            )
            return out
        out["provider"] = used = ran

    feeds = make_inputs(session, target, np.random.default_rng(0))
    ref = job.get("reference")
    if ref is not None and target.quantization is None:
        rtol, atol = target.tolerance(used, float(ref["rtol"]), float(ref["atol"]))
        diff = parity(session, {**ref, "rtol": rtol, "atol": atol})
        out["parity_max_abs_diff"] = diff["max_abs_diff"]
        if not diff["ok"]:
            out.update(feasible=False, reason=diff["reason"])
            out["wall_s"] = time.perf_counter() - t_start
            return out

    if used == target.provider:
        binding, device_type = target.uses_io_binding, target.device_type
    else:  # fell back (to CPU): bind on the host, if at all
        binding, device_type = bool(target.io_binding), GPU_DEVICE_TYPES.get(used, "cpu")
    run = make_runner(session, feeds, binding, device_type, target.device_id)
    for _ in range(target.warmup_runs):
        run()

    meter: EnergyMeter | None = job.get("meter")
    reason = None
    if meter is None:
        meter, reason = make_meter(
            target.energy,
            gpu=GPU_DEVICE_TYPES.get(used) == "cuda",
            device_index=target.device_id,
            rapl_root=job.get("rapl_root"),
        )
    idle_w = None
    if meter is not None:
        idle_w = measure_idle_power(meter, target.idle_seconds)
        if idle_w is None:
            reason, meter = f"{meter.source}: {meter.reason}", None

    window = max(target.min_seconds, MIN_WINDOW_S if meter is not None else 0.0)
    times = timed_runs(run, target.min_runs, window, target.max_runs, meter)
    joules, elapsed = times.pop("joules"), times.pop("elapsed")
    lat = np.asarray(times["ms"])
    pcts = sorted({50.0, 90.0, *target.percentiles})
    values = np.percentile(lat, pcts)
    out.update(
        runs=int(lat.size),
        p50_ms=float(np.percentile(lat, 50)),
        p90_ms=float(np.percentile(lat, 90)),
        mean_ms=float(lat.mean()),
        std_ms=float(lat.std(ddof=1)) if lat.size > 1 else 0.0,
        percentiles={float(p): float(v) for p, v in zip(pcts, values, strict=True)},
    )
    if meter is not None and joules is not None and idle_w is not None:
        net = joules - idle_w * elapsed
        out.update(
            energy_j=max(net, 0.0) / lat.size, energy_source=meter.source, idle_power_w=idle_w
        )
    else:
        out["energy_unavailable_reason"] = reason or (meter.reason if meter else None)
    peak = _status_bytes("VmHWM")
    if can_reset and peak is not None and rss_before is not None:
        out.update(peak_memory_bytes=max(peak - rss_before, 0), memory_source=MEMORY_SOURCE)
    out["wall_s"] = time.perf_counter() - t_start
    return out


def make_session(model: bytes, target: HardwareTarget, provider_ok: bool = True) -> Any:
    """An ``InferenceSession`` with the target's threads, optimization level and provider."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = target.intra_op_threads
    so.inter_op_num_threads = target.inter_op_threads
    so.execution_mode = (
        ort.ExecutionMode.ORT_SEQUENTIAL
        if target.inter_op_threads == 1
        else ort.ExecutionMode.ORT_PARALLEL
    )
    so.graph_optimization_level = ort.GraphOptimizationLevel(_OPT_LEVELS[target.graph_optimization])
    so.log_severity_level = 3
    if provider_ok and target.uses_ep_device:
        from ._providers import select_device, session_options_for

        device = select_device(target.provider, target.device, target.provider_library)
        so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
        options = session_options_for(
            target.provider, target.device, target.intra_op_threads, target.options
        )
        so.add_provider_for_devices([device], options)
        session = ort.InferenceSession(model, sess_options=so)
        session.raynas_ep_device = device  # type: ignore[attr-defined]
        return session
    if provider_ok:
        providers: list[Any] = [(target.provider, target.options)]
        if target.provider != "CPUExecutionProvider":
            providers.append("CPUExecutionProvider")
    else:
        providers = ["CPUExecutionProvider"]
    return ort.InferenceSession(model, sess_options=so, providers=providers)


def _assignment(session: Any, target: HardwareTarget, used: str) -> dict[str, Any]:
    """The EP device the session runs on and how many graph nodes each provider took
    (plugin sessions, where onnxruntime records the assignment)."""
    device = getattr(session, "raynas_ep_device", None)
    if device is None:
        return {}
    from ._providers import device_name

    out: dict[str, Any] = {"device": device_name(device, target.provider)}
    try:
        counts: dict[str, int] = {}
        for sub in session.get_provider_graph_assignment_info():
            counts[sub.ep_name] = counts.get(sub.ep_name, 0) + len(sub.get_nodes())
        out["ep_nodes"] = counts
    except Exception:  # older onnxruntime: the assignment is not recorded
        pass
    return out


def make_inputs(
    session: Any, target: HardwareTarget, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Random inputs for every model input; symbolic dims come from the target."""
    inputs = session.get_inputs()
    feeds: dict[str, np.ndarray] = {}
    for inp in inputs:
        shape = []
        for i, d in enumerate(inp.shape):
            static = isinstance(d, int) and d > 0
            if i == 0:
                if static and d != target.batch_size:
                    raise TargetError(
                        f"`batch_size` of HardwareTarget `{target.name}` is {target.batch_size}, "
                        f"but the model's input `{inp.name}` has a static batch of {d}; export "
                        f"the model with batch {target.batch_size} or set batch_size={d}."
                    )
                shape.append(target.batch_size)
                continue
            given = None
            if target.input_shape is not None and len(inputs) == 1:
                if len(target.input_shape) != len(inp.shape) - 1:
                    raise TargetError(
                        f"`input_shape` of HardwareTarget `{target.name}` is "
                        f"{target.input_shape}, but the model's input `{inp.name}` has shape "
                        f"{inp.shape} ({len(inp.shape) - 1} dims after the batch)."
                    )
                given = target.input_shape[i - 1]
            if static:
                if given is not None and given != d:
                    raise TargetError(
                        f"`input_shape` of HardwareTarget `{target.name}` is "
                        f"{target.input_shape}, but the model's input `{inp.name}` has shape "
                        f"{inp.shape}."
                    )
                shape.append(d)
            elif given is not None:
                shape.append(given)
            else:
                raise TargetError(
                    f"the model's input `{inp.name}` has the symbolic dimension {i} ({d!r}) in "
                    f"shape {inp.shape}; give `input_shape` in the HardwareTarget to fix it."
                )
        dtype = _ORT_TYPES.get(inp.type)
        if dtype is None:
            raise TargetError(
                f"the model's input `{inp.name}` has type {inp.type}; supported input types: "
                f"{sorted(_ORT_TYPES)}."
            )
        if np.issubdtype(dtype, np.floating):
            feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype is np.bool_:
            feeds[inp.name] = np.zeros(shape, dtype=dtype)
        else:  # token ids and the like: 0/1 are valid for any vocabulary
            feeds[inp.name] = rng.integers(0, 2, size=shape).astype(dtype)
    return feeds


def parity(session: Any, ref: Mapping[str, Any]) -> dict[str, Any]:
    """Compare the session's outputs on ``ref["input"]`` with torch's ``ref["outputs"]``."""
    name = session.get_inputs()[0].name
    got = session.run(None, {name: ref["input"]})
    expected = ref["outputs"]
    rtol, atol = float(ref["rtol"]), float(ref["atol"])
    if len(got) != len(expected):
        return {
            "ok": False,
            "max_abs_diff": None,
            "reason": f"the ONNX model has {len(got)} outputs, torch gave {len(expected)}.",
        }
    worst = 0.0
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        g = np.asarray(g, dtype=np.float64)
        e = np.asarray(e, dtype=np.float64)
        if g.shape != e.shape:
            return {
                "ok": False,
                "max_abs_diff": None,
                "reason": f"ONNX output {k} has shape {g.shape}, torch's has {e.shape}.",
            }
        diff = np.abs(g - e)
        worst = max(worst, float(diff.max()) if diff.size else 0.0)
        scale = max(1.0, float(np.abs(e).max()) if e.size else 1.0)
        if not np.all(diff <= atol * scale + rtol * np.abs(e)):
            return {
                "ok": False,
                "max_abs_diff": worst,
                "reason": (
                    f"ONNX output {k} differs from torch: max |diff| = {worst:.3g} exceeds the "
                    f"tolerance (rtol={rtol:g}, atol={atol:g} x {scale:.3g})."
                ),
            }
    return {"ok": True, "max_abs_diff": worst, "reason": None}


def make_runner(
    session: Any,
    feeds: Mapping[str, np.ndarray],
    io_binding: bool = False,
    device_type: str = "cpu",
    device_id: int = 0,
) -> Callable[[], None]:
    """A zero-argument function that runs the model once.

    With IO binding (GPU providers), inputs are copied to the device once and outputs stay
    there, so the timed runs contain no host <-> device copies.
    """
    if not io_binding:
        feed_dict = dict(feeds)

        def run() -> None:
            session.run(None, feed_dict)

        return run

    import onnxruntime as ort

    binding = session.io_binding()
    keep = []
    for name, arr in feeds.items():
        value = ort.OrtValue.ortvalue_from_numpy(arr, device_type, device_id)
        keep.append(value)
        binding.bind_ortvalue_input(name, value)
    for out in session.get_outputs():
        binding.bind_output(out.name, device_type, device_id)
    binding.synchronize_inputs()

    def run_bound() -> None:
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()

    run_bound.keep = keep  # type: ignore[attr-defined]  # the bound inputs must stay alive
    return run_bound


def timed_runs(
    run: Callable[[], None],
    min_runs: int,
    min_seconds: float,
    max_runs: int,
    meter: EnergyMeter | None = None,
) -> dict[str, Any]:
    """Time ``run`` until at least ``min_runs`` runs and ``min_seconds`` (or ``max_runs``)."""
    ms: list[float] = []
    clock = time.perf_counter
    if meter is not None:
        meter.start()
    t0 = clock()
    elapsed = 0.0
    # max_runs bounds the latency sample, but an energy window is never cut below its minimum
    # (a tiny model reaches max_runs in well under a second on a fast CPU)
    energy_floor = MIN_WINDOW_S if meter is not None else 0.0
    while (len(ms) < min_runs or elapsed < min_seconds) and (
        len(ms) < max_runs or elapsed < energy_floor
    ):
        a = clock()
        run()
        b = clock()
        ms.append((b - a) * 1e3)
        elapsed = b - t0
    joules = meter.stop() if meter is not None else None
    elapsed = clock() - t0
    return {"ms": ms, "joules": joules, "elapsed": elapsed}


def _release_heap() -> None:
    """Return freed heap pages (an earlier session's) to the OS, so that this measurement's
    RSS baseline is not padded with reusable memory (glibc only; elsewhere a no-op)."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _status_bytes(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
