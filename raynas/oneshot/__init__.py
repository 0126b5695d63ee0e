"""One-shot NAS: supernets, gradient-based search (DARTS, GDAS) and weight-sharing evaluation.

``import raynas.oneshot`` is cheap; torch, Lightning and Ray load when a class is first used.

- :class:`NB201Supernet`, :class:`MobileSupernet`: every config of the space is a path of the
  supernet; ``extract(config)`` gives the stand-alone module with the sliced weights.
- :class:`DARTS`, :class:`GDAS`: bi-level gradient search over the cell supernet as Lightning
  modules; :class:`AuxiliarySkip` (DARTS-) is the shipped collapse mitigation,
  :func:`collapse_report` the collapse detector.
- :class:`SPOS`: single-path one-shot supernet training with uniform path sampling;
  :class:`WeightSharingEvaluator` scores configs with inherited weights.
- :func:`supernet_trainable`, :func:`weight_sharing_trainable`: the Tune function trainables.
"""

from __future__ import annotations

from typing import Any

from .errors import OneShotError

_LAZY = {
    "NB201Supernet": "._nb201_supernet",
    "MixedCell": "._nb201_supernet",
    "MobileSupernet": "._mobile_supernet",
    "DARTS": "._gradient",
    "GDAS": "._gradient",
    "GradientSearch": "._gradient",
    "bilevel_loader": "._gradient",
    "Mitigation": "._mitigation",
    "AuxiliarySkip": "._mitigation",
    "EigenvalueEarlyStop": "._mitigation",
    "CollapseReport": "._collapse",
    "collapse_report": "._collapse",
    "hessian_eigenvalue": "._collapse",
    "skip_share": "._collapse",
    "Splits": "._data",
    "SPOS": "._spos",
    "supernet_of": "._spos",
    "WeightSharingEvaluator": "._evaluator",
    "recalibrate_batch_norm": "._evaluator",
    "save_supernet": "._io",
    "load_supernet": "._io",
    "supernet_bytes": "._io",
    "make_search": "._trainable",
    "supernet_trainable": "._trainable",
    "weight_sharing_trainable": "._trainable",
    "TuneReportCheckpoint": "._trainable",
    "METHODS": "._methods",
    "GRADIENT_METHODS": "._methods",
    "load_splits": "._data",
}

__all__ = ["OneShotError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
