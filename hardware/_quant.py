"""int8 quantization with onnxruntime, and the quantized model's accuracy.

* ``"static"``: QDQ format, per-channel int8 weights, int8 activations whose ranges are
  calibrated (MinMax) on input batches from the dataset.
* ``"dynamic"``: int8 weights of ``MatMul``/``Gemm`` (linear layers, attention projections),
  activations quantized at run time (no calibration data). Convolutions stay float: the CPU
  provider's ``ConvInteger`` kernel does not take int8 weights.

A quantized target (``HardwareTarget(quantization=...)``) is measured like any other: these
functions run inside the measuring process, before its session is created.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import TargetError

MODES = ("static", "dynamic")
DYNAMIC_OPS = ["MatMul", "Gemm"]


def _input_meta(model_bytes: bytes) -> tuple[str, int | None]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(model_bytes, sess_options=so, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    batch = inp.shape[0] if isinstance(inp.shape[0], int) and inp.shape[0] > 0 else None
    return inp.name, batch


def _batches(x: np.ndarray, batch: int | None) -> Iterator[tuple[np.ndarray, int]]:
    """``(batch array, number of real rows)``; the last batch is padded to a static batch."""
    if batch is None:
        batch = min(len(x), 64) or 1
    for i in range(0, len(x), batch):
        chunk = x[i : i + batch]
        n = len(chunk)
        if n < batch:
            pad = np.zeros((batch - n, *chunk.shape[1:]), dtype=chunk.dtype)
            chunk = np.concatenate([chunk, pad])
        yield chunk, n


def accuracy(model_bytes: bytes, x: np.ndarray, y: np.ndarray, *, threads: int = 1) -> float:
    """Top-1 accuracy (0..1) of an ONNX classifier on ``(x, y)`` with the CPU provider."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    s = ort.InferenceSession(model_bytes, sess_options=so, providers=["CPUExecutionProvider"])
    name, batch = s.get_inputs()[0].name, s.get_inputs()[0].shape[0]
    batch = batch if isinstance(batch, int) and batch > 0 else None
    dtype = np.int64 if s.get_inputs()[0].type == "tensor(int64)" else np.float32  # token ids
    preds = []
    for chunk, n in _batches(np.asarray(x, dtype=dtype), batch):
        out = s.run(None, {name: chunk})[0]
        preds.append(np.asarray(out).reshape(len(chunk), -1).argmax(axis=1)[:n])
    pred = np.concatenate(preds) if preds else np.zeros(0, dtype=int)
    return float(np.mean(pred == np.asarray(y).reshape(-1))) if len(pred) else float("nan")


def quantize(
    model_bytes: bytes,
    mode: str,
    *,
    calibration: np.ndarray | None = None,
    max_calibration_batches: int = 16,
) -> bytes:
    """Quantize an ONNX model to int8.

    Args:
        model_bytes: the float model.
        mode: ``"static"`` (QDQ, per channel, calibrated) or ``"dynamic"``.
        calibration: input samples ``(n, *input_shape)`` for ``"static"``; they are cut into
            the model's static batch (at most ``max_calibration_batches`` batches).

    Example:
        >>> import io, torch
        >>> buf = io.BytesIO()
        >>> torch.onnx.export(torch.nn.Linear(4, 3), (torch.randn(2, 4),), buf, dynamo=False)
        >>> q = quantize(buf.getvalue(), "dynamic")
        >>> len(q) > 0
        True
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    if mode not in MODES:
        raise TargetError(f"`quantization` must be one of {list(MODES)}, but got {mode!r}.")
    with tempfile.TemporaryDirectory(prefix="raynas-quant-") as tmp:
        src = os.path.join(tmp, "float.onnx")
        pre = os.path.join(tmp, "pre.onnx")
        dst = os.path.join(tmp, "int8.onnx")
        with open(src, "wb") as fh:
            fh.write(model_bytes)
        try:  # shape inference + graph optimization, as onnxruntime recommends before quantizing
            from onnxruntime.quantization.shape_inference import quant_pre_process

            quant_pre_process(src, pre, skip_symbolic_shape=True)
        except Exception:
            pre = src
        if mode == "dynamic":
            quantize_dynamic(
                pre,
                dst,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=DYNAMIC_OPS,
            )
        else:
            if calibration is None or len(calibration) == 0:
                raise TargetError(
                    "static quantization needs `calibration` data: a few input batches from "
                    "the dataset."
                )
            name, batch = _input_meta(model_bytes)
            cal = np.asarray(calibration, dtype=np.float32)
            feeds = [
                {name: chunk} for chunk, _ in list(_batches(cal, batch))[:max_calibration_batches]
            ]

            class _Reader(CalibrationDataReader):  # type: ignore[misc]
                def __init__(self) -> None:
                    self._it = iter(feeds)

                def get_next(self) -> dict[str, np.ndarray] | None:
                    return next(self._it, None)

                def rewind(self) -> None:
                    self._it = iter(feeds)

            quantize_static(
                pre,
                dst,
                _Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
            )
        with open(dst, "rb") as out:
            return out.read()


def quantize_and_score(
    model_bytes: bytes,
    mode: str,
    *,
    calibration: Any = None,
    eval_x: Any = None,
    eval_y: Any = None,
    threads: int = 1,
) -> tuple[bytes, float | None, float | None]:
    """Quantize, then score the float and the int8 model on ``(eval_x, eval_y)`` if given.

    Returns:
        ``(int8 model bytes, float accuracy, int8 accuracy)``.
    """
    q = quantize(model_bytes, mode, calibration=calibration)
    if eval_x is None or eval_y is None:
        return q, None, None
    x, y = np.asarray(eval_x), np.asarray(eval_y)
    return q, accuracy(model_bytes, x, y, threads=threads), accuracy(q, x, y, threads=threads)
