"""KerasTuner's objectives in raynas's names: ``"val_accuracy"`` is ``val_acc:max``.

KerasTuner names the metrics of ``model.fit``'s history; raynas's trials report
``val_acc``, ``val_loss``, ``train_acc``, ``train_loss`` (and ``val_mae`` for regression, the
hardware targets' ``latency_p50_ms``...). :data:`KERAS_METRICS` maps the one to the other, and a
direction is inferred as KerasTuner does, or refused when it cannot be.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from raynas.frontdoor.names import ConfigError
from raynas.objectives import Objective as RaynasObjective

#: KerasTuner's (Keras's history) metric names -> the metric a raynas trial reports.
KERAS_METRICS: dict[str, str] = {
    "val_accuracy": "val_acc",
    "val_acc": "val_acc",
    "val_loss": "val_loss",
    "accuracy": "train_acc",
    "acc": "train_acc",
    "loss": "train_loss",
    "val_mae": "val_mae",
    "val_mean_absolute_error": "val_mae",
}

_MAX = re.compile(r"(^|_)acc$")
_MIN = re.compile(r"(loss|mae|latency|energy|memory|bytes|params|flops|time)")

DIRECTIONS = ("min", "max")


@dataclass(frozen=True)
class Objective:
    """A metric and its direction, as ``keras_tuner.Objective(name, direction)`` spells it.

    Args:
        name: a KerasTuner name (``"val_accuracy"``, ``"val_loss"``, ``"accuracy"``, ``"loss"``)
            or any metric a raynas trial reports (``"latency_p50_ms"``, ``"params"``...).
        direction: ``"min"`` or ``"max"``.

    Example:
        >>> Objective("val_accuracy", "max").to_raynas()
        Objective(name='val_acc', mode='max', constraint=None)
    """

    name: str
    direction: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"`Objective.name` must be a non-empty str, but got {self.name!r}.")
        if self.direction not in DIRECTIONS:
            raise ConfigError(
                f"`Objective.direction` of `{self.name}` must be one of {list(DIRECTIONS)}, but "
                f"got {self.direction!r}."
            )

    def to_raynas(self) -> RaynasObjective:
        """The raynas objective: the metric's raynas name with this direction."""
        return RaynasObjective(KERAS_METRICS.get(self.name, self.name), self.direction)


def infer_direction(name: str) -> str | None:
    """``"max"`` for accuracies, ``"min"`` for losses, errors and costs, else None."""
    if _MAX.search(name):
        return "max"
    if _MIN.search(name):
        return "min"
    return None


def to_objectives(objective: Any) -> list[RaynasObjective]:
    """KerasTuner's ``objective`` argument (a name, an :class:`Objective`, or a list of them) as
    raynas objectives; raynas's own spellings (``"latency_p50_ms:min"``, ``"params <= 1e5"``)
    are taken too."""
    specs = objective if isinstance(objective, (list, tuple)) else [objective]
    if not specs:
        raise ConfigError("`objective` must name at least one metric, but got an empty list.")
    out = []
    for i, spec in enumerate(specs):
        where = "objective" if not isinstance(objective, (list, tuple)) else f"objective[{i}]"
        out.append(_one(spec, where))
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"`objective` names a metric twice: {names}.")
    return out


def _one(spec: Any, where: str) -> RaynasObjective:
    if isinstance(spec, Objective):
        return spec.to_raynas()
    if isinstance(spec, RaynasObjective):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(
            f"`{where}` must be a metric name such as 'val_accuracy', a "
            f"raynas.tuners.Objective(name, direction) or a list of them, but got {spec!r}."
        )
    if ":" in spec or any(c in spec for c in "<>="):
        from raynas.objectives import ObjectiveError

        try:
            parsed = RaynasObjective.parse(spec)
        except ObjectiveError as e:
            raise ConfigError(f"`{where}`: {e}") from e
        return RaynasObjective(
            KERAS_METRICS.get(parsed.name, parsed.name), parsed.mode, parsed.constraint
        )
    name = KERAS_METRICS.get(spec.strip(), spec.strip())
    direction = infer_direction(name)
    if direction is None:
        raise ConfigError(
            f"`{where}` = {spec!r}: cannot infer whether to minimize or maximize it; give it as "
            f"Objective({spec!r}, 'min') or Objective({spec!r}, 'max')."
        )
    return RaynasObjective(name, direction)


def keras_name(name: str) -> str:
    """The KerasTuner spelling of a raynas metric (for summaries): ``val_acc`` ->
    ``val_accuracy``; other names as they are."""
    back = {"val_acc": "val_accuracy", "train_acc": "accuracy", "train_loss": "loss"}
    return back.get(name, name)


def describe(objectives: Sequence[RaynasObjective]) -> str:
    return ", ".join(f"Objective(name={o.name!r}, direction={o.mode!r})" for o in objectives)
