"""Where and how a candidate is measured: execution provider, threads, batch and protocol."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import ProviderUnavailableError, TargetError

ENERGY_MODES = ("auto", "rapl", "nvml", "off")
QUANTIZATION_MODES = (None, "static", "dynamic")
EXPORTERS = ("auto", "dynamo", "torchscript")
GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")
INPUT_DTYPES = ("float32", "float16", "float64", "int64", "int32")
# Providers whose inputs and outputs live in device memory: bound through IO binding so that
# host <-> device copies are not part of the timed runs. Value: onnxruntime's device type.
GPU_DEVICE_TYPES = {
    "CUDAExecutionProvider": "cuda",
    "TensorrtExecutionProvider": "cuda",
    "ROCMExecutionProvider": "cuda",
    "MIGraphXExecutionProvider": "cuda",
    "DmlExecutionProvider": "dml",
}
# Providers that run float32 convolutions and matrix products in TF32 (10-bit mantissa) by
# default on Ampere and newer GPUs: their outputs are checked against torch's float32 with
# TF32_TOLERANCE. onnxruntime's CUDA provider stops with the option use_tf32="0".
TF32_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
TF32_TOLERANCE = (1e-2, 1e-3)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
# Fields that change what a measurement means; the others (timeouts, checks) do not.
_FINGERPRINT_EXCLUDE = {"timeout_s", "verify_provider", "local_fallback", "provider_library"}
# Fields added later: left out of the fingerprint at their default, so older caches keep keys.
_FINGERPRINT_DEFAULT_NONE = ("parity_tolerance", "device")


def _int_at_least(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise TargetError(f"`{name}` of HardwareTarget must be an int >= {low}, but got {value!r}.")
    return int(value)


def _float_at_least(name: str, value: Any, low: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < low
    ):
        raise TargetError(
            f"`{name}` of HardwareTarget must be a finite number >= {low}, but got {value!r}."
        )
    return float(value)


def _one_of(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    if value not in allowed:
        raise TargetError(
            f"`{name}` of HardwareTarget must be one of {list(allowed)}, but got {value!r}."
        )
    return value


def available_providers() -> list[str]:
    """The execution providers of the installed onnxruntime build (plugins not included:
    see :func:`raynas.hardware.list_providers`)."""
    from ._providers import builtin_providers

    return builtin_providers()


@dataclass(frozen=True, kw_only=True)
class HardwareTarget:
    """A device to measure candidates on, and the protocol to measure them with.

    A target is plain data (picklable, hashable): it travels to the node that holds the device.

    Args:
        name: short id, used in metric tables, the cache fingerprint and the default resource.
        provider: onnxruntime execution provider: a built-in one (``"CPUExecutionProvider"``,
            ``"CUDAExecutionProvider"``, ``"TensorrtExecutionProvider"``) or a plugin EP
            (``"OpenVINOExecutionProvider"``, from its installed package, see
            :data:`~raynas.hardware._providers.PLUGINS`; any other with ``provider_library``).
        device: the provider's EP device to run on (``"CPU"``, ``"GPU"``, ``"NPU"``; OpenVINO
            names such as ``"GPU.0"``), chosen among ``onnxruntime.get_ep_devices()``;
            ``None``: the provider's first device (plugins) or its usual default (built-ins).
        provider_library: path of a plugin EP's shared library, for plugins raynas does not
            know or a library of one's own build; registered once per measuring process.
        provider_options: options passed to the provider (``{"device_id": 0}``); values are
            stored as strings, as onnxruntime takes them.
        intra_op_threads: threads inside one operator (always explicit: never "all cores").
        inter_op_threads: threads across independent operators (1 = sequential execution).
        batch_size: the static batch the model is exported and timed with.
        input_shape: one input's shape without the batch dimension, e.g. ``(1, 8, 8)``. Needed
            for torch models; for an ONNX file it fills the dimensions the file leaves symbolic.
        input_dtype: dtype of the generated input for torch models (``"float32"`` ...).
        warmup_runs: runs before timing starts (discarded).
        min_runs: timed runs at least ...
        min_seconds: ... and at least this long in total (energy windows are >= 1 s anyway).
        max_runs: hard cap on timed runs (very fast models stop here).
        percentiles: latency percentiles reported besides p50 and p90.
        timeout_s: a measurement (session creation, parity check, protocol) that takes longer
            is killed and the candidate is infeasible with the reason ``timeout``.
        energy: ``"auto"`` (NVML for GPU providers, RAPL otherwise), ``"rapl"``, ``"nvml"`` or
            ``"off"``.
        idle_seconds: length of the idle window whose power is subtracted from energy readings.
        io_binding: bind inputs and outputs on the device; ``None`` = on for GPU providers.
        graph_optimization: onnxruntime graph optimization level.
        opset: ONNX opset used when exporting torch models.
        exporter: ``"auto"`` (``dynamo`` exporter, TorchScript exporter when it fails),
            ``"dynamo"`` or ``"torchscript"``.
        quantization: ``None``, ``"static"`` (QDQ, per channel, calibrated on data) or
            ``"dynamic"``: measure the int8 model instead (a separate target).
        allow_fallback: when the provider is missing, measure with what onnxruntime falls back
            to (recorded in ``Measurement.provider``) instead of raising.
        verify_provider: check the provider against this machine's onnxruntime at construction.
            Turn off for a target whose device sits on another node (it is then checked there).
        parity_tolerance: ``(rtol, atol)`` of the check of the ONNX outputs against torch on
            this target (atol is scaled by the largest output); ``None``: the input dtype's
            tolerance, widened to :data:`TF32_TOLERANCE` on providers that compute float32 in
            TF32 (:data:`TF32_PROVIDERS`; CUDA unless ``provider_options={"use_tf32": "0"}``).
        resource: Ray resource that marks the node holding the device; default ``hw:<name>``.
        local_fallback: when Ray runs but no node advertises ``resource``, measure on the
            caller's node (serialized per device by a file lock) instead of refusing. Off by
            default, so that a missing device node is an error rather than a silent
            measurement on the wrong machine. Without Ray, a measurement is always local.

    Example:
        >>> t = HardwareTarget(name="cpu1", intra_op_threads=1, input_shape=(1, 8, 8))
        >>> t.resource
        'hw:cpu1'
        >>> HardwareTarget(name="cpu1", intra_op_threads=0)
        Traceback (most recent call last):
        ...
        raynas.hardware.errors.TargetError: `intra_op_threads` of HardwareTarget must be an int >= 1, but got 0.
    """

    name: str = "cpu"
    provider: str = "CPUExecutionProvider"
    device: str | None = None
    provider_library: str | None = None
    provider_options: Mapping[str, Any] | tuple[tuple[str, str], ...] = field(default_factory=tuple)
    intra_op_threads: int = 1
    inter_op_threads: int = 1
    batch_size: int = 1
    input_shape: tuple[int, ...] | None = None
    input_dtype: str = "float32"
    warmup_runs: int = 10
    min_runs: int = 50
    min_seconds: float = 1.0
    max_runs: int = 100_000
    percentiles: tuple[float, ...] = (99.0,)
    timeout_s: float = 120.0
    energy: str = "auto"
    idle_seconds: float = 1.0
    io_binding: bool | None = None
    graph_optimization: str = "all"
    opset: int = 18
    exporter: str = "auto"
    quantization: str | None = None
    allow_fallback: bool = False
    verify_provider: bool = True
    parity_tolerance: tuple[float, float] | None = None
    resource: str | None = None
    local_fallback: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise TargetError(
                "`name` of HardwareTarget must be a non-empty str of letters, digits, '_', '-' "
                f"or '.', but got {self.name!r}."
            )
        if not isinstance(self.provider, str) or not _NAME.fullmatch(self.provider):
            raise TargetError(
                "`provider` of HardwareTarget must be an onnxruntime execution provider name "
                f"(e.g. 'CPUExecutionProvider', 'OpenVINOExecutionProvider'), but got "
                f"{self.provider!r}."
            )
        for name in ("device", "provider_library"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise TargetError(
                    f"`{name}` of HardwareTarget must be None or a non-empty str, "
                    f"but got {value!r}."
                )
        opts = self.provider_options
        if isinstance(opts, Mapping):
            opts = tuple(opts.items())
        try:
            pairs = tuple(sorted((str(k), str(v)) for k, v in opts))
        except (TypeError, ValueError):
            raise TargetError(
                "`provider_options` of HardwareTarget must be a mapping of option name to value, "
                f"but got {self.provider_options!r}."
            ) from None
        set_(self, "provider_options", pairs)
        for name in ("intra_op_threads", "inter_op_threads", "batch_size", "min_runs", "max_runs"):
            _int_at_least(name, getattr(self, name), 1)
        _int_at_least("warmup_runs", self.warmup_runs, 0)
        _int_at_least("opset", self.opset, 7)
        if self.max_runs < self.min_runs:
            raise TargetError(
                f"`max_runs` of HardwareTarget must be >= `min_runs` ({self.min_runs}), "
                f"but got {self.max_runs!r}."
            )
        set_(self, "min_seconds", _float_at_least("min_seconds", self.min_seconds, 0.0))
        set_(self, "idle_seconds", _float_at_least("idle_seconds", self.idle_seconds, 0.0))
        timeout = _float_at_least("timeout_s", self.timeout_s, 0.0)
        if timeout == 0.0:
            raise TargetError(f"`timeout_s` of HardwareTarget must be > 0, but got {timeout!r}.")
        set_(self, "timeout_s", timeout)
        if self.input_shape is not None:
            shape = self.input_shape
            if (
                not isinstance(shape, (tuple, list))
                or not shape
                or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape)
            ):
                raise TargetError(
                    "`input_shape` of HardwareTarget must be a non-empty tuple of positive ints "
                    f"(the shape without the batch dimension), but got {shape!r}."
                )
            set_(self, "input_shape", tuple(int(d) for d in shape))
        pct = self.percentiles
        if not isinstance(pct, (tuple, list)) or any(
            isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 100 for p in pct
        ):
            raise TargetError(
                "`percentiles` of HardwareTarget must be a tuple of numbers in [0, 100], "
                f"but got {pct!r}."
            )
        set_(self, "percentiles", tuple(sorted({float(p) for p in pct})))
        _one_of("input_dtype", self.input_dtype, INPUT_DTYPES)
        _one_of("energy", self.energy, ENERGY_MODES)
        _one_of("graph_optimization", self.graph_optimization, GRAPH_OPTIMIZATIONS)
        _one_of("exporter", self.exporter, EXPORTERS)
        _one_of("quantization", self.quantization, QUANTIZATION_MODES)
        for name in ("allow_fallback", "verify_provider", "local_fallback"):
            if not isinstance(getattr(self, name), bool):
                raise TargetError(
                    f"`{name}` of HardwareTarget must be True or False, "
                    f"but got {getattr(self, name)!r}."
                )
        if self.io_binding not in (None, True, False):
            raise TargetError(
                f"`io_binding` of HardwareTarget must be None, True or False, "
                f"but got {self.io_binding!r}."
            )
        tol = self.parity_tolerance
        if tol is not None:
            if (
                not isinstance(tol, (tuple, list))
                or len(tol) != 2
                or any(
                    isinstance(t, bool)
                    or not isinstance(t, (int, float))
                    or not math.isfinite(t)
                    or t < 0
                    for t in tol
                )
            ):
                raise TargetError(
                    "`parity_tolerance` of HardwareTarget must be None or (rtol, atol), two "
                    f"finite numbers >= 0, but got {tol!r}."
                )
            set_(self, "parity_tolerance", (float(tol[0]), float(tol[1])))
        if self.resource is None:
            set_(self, "resource", f"hw:{self.name}")
        elif not isinstance(self.resource, str) or not self.resource:
            raise TargetError(
                f"`resource` of HardwareTarget must be a non-empty str, but got {self.resource!r}."
            )
        if self.verify_provider:
            self.check_provider()

    # -- provider ---------------------------------------------------------------------------
    def check_provider(self, available: Sequence[str] | None = None) -> bool:
        """Check the provider (and device) against this machine's onnxruntime.

        A plugin provider is registered here (once per process) and its devices are listed.

        Args:
            available: the built-in providers to check against (default: this machine's).

        Returns:
            True when the provider is available, False when it is not but fallback is allowed.

        Raises:
            ProviderUnavailableError: the provider is missing, a plugin's package is not
                installed, or the device is not offered (each naming what is there), and
                ``allow_fallback`` is off.
        """
        from ._providers import select_device

        avail = list(available) if available is not None else available_providers()
        if self.provider in avail and self.device is None and self.provider_library is None:
            return True
        if self.provider in avail or self.uses_ep_device:
            try:
                select_device(self.provider, self.device, self.provider_library)
                return True
            except ProviderUnavailableError as exc:
                if self.allow_fallback:
                    return False
                raise ProviderUnavailableError(
                    f"HardwareTarget `{self.name}`: {exc} Pass allow_fallback=True to measure "
                    "with what onnxruntime falls back to."
                ) from None
        if self.allow_fallback:
            return False
        from ._providers import ort_names, unknown_message

        if self.provider not in ort_names():
            raise ProviderUnavailableError(
                f"HardwareTarget `{self.name}`: {unknown_message(self.provider)}"
            )
        raise ProviderUnavailableError(
            f"`provider` of HardwareTarget `{self.name}` is {self.provider!r}, which this "
            f"onnxruntime build does not have; available providers: {avail}. Install the "
            "onnxruntime package built for it, or pass allow_fallback=True to measure with "
            "what onnxruntime falls back to."
        )

    @property
    def uses_ep_device(self) -> bool:
        """Whether sessions select an EP device (plugin providers, or a ``device`` is named)
        instead of naming a built-in provider."""
        from ._providers import is_plugin

        return self.device is not None or is_plugin(self.provider, self.provider_library)

    def tolerance(self, provider: str, rtol: float, atol: float) -> tuple[float, float]:
        """``(rtol, atol)`` of the parity check when the session runs on ``provider``.

        ``rtol``/``atol`` are the input dtype's; see ``parity_tolerance``.

        Example:
            >>> HardwareTarget(name="gpu", provider="CUDAExecutionProvider",
            ...                verify_provider=False).tolerance("CUDAExecutionProvider", 1e-3, 1e-4)
            (0.01, 0.001)
        """
        if self.parity_tolerance is not None:
            return self.parity_tolerance
        tf32 = provider in TF32_PROVIDERS and not (
            provider == "CUDAExecutionProvider" and self.options.get("use_tf32") == "0"
        )
        if tf32:
            return max(rtol, TF32_TOLERANCE[0]), max(atol, TF32_TOLERANCE[1])
        return rtol, atol

    @property
    def options(self) -> dict[str, str]:
        """Provider options as a dict (what onnxruntime takes)."""
        return dict(self.provider_options)  # type: ignore[arg-type]

    @property
    def uses_io_binding(self) -> bool:
        """Whether inputs/outputs are bound on the device (GPU providers unless overridden)."""
        if self.io_binding is not None:
            return self.io_binding
        return self.provider in GPU_DEVICE_TYPES

    @property
    def device_type(self) -> str:
        """onnxruntime device type for IO binding (``cpu``, ``cuda``, ``dml``)."""
        return GPU_DEVICE_TYPES.get(self.provider, "cpu")

    @property
    def device_id(self) -> int:
        """Device index from the provider options (``device_id``), 0 by default."""
        try:
            return int(self.options.get("device_id", 0))
        except ValueError:
            return 0

    # -- identity -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; ``HardwareTarget.from_dict(t.to_dict()) == t``."""
        d = asdict(self)
        d["provider_options"] = dict(self.provider_options)  # type: ignore[arg-type]
        d["input_shape"] = list(self.input_shape) if self.input_shape else None
        d["percentiles"] = list(self.percentiles)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **overrides: Any) -> HardwareTarget:
        """Build from a dict (e.g. a YAML config); unknown keys are refused, naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TargetError(
                f"unknown HardwareTarget field(s) {unknown}; allowed fields: {sorted(known)}."
            )
        d = {**data, **overrides}
        if d.get("input_shape") is not None:
            d["input_shape"] = tuple(d["input_shape"])
        if d.get("percentiles") is not None:
            d["percentiles"] = tuple(d["percentiles"])
        return cls(**d)

    def fingerprint(self) -> str:
        """A short hash of everything that changes what a measurement means (cache key)."""
        d = {k: v for k, v in self.to_dict().items() if k not in _FINGERPRINT_EXCLUDE}
        for key in _FINGERPRINT_DEFAULT_NONE:  # the default keeps earlier caches' keys
            if d.get(key) is None:
                d.pop(key, None)
        blob = json.dumps(d, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
