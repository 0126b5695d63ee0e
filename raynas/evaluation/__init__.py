"""Evaluation: candidates as Lightning modules, trained and scored inside Ray Tune trials.

``import raynas.evaluation`` is cheap (no torch, Ray or Lightning); the classes load on first use.

- :class:`NASTrainable`: the Tune function trainable (one candidate per trial, per-epoch
  reports and checkpoints, failures as results).
- :class:`DataParallelTrainable`: one candidate trained data-parallel on several workers/GPUs
  with Ray Train's ``TorchTrainer``, run as a Tune trial.
- :class:`CandidateModule`: the LightningModule wrapping a built network and its training
  hyperparameters.
- :data:`REPORTED_METRICS`, :data:`TASK_METRICS`: the keys every report carries.
- :func:`run_candidate`: the trial body without Tune (with :class:`InMemoryReporter`).
"""

from __future__ import annotations

from typing import Any

from raynas.evaluation._metrics import REPORTED_METRICS, TASK_METRICS, reported_metrics
from raynas.evaluation._settings import (
    CONTROL_KEYS,
    LR_SCHEDULES,
    OPTIMIZERS,
    TRAINING_DEFAULTS,
    EvaluationSettings,
    training_hparams,
)
from raynas.evaluation.errors import CandidateFailure, EvaluationError, NonFiniteLossError

_LAZY = {
    "CandidateModule": "raynas.evaluation._module",
    "NASTrainable": "raynas.evaluation._trainable",
    "DataParallelTrainable": "raynas.evaluation._distributed",
    "FlopsObjective": "raynas.evaluation._costs",
    "count_flops": "raynas.evaluation._costs",
    "count_params": "raynas.evaluation._costs",
    "run_candidate": "raynas.evaluation._runner",
    "InMemoryReporter": "raynas.evaluation._reporters",
    "TuneReporter": "raynas.evaluation._reporters",
    "TrainReporter": "raynas.evaluation._reporters",
    "ReportCallback": "raynas.evaluation._callback",
    "is_out_of_memory": "raynas.evaluation._failures",
}

__all__ = [
    "CONTROL_KEYS",
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "REPORTED_METRICS",
    "TASK_METRICS",
    "TRAINING_DEFAULTS",
    "CandidateFailure",
    "EvaluationError",
    "EvaluationSettings",
    "NonFiniteLossError",
    "reported_metrics",
    "training_hparams",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
