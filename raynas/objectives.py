"""Objectives: a named metric with a direction and an optional constraint.

Pure Python: strategies, schedulers and results all speak this one type.

Example:
    >>> acc = Objective("val_acc", "max")
    >>> lat = Objective("latency_p50_ms", "min", constraint=("<=", 5.0))
    >>> lat.violation(7.5)
    2.5
    >>> Objective.parse("latency_p50_ms <= 5")
    Objective(name='latency_p50_ms', mode='min', constraint=('<=', 5.0))
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raynas.search_spaces.errors import RaynasError

MODES = ("min", "max")
_OPS = ("<=", ">=", "<", ">")


class ObjectiveError(RaynasError, ValueError):
    """An objective or constraint is specified badly."""


@dataclass(frozen=True)
class Objective:
    """A metric to minimize or maximize, optionally constrained (``("<=", 5.0)``).

    Args:
        name: the metric's key in the trial's reports.
        mode: ``"min"`` or ``"max"``.
        constraint: ``(op, bound)`` with op one of ``<=``, ``>=``, ``<``, ``>``; candidates that
            break it are infeasible.
    """

    name: str
    mode: str = "max"
    constraint: tuple[str, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ObjectiveError(
                f"`name` of an objective must be a non-empty str, got {self.name!r}."
            )
        if self.mode not in MODES:
            raise ObjectiveError(
                f"`mode` of objective `{self.name}` must be one of {list(MODES)}, "
                f"but got {self.mode!r}."
            )
        if self.constraint is not None:
            if (
                not isinstance(self.constraint, (tuple, list))
                or len(self.constraint) != 2
                or self.constraint[0] not in _OPS
                or isinstance(self.constraint[1], bool)
                or not isinstance(self.constraint[1], (int, float))
                or not math.isfinite(self.constraint[1])
            ):
                raise ObjectiveError(
                    f"`constraint` of objective `{self.name}` must be (op, bound) with op one of "
                    f"{list(_OPS)} and a finite number as bound, but got {self.constraint!r}."
                )
            object.__setattr__(self, "constraint", (self.constraint[0], float(self.constraint[1])))

    @classmethod
    def parse(cls, spec: str | Objective | Mapping[str, Any], mode: str | None = None) -> Objective:
        """Build from ``"name"``, ``"name:max"``, ``"latency_ms <= 5"`` or a dict."""
        if isinstance(spec, Objective):
            return spec
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"name", "mode", "constraint"}
            if unknown:
                raise ObjectiveError(
                    f"objective keys must be among ['name', 'mode', 'constraint'], "
                    f"but got {sorted(unknown)}."
                )
            c = spec.get("constraint")
            if isinstance(c, str):
                parsed = cls.parse(f"{spec.get('name', '?')} {c}")
                c = parsed.constraint
            # without a mode, a constraint's direction gives it, as in "latency_ms <= 5"
            op = c[0] if isinstance(c, (tuple, list)) and c else None
            return cls(spec.get("name", ""), spec.get("mode", mode or _direction(op)), c)
        if not isinstance(spec, str):
            raise ObjectiveError(f"an objective must be a str, dict or Objective, got {spec!r}.")
        m = re.fullmatch(r"\s*([^\s<>=:]+)\s*(<=|>=|<|>)\s*(\S+)\s*", spec)
        if m or any(c in spec for c in "<>="):
            # a constraint; anything else with a comparison in it is a typo, not a metric name
            bound = _number(m.group(3)) if m else None
            if m is None or bound is None:
                raise ObjectiveError(
                    f"constraint {spec!r} must read `NAME OP BOUND` with OP one of "
                    f"{list(_OPS)} and BOUND a finite number, e.g. 'latency_p50_ms <= 5'."
                )
            op = m.group(2)
            return cls(m.group(1), mode or _direction(op), (op, bound))
        if ":" in spec:
            name, _, md = spec.partition(":")
            return cls(name.strip(), md.strip())
        return cls(spec.strip(), mode or "max")

    def violation(self, value: float | None) -> float:
        """How far ``value`` breaks the constraint (0.0 when it holds; inf when missing/NaN)."""
        if self.constraint is None:
            return 0.0 if value is not None and math.isfinite(value) else math.inf
        if value is None or not math.isfinite(value):
            return math.inf
        op, bound = self.constraint
        if op in ("<=", "<"):
            excess = value - bound
            return max(excess, 0.0) if op == "<=" or excess < 0 else max(excess, 1e-12)
        excess = bound - value
        return max(excess, 0.0) if op == ">=" or excess < 0 else max(excess, 1e-12)

    def loss(self, value: float) -> float:
        """The value turned into something to minimize."""
        return value if self.mode == "min" else -value


def _direction(op: Any) -> str:
    """The mode a constraint asks for: less under ``<=``/``<``, more otherwise."""
    return "min" if op in ("<=", "<") else "max"


def _number(text: str) -> float | None:
    """``text`` as a finite float, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def as_objectives(
    specs: Iterable[str | Objective | Mapping[str, Any]] | str | Objective,
) -> list[Objective]:
    """Parse one or several objective specs; names must be unique."""
    if isinstance(specs, (str, Objective, Mapping)):
        specs = [specs]  # type: ignore[list-item]
    out = [Objective.parse(s) for s in specs]
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ObjectiveError(f"objective names must be unique, but got {names}.")
    if not out:
        raise ObjectiveError("at least one objective is needed.")
    return out


def total_violation(objectives: Sequence[Objective], metrics: Mapping[str, Any]) -> float:
    """Sum of the constraint violations of ``metrics`` (0.0 means feasible)."""
    total = 0.0
    for o in objectives:
        v = metrics.get(o.name)
        if o.constraint is not None or v is None:
            total += o.violation(None if v is None else float(v))
        elif not math.isfinite(float(v)):
            total += math.inf
    return total
