"""The result of measuring one candidate on one target."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# Keys of :meth:`Measurement.metrics`, the names trials report.
METRIC_KEYS = (
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_mean_ms",
    "latency_std_ms",
    "energy_j",
    "peak_memory_bytes",
    "model_size_bytes",
    "params",
    "flops",
    "quantized_acc",
)


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """Latency, energy and static costs of one model on one :class:`HardwareTarget`.

    A failed measurement is a result too: ``feasible=False`` with ``reason`` (export error,
    parity mismatch, timeout, crash); its numbers are ``None``.

    Attributes:
        feasible: False when the candidate could not be measured.
        reason: why not (``None`` when feasible).
        target: the target's name.
        provider: the execution provider the session actually ran on
            (``session.get_providers()[0]``); differs from ``requested_provider`` only when the
            target allowed fallback.
        device: the EP device the session ran on (``"CPU"``, OpenVINO's ``"GPU.0"`` ...) when
            it selected one (plugin providers, or a target naming a ``device``).
        ep_nodes: graph nodes each provider ran, ``{"OpenVINOExecutionProvider": 12,
            "CPUExecutionProvider": 1}`` (where onnxruntime records it: EP-device sessions).
        p50_ms, p90_ms, mean_ms, std_ms: latency of one run (one batch) in milliseconds.
        percentiles: every reported percentile, ``{99.0: ms, ...}`` (includes 50 and 90).
        runs: timed runs.
        batch_size, intra_op_threads, inter_op_threads: what was timed.
        energy_j: joules per run (one batch), idle power subtracted; ``None`` when no meter.
        energy_source: ``"rapl"``, ``"nvml"`` or ``None``.
        energy_unavailable_reason: why ``energy_j`` is ``None``.
        idle_power_w: the idle power that was subtracted.
        peak_memory_bytes: peak memory of the measuring process above its level before the
            session was created (``memory_source`` says how it was read); ``None`` where the OS
            does not report it.
        model_size_bytes: size of the serialized ONNX model.
        params: parameter count (torch) or initializer element count (ONNX files).
        flops: floating-point operations of one forward pass of one sample (batch 1), counted
            by ``torch.utils.flop_counter.FlopCounterMode`` (``None`` for ONNX files).
        exporter: ``"dynamo"``, ``"torchscript"`` or ``None`` (an ONNX file was given).
        export_note: why the first exporter was not used (the dynamo exporter's error).
        parity_max_abs_diff: largest |onnxruntime - torch| output difference.
        quantization: ``"static"``/``"dynamic"`` when an int8 model was measured.
        quantized_acc: accuracy (0..1) of the quantized model on the given data.
        float_acc: accuracy of the float ONNX model on the same data (for comparison).
        onnxruntime_version, hostname, node_id: where it ran (``node_id`` is Ray's, when the
            measurement ran in a Ray task).
        wall_s: seconds the whole measurement took (export included).
        from_cache: True when this came from the measurement cache.
    """

    feasible: bool
    reason: str | None = None
    target: str = ""
    requested_provider: str | None = None
    provider: str | None = None
    device: str | None = None
    ep_nodes: Mapping[str, int] = field(default_factory=dict)
    p50_ms: float | None = None
    p90_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    percentiles: Mapping[float, float] = field(default_factory=dict)
    runs: int = 0
    batch_size: int | None = None
    intra_op_threads: int | None = None
    inter_op_threads: int | None = None
    energy_j: float | None = None
    energy_source: str | None = None
    energy_unavailable_reason: str | None = None
    idle_power_w: float | None = None
    peak_memory_bytes: int | None = None
    memory_source: str | None = None
    model_size_bytes: int | None = None
    params: int | None = None
    flops: int | None = None
    exporter: str | None = None
    export_note: str | None = None
    parity_max_abs_diff: float | None = None
    quantization: str | None = None
    quantized_acc: float | None = None
    float_acc: float | None = None
    onnxruntime_version: str | None = None
    hostname: str | None = None
    node_id: str | None = None
    wall_s: float | None = None
    from_cache: bool = False

    @classmethod
    def infeasible(cls, reason: str, **kwargs: Any) -> Measurement:
        """A failed measurement with its reason."""
        return cls(feasible=False, reason=reason, **kwargs)

    def metrics(self, prefix: str = "") -> dict[str, Any]:
        """The report keys trials use (``latency_p50_ms``, ``energy_j``, ...), plus
        ``feasible`` and ``reason``.

        Example:
            >>> Measurement(feasible=True, p50_ms=1.5).metrics()["latency_p50_ms"]
            1.5
        """
        values = {
            "latency_p50_ms": self.p50_ms,
            "latency_p90_ms": self.p90_ms,
            "latency_mean_ms": self.mean_ms,
            "latency_std_ms": self.std_ms,
            "energy_j": self.energy_j,
            "peak_memory_bytes": self.peak_memory_bytes,
            "model_size_bytes": self.model_size_bytes,
            "params": self.params,
            "flops": self.flops,
            "quantized_acc": self.quantized_acc,
        }
        out: dict[str, Any] = {prefix + k: v for k, v in values.items()}
        out["feasible"] = self.feasible
        out["reason"] = self.reason or ""
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (percentile keys become strings)."""
        d = asdict(self)
        d["percentiles"] = {str(k): v for k, v in self.percentiles.items()}
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Inverse of :meth:`to_dict`; keys this version does not know are ignored."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        d["percentiles"] = {float(k): float(v) for k, v in (d.get("percentiles") or {}).items()}
        d["ep_nodes"] = {str(k): int(v) for k, v in (d.get("ep_nodes") or {}).items()}
        return cls(**d)

    def with_(self, **changes: Any) -> Measurement:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def table(self) -> str:
        """A two-column text table of the measurement (what the CLI prints)."""
        rows: list[tuple[str, str]] = [("target", self.target), ("feasible", str(self.feasible))]
        if self.reason:
            rows.append(("reason", self.reason))
        rows.append(("provider", f"{self.provider} (requested {self.requested_provider})"))
        if self.device is not None:
            rows.append(("device", self.device))
        if self.ep_nodes:
            rows.append(
                (
                    "graph nodes per provider",
                    ", ".join(f"{k}: {v}" for k, v in self.ep_nodes.items()),
                )
            )
        rows.append(("threads (intra/inter)", f"{self.intra_op_threads}/{self.inter_op_threads}"))
        rows.append(("batch size", _fmt(self.batch_size)))
        rows.append(("runs", str(self.runs)))
        for label, v in (
            ("latency p50 [ms]", self.p50_ms),
            ("latency p90 [ms]", self.p90_ms),
            ("latency mean [ms]", self.mean_ms),
            ("latency std [ms]", self.std_ms),
        ):
            rows.append((label, _fmt(v)))
        for p, v in sorted(self.percentiles.items()):
            if p not in (50.0, 90.0):
                rows.append((f"latency p{p:g} [ms]", _fmt(v)))
        energy = _fmt(self.energy_j)
        if self.energy_j is None:
            energy += f" ({self.energy_unavailable_reason})"
        else:
            energy += f" (source {self.energy_source}, idle {_fmt(self.idle_power_w)} W)"
        rows.append(("energy per run [J]", energy))
        mem = _fmt(self.peak_memory_bytes)
        if self.memory_source:
            mem += f" ({self.memory_source})"
        rows.append(("peak memory [bytes]", mem))
        rows.append(("model size [bytes]", _fmt(self.model_size_bytes)))
        rows.append(("params", _fmt(self.params)))
        rows.append(("flops (batch 1)", _fmt(self.flops)))
        if self.quantization:
            rows.append(("quantization", self.quantization))
            rows.append(("quantized accuracy", _fmt(self.quantized_acc)))
            rows.append(("float accuracy", _fmt(self.float_acc)))
        rows.append(("onnxruntime", _fmt(self.onnxruntime_version)))
        rows.append(("wall [s]", _fmt(self.wall_s)))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.4e}"
    return str(v)
