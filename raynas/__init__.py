"""raynas: hardware-aware Neural Architecture Search as a Ray Tune plugin for PyTorch.

``import raynas`` is cheap: torch, Ray, onnxruntime and Lightning load on first use.

Example:
    >>> import raynas
    >>> # results = raynas.search("mlp", "digits", objectives=["val_acc", "latency_p50_ms:min"],
    >>> #                         strategy="nsga2", scheduler="moasha", budget=24)
    >>> # results.pareto_front(); results.export("out")
"""

from __future__ import annotations

import importlib
from typing import Any

from raynas.objectives import Objective
from raynas.search_spaces.errors import InvalidConfigError, RaynasError, SpaceDefinitionError

__version__ = "0.1.0"

#: Public names that load on first use (they pull in torch or Ray).
_LAZY = {
    "NASTrainable": ("raynas.evaluation._trainable", "NASTrainable"),
    "NASResults": ("raynas.results", "NASResults"),
    "resume": ("raynas.api", "resume"),
    "load_results": ("raynas.api", "results"),
}

__all__ = [
    "InvalidConfigError",
    "NASResults",
    "NASTrainable",
    "Objective",
    "RaynasError",
    "SpaceDefinitionError",
    "__version__",
    "load_results",
    "resume",
    "search",
]


def __getattr__(name: str) -> Any:
    if name == "search":  # the module raynas.search is callable: raynas.search(space, data, ...)
        return importlib.import_module("raynas.search")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
