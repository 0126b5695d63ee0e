"""torch -> ONNX export with a fallback exporter, a checker and an output parity check.

Also the static costs of a torch model: parameter count and FLOPs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ExportError, TargetError

EXPORTERS = ("auto", "dynamo", "torchscript")
# (rtol, atol) of the parity check per input dtype; atol is scaled by max(1, max |torch output|).
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-6, 1e-8),
    "float32": (1e-3, 1e-4),
    "float16": (1e-2, 1e-2),
    "bfloat16": (4e-2, 4e-2),
    "int64": (1e-3, 1e-4),
    "int32": (1e-3, 1e-4),
}
DEFAULT_OPSET = 18
INPUT_NAME = "input"


@dataclass(frozen=True)
class ExportResult:
    """An exported model and what is needed to check it against torch.

    Attributes:
        onnx: the serialized ONNX model.
        exporter: ``"dynamo"`` or ``"torchscript"``.
        opset: the ONNX opset.
        note: why the dynamo exporter was not used (its error), when the fallback ran.
        sample_input: the input the export and the parity check used (batch included).
        torch_outputs: torch's outputs on ``sample_input``.
        rtol, atol: the parity tolerance for this dtype.
        parity_max_abs_diff: largest |onnxruntime - torch| difference, when checked here.
    """

    onnx: bytes
    exporter: str
    opset: int
    note: str | None
    sample_input: np.ndarray
    torch_outputs: list[np.ndarray]
    rtol: float
    atol: float
    parity_max_abs_diff: float | None = None

    def reference(self) -> dict[str, Any]:
        """The parity reference sent to the measuring process."""
        return {
            "input": self.sample_input,
            "outputs": self.torch_outputs,
            "rtol": self.rtol,
            "atol": self.atol,
        }


def _reason(exc: BaseException, limit: int = 600) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    short = " ".join(lines[:4])
    return short if len(short) <= limit else short[: limit - 3] + "..."


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress prints, deprecation warnings and registry logs."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


def make_input(
    input_shape: Sequence[int], batch_size: int, dtype: str = "float32", seed: int = 0
) -> np.ndarray:
    """A seeded sample input of shape ``(batch_size, *input_shape)``."""
    rng = np.random.default_rng(seed)
    shape = (batch_size, *input_shape)
    if dtype.startswith("int"):
        return rng.integers(0, 2, size=shape).astype(dtype)
    if dtype == "bfloat16":
        return rng.standard_normal(shape).astype("float32")
    return rng.standard_normal(shape).astype(dtype)


def _to_tensor(x: np.ndarray, dtype: str, device: Any) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=_torch_dtype(dtype))


@contextlib.contextmanager
def full_fp32(device: Any) -> Iterator[None]:
    """Run float32 convolutions and matrix products of a CUDA device in IEEE float32 inside.

    torch runs cuDNN convolutions in TF32 (10-bit mantissa) by default on Ampere and newer
    GPUs, so the reference outputs of a model that lives on the GPU (a candidate just trained
    there) differ from the float32 ONNX graph by far more than the parity tolerance. The
    previous settings come back on exit; CPU devices are left alone.
    """
    import torch

    if getattr(device, "type", device) != "cuda":
        yield
        return
    # torch's backend modules set these attributes at run time (mypy cannot see them)
    conv: Any = getattr(torch.backends.cudnn, "conv", None)
    rnn: Any = getattr(torch.backends.cudnn, "rnn", None)
    matmul: Any = torch.backends.cuda.matmul
    if hasattr(conv, "fp32_precision"):  # torch >= 2.9; mixing it with allow_tf32 is an error
        saved = conv.fp32_precision, rnn.fp32_precision, matmul.fp32_precision
        conv.fp32_precision = rnn.fp32_precision = matmul.fp32_precision = "ieee"
        try:
            yield
        finally:
            conv.fp32_precision, rnn.fp32_precision, matmul.fp32_precision = saved
        return
    saved_legacy = torch.backends.cudnn.allow_tf32, matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, matmul.allow_tf32 = saved_legacy


def _flatten_outputs(out: Any) -> list[np.ndarray]:
    import torch

    if isinstance(out, torch.Tensor):
        return [
            out.detach().float().cpu().numpy() if out.is_floating_point() else out.cpu().numpy()
        ]
    if isinstance(out, (list, tuple)):
        return [a for o in out for a in _flatten_outputs(o)]
    if isinstance(out, dict):
        return [a for k in out for a in _flatten_outputs(out[k])]
    raise ExportError(f"the model returned {type(out).__name__}; ONNX export needs tensors.")


def _model_device(model: Any) -> Any:
    import torch

    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


#: torchlib op registries by opset, built once per process (see :func:`_cached_export`).
_REGISTRIES: dict[int, Any] = {}


def _cached_export(model: Any, x: Any, opset: int) -> Any:
    """``torch.onnx.export(dynamo=True)`` with the torchlib registry built once per process.

    The public call rebuilds its registry of ATen -> ONNX translations, parsing torchlib's
    source, on every export: most of its cost for a small model (``benchmarks/hardware_cost.py``:
    1.08 s -> 0.27 s for an MLP). The registry is read-only during an export, so this calls the
    exporter's core with a cached one. It is
    torch's internal API: returns None when this torch does not have it (the caller then uses
    the public call).
    """
    try:
        from torch.onnx._internal.exporter import _constants, _core, _registration
    except ImportError:
        return None
    registry_opset = max(opset, int(getattr(_constants, "TORCHLIB_OPSET", opset)))
    registry = _REGISTRIES.get(registry_opset)
    if registry is None:
        try:
            registry = _registration.ONNXRegistry.from_torchlib(opset_version=registry_opset)
        except (AttributeError, TypeError):
            return None
        _REGISTRIES[registry_opset] = registry
    try:
        return _core.export(
            model,
            (x,),
            registry=registry,
            input_names=[INPUT_NAME],
            verbose=False,
            optimize=True,
            opset_version=opset,
        )
    except TypeError as e:  # another torch's signature, not the model's fault
        if "argument" not in str(e):
            raise
        return None


def _export_dynamo(model: Any, x: Any, opset: int) -> bytes:
    import torch

    with _quiet():
        program = _cached_export(model, x, opset)
        if program is None:
            program = torch.onnx.export(
                model,
                (x,),
                dynamo=True,
                opset_version=opset,
                external_data=False,
                optimize=True,
                verbose=False,
                input_names=[INPUT_NAME],
            )
    if program is None:  # pragma: no cover - only when f is given
        raise ExportError("the dynamo exporter returned no program.")
    return program.model_proto.SerializeToString()  # type: ignore[no-any-return]


def _export_torchscript(model: Any, x: Any, opset: int) -> bytes:
    import torch

    buf = io.BytesIO()
    with _quiet():
        torch.onnx.export(
            model,
            (x,),
            buf,  # type: ignore[arg-type]  # file-like objects work with the TorchScript exporter
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            do_constant_folding=True,
        )
    return buf.getvalue()


def _check(onnx_bytes: bytes) -> None:
    import onnx

    onnx.checker.check_model(onnx.load_from_string(onnx_bytes))


def export_onnx(
    model: Any,
    *,
    input_shape: Sequence[int],
    batch_size: int = 1,
    dtype: str = "float32",
    opset: int = DEFAULT_OPSET,
    exporter: str = "auto",
    check_parity: bool = True,
    seed: int = 0,
) -> ExportResult:
    """Export ``model`` with a static batch, check it, and compare its outputs with torch.

    ``exporter="auto"`` uses the current exporter (``torch.onnx.export(..., dynamo=True)``) and
    falls back to the TorchScript exporter when it fails, recording the first error in
    ``note``. The model is exported in eval mode; its ``training`` flag is restored afterwards.

    Args:
        model: a ``torch.nn.Module``.
        input_shape: one input's shape without the batch dimension.
        batch_size: the static batch dimension of the exported graph.
        dtype: input dtype; also selects the parity tolerance (:data:`TOLERANCES`).
        opset: ONNX opset version.
        exporter: ``"auto"``, ``"dynamo"`` or ``"torchscript"``.
        check_parity: run the model in onnxruntime (CPU) here and compare with torch.
            :func:`~raynas.hardware.measure` turns this off and checks in its measuring process.
        seed: seed of the sample input.

    Raises:
        ExportError: every exporter failed, the torch output is not finite, or the ONNX
            outputs differ from torch's beyond the tolerance. The message is the reason.

    Example:
        >>> import torch
        >>> res = export_onnx(torch.nn.Linear(4, 2), input_shape=(4,), exporter="torchscript")
        >>> res.exporter, res.parity_max_abs_diff < 1e-5
        ('torchscript', True)
    """
    import torch

    if exporter not in EXPORTERS:
        raise TargetError(f"`exporter` must be one of {list(EXPORTERS)}, but got {exporter!r}.")
    if dtype not in TOLERANCES:
        raise TargetError(f"`dtype` must be one of {sorted(TOLERANCES)}, but got {dtype!r}.")
    rtol, atol = TOLERANCES[dtype]
    was_training = model.training
    model.eval()
    try:
        sample = make_input(input_shape, batch_size, dtype, seed)
        x = _to_tensor(sample, dtype, _model_device(model))
        try:
            with torch.no_grad(), full_fp32(x.device):
                outputs = _flatten_outputs(model(x))
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"the model fails on a sample input: {_reason(exc)}") from exc
        if not all(np.all(np.isfinite(o)) for o in outputs if o.dtype.kind == "f"):
            raise ExportError("the torch output on a sample input contains NaN or inf.")
        order = ["dynamo", "torchscript"] if exporter == "auto" else [exporter]
        errors: list[str] = []
        onnx_bytes, used = b"", ""
        for name in order:
            fn = _export_dynamo if name == "dynamo" else _export_torchscript
            try:
                candidate = fn(model, x, opset)
                _check(candidate)
            except Exception as exc:
                errors.append(f"{name} exporter: {_reason(exc)}")
                continue
            onnx_bytes, used = candidate, name
            break
        if not used:
            raise ExportError("; ".join(errors))
    finally:
        model.train(was_training)
    result = ExportResult(
        onnx=onnx_bytes,
        exporter=used,
        opset=opset,
        note=errors[0] if errors else None,
        sample_input=sample.astype("float32") if dtype == "bfloat16" else sample,
        torch_outputs=outputs,
        rtol=rtol,
        atol=atol,
    )
    if check_parity:
        diff = check_parity_cpu(onnx_bytes, result.reference())
        if not diff["ok"]:
            raise ExportError(diff["reason"])
        result = ExportResult(**{**result.__dict__, "parity_max_abs_diff": diff["max_abs_diff"]})
    return result


def check_parity_cpu(onnx_bytes: bytes, reference: dict[str, Any]) -> dict[str, Any]:
    """Run the model on onnxruntime's CPU provider and compare with the torch reference."""
    import onnxruntime as ort

    from ._protocol import parity

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    session = ort.InferenceSession(onnx_bytes, sess_options=so, providers=["CPUExecutionProvider"])
    return parity(session, reference)


def count_params(model: Any) -> int:
    """Number of parameters of a torch module."""
    return int(sum(p.numel() for p in model.parameters()))


def count_flops(model: Any, input_shape: Sequence[int], dtype: str = "float32") -> int | None:
    """FLOPs of one forward pass of one sample, by ``torch.utils.flop_counter.FlopCounterMode``.

    Returns ``None`` when the model cannot run under the counter.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        x = _to_tensor(make_input(input_shape, 1, dtype), dtype, _model_device(model))
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(x)
        return int(counter.get_total_flops())
    except Exception:
        return None
    finally:
        model.train(was_training)


def onnx_params(onnx_bytes: bytes) -> int:
    """Number of elements in an ONNX model's initializers (its parameters)."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    total = 0
    for init in model.graph.initializer:
        n = 1
        for d in init.dims:
            n *= int(d)
        total += n
    return total
