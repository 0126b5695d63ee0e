"""raynas: hardware-aware Neural Architecture Search as a Ray Tune plugin for PyTorch.

``import raynas`` is cheap: torch, Ray, onnxruntime and Lightning load on first use.
"""

from __future__ import annotations

from typing import Any

from raynas.search_spaces.errors import InvalidConfigError, RaynasError, SpaceDefinitionError

__version__ = "0.1.0"

__all__ = [
    "InvalidConfigError",
    "NASTrainable",
    "RaynasError",
    "SpaceDefinitionError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # heavy classes load on first use, so `import raynas` stays free of torch and Ray
    if name == "NASTrainable":
        from raynas.evaluation._trainable import NASTrainable

        return NASTrainable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
