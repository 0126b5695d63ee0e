"""Schedulers: multi-objective early stopping and population-based training of architectures.

``import raynas.schedulers`` is cheap; Ray and torch load when a class is first used.

- :class:`MultiObjectiveASHA`: asynchronous successive halving promoting by Pareto rank and
  crowding distance over several objectives with constraints; exposes the Pareto set and its
  hypervolume.
- :class:`KerasTunerHyperband`: Ray's HyperBand with KerasTuner's brackets (:func:`keras_brackets`),
  promoted trials resuming from their checkpoints; several objectives promote by Pareto rank.
- :class:`ArchitecturePBT`: population-based training whose explore step also mutates the
  architecture; the trainable carries the weights over with :func:`inherit_weights`
  (:func:`transfer_weights` underneath).
- :func:`transfer_weights`, :func:`morph`: copy, slice, pad and Net2Net-widen the weights of one
  network into another of the same space.
- :func:`joint_pbt`, :func:`pbt_mutations`: Ray's ``PopulationBasedTraining`` / ``PB2`` set up to
  tune a space's training hyperparameters jointly with the architecture search.
- :func:`budget_of`, :func:`reached_fidelity`: the fidelity a trial stopped early reached, for
  searchers that tell it to their strategy.
"""

from __future__ import annotations

from typing import Any

from raynas.schedulers.errors import SchedulerError, TransferError

_LAZY = {
    "MultiObjectiveASHA": "raynas.schedulers._moasha",
    "KerasTunerHyperband": "raynas.schedulers._brackets",
    "keras_brackets": "raynas.schedulers._brackets",
    "ParetoEntry": "raynas.schedulers._moasha",
    "rank_and_crowding": "raynas.schedulers._moasha",
    "ArchitecturePBT": "raynas.schedulers._arch_pbt",
    "inherit_weights": "raynas.schedulers._arch_pbt",
    "adapt_checkpoint": "raynas.schedulers._restore",
    "transfer_weights": "raynas.schedulers._transfer",
    "morph": "raynas.schedulers._transfer",
    "TransferReport": "raynas.schedulers._transfer",
    "unit_groups": "raynas.schedulers._transfer",
    "budget_of": "raynas.schedulers._fidelity",
    "reached_fidelity": "raynas.schedulers._fidelity",
    "joint_pbt": "raynas.schedulers._joint",
    "pbt_mutations": "raynas.schedulers._joint",
    "pb2_bounds": "raynas.schedulers._joint",
    "pb2_available": "raynas.schedulers._joint",
    "SnapToSpace": "raynas.schedulers._joint",
    "SeededPBT": "raynas.schedulers._seeded",
    "SeededPB2": "raynas.schedulers._seeded",
    "architecture_keys": "raynas.schedulers._joint",
    "training_keys": "raynas.schedulers._joint",
}

__all__ = ["SchedulerError", "TransferError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
