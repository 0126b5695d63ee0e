"""Hardware-aware measurement: ONNX export, onnxruntime latency and energy, int8, predictors.

Every candidate's cost is measured on the target device through an onnxruntime execution
provider, in a separate process (or a Ray task on the node that advertises the device's
resource), and cached per inference graph (the ONNX graph without its weights' values) and
target. Providers are onnxruntime's built-in ones or plugin EPs registered at run time
(``HardwareTarget(provider="OpenVINOExecutionProvider", device="CPU")``; see
:func:`list_providers`).

Importing this package imports neither torch nor onnxruntime: names load on first use.

Example:
    >>> import torch
    >>> from raynas.hardware import HardwareTarget, measure
    >>> cpu = HardwareTarget(name="cpu1", intra_op_threads=1, input_shape=(8,),
    ...                      min_runs=10, min_seconds=0.05, exporter="torchscript")
    >>> m = measure(torch.nn.Linear(8, 2), cpu)
    >>> m.feasible and m.p50_ms > 0
    True
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ExportError, HardwareError, ProviderUnavailableError, TargetError

_LAZY = {
    "HardwareTarget": "._target",
    "available_providers": "._target",
    "list_providers": "._providers",
    "graph_key": "._cache",
    "Measurement": "._measurement",
    "measure": "._measure",
    "export_onnx": "._export",
    "ExportResult": "._export",
    "count_flops": "._export",
    "count_params": "._export",
    "EnergyMeter": "._energy",
    "RaplMeter": "._energy",
    "NvmlMeter": "._energy",
    "make_meter": "._energy",
    "MeasurementCache": "._cache",
    "ProcessRunner": "._runner",
    "local_resources": "._remote",
    "quantize": "._quant",
    "accuracy": "._quant",
    "LatencyPredictor": "._predictor",
    "PredictorReport": "._predictor",
    "HardwareObjective": "._objective",
    "with_hardware": "._objective",
    "parse_constraint": "._constraints",
}

__all__ = [
    "ExportError",
    "HardwareError",
    "ProviderUnavailableError",
    "TargetError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name], __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
