"""``measure(model_or_onnx, target) -> Measurement``: export, static costs, then the protocol
in a separate process (or a Ray task on the device's node)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._cache import MeasurementCache
from ._measurement import Measurement
from ._runner import ProcessRunner, default_runner, device_lock
from ._target import HardwareTarget
from .errors import ExportError, TargetError

ROUTES = ("auto", "local", "ray")


def _load_onnx(model: Any) -> bytes | None:
    """ONNX bytes when ``model`` is an ONNX file, bytes or ModelProto; ``None`` for torch."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise TargetError(f"`model` is the path {path!r}, which is not a file.")
        with open(path, "rb") as fh:
            return fh.read()
    if type(model).__name__ == "ModelProto":
        return model.SerializeToString()  # type: ignore[no-any-return]
    return None


def _quant_payload(
    target: HardwareTarget,
    calibration: Any,
    eval_data: tuple[Any, Any] | None,
) -> dict[str, Any] | None:
    if target.quantization is None:
        return None
    if target.quantization == "static" and calibration is None:
        raise TargetError(
            f"HardwareTarget `{target.name}` has quantization='static', which needs "
            "`calibration` data (a few batches of inputs from the dataset)."
        )
    payload: dict[str, Any] = {}
    if calibration is not None:
        payload["calibration"] = np.asarray(calibration)
    if eval_data is not None:
        x, y = eval_data
        payload["eval_x"], payload["eval_y"] = np.asarray(x), np.asarray(y)
    return payload


def _reply_to_measurement(reply: tuple[Any, ...], target: HardwareTarget) -> Measurement:
    kind = reply[0]
    base = {
        "target": target.name,
        "requested_provider": target.provider,
        "batch_size": target.batch_size,
    }
    if kind == "ok":
        return Measurement(**reply[1])
    if kind == "error":
        _, exc, type_name, message, _tb = reply
        if isinstance(exc, TargetError):
            raise exc
        return Measurement.infeasible(f"measurement failed: {type_name}: {message}", **base)
    if kind == "timeout":
        return Measurement.infeasible(
            f"timeout: the measurement took longer than timeout_s={reply[1]:g} s (a hung or "
            "too slow session); its process was killed.",
            **base,
        )
    return Measurement.infeasible(
        f"crash: the measuring process died ({'exit code ' if isinstance(reply[1], int) else ''}"
        f"{reply[1]}).",
        **base,
    )


def measure(
    model: Any,
    target: HardwareTarget,
    *,
    route: str = "auto",
    cache: MeasurementCache | None = None,
    key: str | None = None,
    config: Mapping[str, Any] | None = None,
    calibration: Any = None,
    eval_data: tuple[Any, Any] | None = None,
    runner: ProcessRunner | None = None,
    worker_fn: Any = None,
    job_extra: Mapping[str, Any] | None = None,
) -> Measurement:
    """Measure a torch module or an ONNX model on ``target``.

    A torch module is exported (see :func:`~raynas.hardware.export_onnx`) with the target's
    static batch, opset and exporter; its parameters and FLOPs are counted here. The session,
    the parity check against torch and the timing protocol run in a separate process with the
    target's timeout; on a Ray cluster whose node advertises ``target.resource`` they run in a
    Ray task there. What fails (export, parity, timeout, crash) comes back as an infeasible
    :class:`Measurement` with its reason; a bad target raises :class:`TargetError`.

    Args:
        model: ``torch.nn.Module``, ONNX file path, ONNX bytes or ``onnx.ModelProto``.
        target: where and how to measure.
        route: ``"auto"`` (Ray task when a node advertises the resource, else local),
            ``"local"`` or ``"ray"``.
        cache: measurement cache, keyed by the exported graph (:func:`graph_key`: models that
            differ only in their weights are measured once); a cached result is returned
            without measuring.
        key: the candidate's space key (``space.key(config)``): an alias of its graph in the
            cache, so a candidate seen before is not even exported again.
        config: the candidate's config, stored with the measurement (predictor training).
        calibration: input batches for static int8 quantization (``target.quantization``).
        eval_data: ``(x, y)`` to score the quantized model's accuracy.
        runner: the measuring process to use (default: this process's shared one).
        worker_fn: the function the measuring process runs (tests inject fakes).
        job_extra: extra job entries (``meter``, ``rapl_root``; for tests).

    Example:
        >>> import torch
        >>> t = HardwareTarget(name="cpu", input_shape=(8,), min_runs=10, min_seconds=0.05,
        ...                    exporter="torchscript", energy="off")
        >>> m = measure(torch.nn.Linear(8, 2), t)
        >>> m.feasible, m.provider, m.runs >= 10
        (True, 'CPUExecutionProvider', True)
    """
    if route not in ROUTES:
        raise TargetError(f"`route` must be one of {list(ROUTES)}, but got {route!r}.")
    if not isinstance(target, HardwareTarget):
        raise TargetError(f"`target` must be a HardwareTarget, but got {type(target).__name__}.")
    if cache is not None and key is not None:
        found = cache.get(key, target)  # a candidate seen before: no export needed
        if found is not None:
            return found
    t0 = time.perf_counter()
    prepared = _prepare(model, target)
    if isinstance(prepared, Measurement):  # export failed: cached under the candidate's key
        prepared = prepared.with_(wall_s=time.perf_counter() - t0)
        if cache is not None and key is not None:
            cache.put(key, target, prepared, config)
        return prepared
    onnx_bytes, reference, static = prepared

    def run() -> Measurement:
        m = _run(
            onnx_bytes,
            reference,
            target,
            route,
            calibration,
            eval_data,
            runner,
            worker_fn,
            job_extra,
        )
        return m.with_(**static, wall_s=time.perf_counter() - t0)

    if cache is None:
        return run()
    from ._cache import graph_key

    graph = graph_key(onnx_bytes, weights=target.quantization is not None)
    return cache.get_or_measure(graph, target, run, config=config, alias=key)


def _prepare(
    model: Any, target: HardwareTarget
) -> Measurement | tuple[bytes, dict[str, Any] | None, dict[str, Any]]:
    """ONNX bytes, torch's reference outputs and the static costs; or the infeasible
    measurement of a model that does not export."""
    base: dict[str, Any] = {
        "target": target.name,
        "requested_provider": target.provider,
        "batch_size": target.batch_size,
    }
    static: dict[str, Any] = {}
    onnx_bytes = _load_onnx(model)
    reference = None
    if onnx_bytes is None:
        from ._export import count_flops, count_params, export_onnx

        if target.input_shape is None:
            raise TargetError(
                f"`input_shape` of HardwareTarget `{target.name}` is None; measuring a torch "
                "module needs it (the shape of one input without the batch dimension)."
            )
        static["params"] = count_params(model)
        static["flops"] = count_flops(model, target.input_shape, target.input_dtype)
        try:
            exported = export_onnx(
                model,
                input_shape=target.input_shape,
                batch_size=target.batch_size,
                dtype=target.input_dtype,
                opset=target.opset,
                exporter=target.exporter,
                check_parity=False,
            )
        except ExportError as exc:
            return Measurement.infeasible(f"export failed: {exc}", **base, **static)
        onnx_bytes = exported.onnx
        reference = exported.reference()
        static.update(exporter=exported.exporter, export_note=exported.note)
    else:
        from ._export import onnx_params

        try:
            static["params"] = onnx_params(onnx_bytes)
        except Exception as exc:
            return Measurement.infeasible(f"not a readable ONNX model: {exc}", **base)
    return onnx_bytes, reference, static


def _run(
    onnx_bytes: bytes,
    reference: dict[str, Any] | None,
    target: HardwareTarget,
    route: str,
    calibration: Any,
    eval_data: tuple[Any, Any] | None,
    runner: ProcessRunner | None,
    worker_fn: Any,
    job_extra: Mapping[str, Any] | None,
) -> Measurement:
    """Run the protocol on ``onnx_bytes`` in the measuring process or a Ray task."""
    job: dict[str, Any] = {"onnx": onnx_bytes, "target": target.to_dict(), "reference": reference}
    quant = _quant_payload(target, calibration, eval_data)
    if quant is not None:
        job["quant"] = quant
    if job_extra:
        job.update(job_extra)

    from ._remote import choose_route, ray_ready, run_remote

    chosen = choose_route(target) if route == "auto" else route
    node_id = None
    if chosen == "ray":
        if worker_fn is not None:
            raise TargetError("`worker_fn` can only be injected with route='local'.")
        reply, node_id = run_remote(job, target)
    else:
        from ._protocol import run_job

        proc = runner or default_runner()
        with device_lock(target.resource):  # type: ignore[arg-type]
            reply = proc.run(worker_fn or run_job, job, target.timeout_s)
        if ray_ready():
            import ray

            node_id = ray.get_runtime_context().get_node_id()
    return _reply_to_measurement(reply, target).with_(node_id=node_id)
