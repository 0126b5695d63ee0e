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

from raynas.frontdoor import ConfigError, SearchOptions, resume, search
from raynas.frontdoor import results as load_results
from raynas.objectives import Objective
from raynas.search_spaces.errors import InvalidConfigError, RaynasError, SpaceDefinitionError

__version__ = "0.1.0"

#: Public names that load on first use (they pull in torch or Ray).
_LAZY = {
    "NASTrainable": ("raynas.evaluation._trainable", "NASTrainable"),
    "NASResults": ("raynas.results", "NASResults"),
}

__all__ = [
    "ConfigError",
    "InvalidConfigError",
    "NASResults",
    "NASTrainable",
    "Objective",
    "RaynasError",
    "SearchOptions",
    "SpaceDefinitionError",
    "__version__",
    "load_results",
    "resume",
    "search",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
