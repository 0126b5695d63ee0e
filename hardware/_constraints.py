"""Constraints on measured metrics, such as ``"latency_p50_ms <= 5"``.

The grammar is the one of ``raynas.objectives.Objective.parse`` (``name op bound`` with op one of
``<=``, ``>=``, ``<``, ``>``); it is re-implemented here because the hardware package does not
import raynas core. Callers that have raynas core can pass the same strings to ``Objective.parse``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import TargetError

OPS = ("<=", ">=", "<", ">")
_PATTERN = re.compile(r"\s*([\w./-]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*")


def parse_constraint(spec: str | tuple[str, str, float]) -> tuple[str, str, float]:
    """Parse ``"metric op bound"`` into ``(metric, op, bound)``.

    Example:
        >>> parse_constraint("latency_p50_ms <= 5")
        ('latency_p50_ms', '<=', 5.0)
    """
    if isinstance(spec, tuple) and len(spec) == 3 and spec[1] in OPS:
        name, op, bound = spec
        return str(name), op, float(bound)
    if isinstance(spec, str):
        m = _PATTERN.fullmatch(spec)
        if m:
            try:
                return m.group(1), m.group(2), float(m.group(3))
            except ValueError:
                pass
    raise TargetError(
        f"a constraint must look like 'metric <= bound' with an operator among {list(OPS)}, "
        f"but got {spec!r}."
    )


def violation(op: str, bound: float, value: float | None) -> float:
    """How far ``value`` breaks ``op bound`` (0.0 when it holds, inf when missing or NaN)."""
    if value is None or not math.isfinite(value):
        return math.inf
    excess = value - bound if op in ("<=", "<") else bound - value
    if op in ("<", ">") and excess == 0:
        return 1e-12
    return max(excess, 0.0)


def total_violation(constraints: list[tuple[str, str, float]], metrics: Mapping[str, Any]) -> float:
    """Sum of the violations of all constraints by ``metrics``."""
    total = 0.0
    for name, op, bound in constraints:
        v = metrics.get(name)
        total += violation(op, bound, None if v is None else float(v))
    return total
