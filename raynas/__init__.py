"""raynas: hardware-aware Neural Architecture Search as a Ray Tune plugin for PyTorch.

``import raynas`` is cheap: torch, Ray, onnxruntime and Lightning load on first use.
"""

from __future__ import annotations

from raynas.search_spaces.errors import InvalidConfigError, RaynasError, SpaceDefinitionError

__version__ = "0.1.0"

__all__ = ["InvalidConfigError", "RaynasError", "SpaceDefinitionError", "__version__"]
