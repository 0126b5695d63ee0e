"""Search spaces: primitives, the define-by-run ``hp`` API and the built-in spaces.

Importing this package imports neither torch nor Ray; a space's ``build`` does, when called.
"""

from __future__ import annotations

from typing import Any

from ._define_by_run import DefineByRunSpace, HyperParameters
from ._domains import Boolean, Choice, Domain, Fixed, Float, Int
from ._structure import Repeat, SearchSpace, Struct, When
from .errors import InvalidConfigError, RaynasError, SpaceDefinitionError

_BUILTIN = {
    "MLPSpace": "._mlp",
    "NB201CellSpace": "._nb201",
    "MobileBlockSpace": "._mobile",
    "TransformerSpace": "._transformer",
}

__all__ = [
    "Boolean",
    "Choice",
    "DefineByRunSpace",
    "Domain",
    "Fixed",
    "Float",
    "HyperParameters",
    "Int",
    "InvalidConfigError",
    "RaynasError",
    "Repeat",
    "SearchSpace",
    "SpaceDefinitionError",
    "Struct",
    "When",
    *_BUILTIN,
]


def __getattr__(name: str) -> Any:
    if name in _BUILTIN:
        import importlib

        module = importlib.import_module(_BUILTIN[name], __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
