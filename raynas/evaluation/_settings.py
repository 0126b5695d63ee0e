"""Performance-estimation settings and the training hyperparameters read from a config."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from raynas.evaluation.errors import EvaluationError

#: Config keys that control how long and on what a candidate trains (not architecture).
CONTROL_KEYS: tuple[str, ...] = ("seed", "max_epochs", "train_fraction", "time_budget_s")

#: Config keys read as training hyperparameters, with their defaults when a config lacks them.
TRAINING_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "weight_decay": 0.0,
    "batch_size": 64,
    "optimizer": "adam",
    "lr_schedule": "constant",
    "momentum": 0.9,
}

OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd")
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine", "step")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class EvaluationSettings:
    """How each candidate is trained and scored (performance estimation controls).

    A trial config may override ``max_epochs`` (or ``epochs``, when the space searches it),
    ``train_fraction``, ``time_budget_s`` and ``seed`` per candidate.

    Args:
        max_epochs: epochs to train a candidate that is not stopped earlier.
        train_fraction: share of the training split used (a fixed seeded subset for raynas
            datasets; ``limit_train_batches`` for a user's own DataModule).
        time_budget_s: training time per candidate; the epoch that crosses it is the last one
            (checked at epoch ends). None: no limit.
        seed: seeds weight initialisation, dropout and shuffling (same seed, same metrics on
            CPU).
        checkpoint_every: save a checkpoint with every n-th epoch report (and the last one).
        num_threads: torch CPU threads in a trial; None uses the trial's CPU count.

    Example:
        >>> s = EvaluationSettings(max_epochs=5).for_config({"seed": 3, "lr": 0.1})
        >>> s.max_epochs, s.seed
        (5, 3)
    """

    max_epochs: int = 10
    train_fraction: float = 1.0
    time_budget_s: float | None = None
    seed: int = 0
    checkpoint_every: int = 1
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.max_epochs) or self.max_epochs < 1:
            raise EvaluationError(f"`max_epochs` must be an int >= 1, but got {self.max_epochs!r}.")
        if not _is_real(self.train_fraction) or not 0 < self.train_fraction <= 1:
            raise EvaluationError(
                f"`train_fraction` must be a number in (0, 1], but got {self.train_fraction!r}."
            )
        if self.time_budget_s is not None and (
            not _is_real(self.time_budget_s) or self.time_budget_s <= 0
        ):
            raise EvaluationError(
                f"`time_budget_s` must be a positive number or None, but got "
                f"{self.time_budget_s!r}."
            )
        if not _is_int(self.seed) or self.seed < 0:
            raise EvaluationError(f"`seed` must be an int >= 0, but got {self.seed!r}.")
        if not _is_int(self.checkpoint_every) or self.checkpoint_every < 0:
            raise EvaluationError(
                f"`checkpoint_every` must be an int >= 0 (0: never), but got "
                f"{self.checkpoint_every!r}."
            )
        if self.num_threads is not None and (not _is_int(self.num_threads) or self.num_threads < 1):
            raise EvaluationError(
                f"`num_threads` must be an int >= 1 or None, but got {self.num_threads!r}."
            )
        # numpy scalars from searchers become plain Python numbers
        object.__setattr__(self, "max_epochs", int(self.max_epochs))
        object.__setattr__(self, "train_fraction", float(self.train_fraction))
        object.__setattr__(self, "seed", int(self.seed))
        if self.time_budget_s is not None:
            object.__setattr__(self, "time_budget_s", float(self.time_budget_s))

    def for_config(self, config: Mapping[str, Any]) -> EvaluationSettings:
        """These settings with the per-candidate overrides found in ``config``."""
        changes: dict[str, Any] = {}
        if "epochs" in config and config["epochs"] is not None:
            changes["max_epochs"] = config["epochs"]
        for key in CONTROL_KEYS:
            if key in config and config[key] is not None:
                changes[key] = config[key]
        return replace(self, **changes) if changes else self


def training_hparams(config: Mapping[str, Any]) -> dict[str, Any]:
    """The optimizer, schedule, weight decay and batch size of ``config``, checked.

    Missing keys take :data:`TRAINING_DEFAULTS`.

    Raises:
        EvaluationError: naming the key, the value and what is allowed.
    """
    hp = {k: v if config.get(k) is None else config[k] for k, v in TRAINING_DEFAULTS.items()}
    if not _is_real(hp["learning_rate"]) or hp["learning_rate"] <= 0:
        raise EvaluationError(
            f"`learning_rate` must be a positive number, but got {hp['learning_rate']!r}."
        )
    if not _is_real(hp["weight_decay"]) or hp["weight_decay"] < 0:
        raise EvaluationError(
            f"`weight_decay` must be a number >= 0, but got {hp['weight_decay']!r}."
        )
    if not _is_int(hp["batch_size"]) or hp["batch_size"] < 1:
        raise EvaluationError(f"`batch_size` must be an int >= 1, but got {hp['batch_size']!r}.")
    if hp["optimizer"] not in OPTIMIZERS:
        raise EvaluationError(
            f"`optimizer` must be one of {list(OPTIMIZERS)}, but got {hp['optimizer']!r}."
        )
    if hp["lr_schedule"] not in LR_SCHEDULES:
        raise EvaluationError(
            f"`lr_schedule` must be one of {list(LR_SCHEDULES)}, but got {hp['lr_schedule']!r}."
        )
    if not _is_real(hp["momentum"]) or not 0 <= hp["momentum"] < 1:
        raise EvaluationError(f"`momentum` must be a number in [0, 1), but got {hp['momentum']!r}.")
    hp["batch_size"] = int(hp["batch_size"])
    for key in ("learning_rate", "weight_decay", "momentum"):
        hp[key] = float(hp[key])
    return hp
