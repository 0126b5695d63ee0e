"""Grid search: every combination of the space's values, in order (KerasTuner's GridSearch)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from raynas.search_spaces import Float, Repeat, SearchSpace, Struct
from raynas.search_spaces._domains import Domain
from raynas.strategies.base import (
    MAX_ENUMERATION,
    ObjectiveSpec,
    SearchExhausted,
    Strategy,
    StrategyError,
    iter_struct,
)


class GridSearch(Strategy):
    """Every config of the space's grid, one after another, then :class:`SearchExhausted`.

    The grid is the product of every decision's values: a choice's values, an int's (on its
    ``step``), a float's on its ``step``, and for a float without one, ``continuous_points``
    evenly spaced quantiles of its range (linear or log), as KerasTuner's ``GridSearch`` takes
    ten. A conditional decision takes its values only under the parent values that activate
    it. The first decision varies slowest. The seed is accepted (every strategy takes one) and
    changes nothing: the order is the grid's.

    Args:
        space: a search space without variable-length repeats.
        objectives: see :class:`~raynas.strategies.Strategy` (any number: the grid ignores them).
        seed: unused; the grid's order is fixed.
        continuous_points: grid points of a float without ``step``.
        max_configs: refuse a grid larger than this.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice, Int
        >>> s = GridSearch(SearchSpace({"act": Choice(["relu", "tanh"]), "units": Int(1, 3)}))
        >>> s.size, [tuple(s.ask().values()) for _ in range(3)]
        (6, [('relu', 1), ('relu', 2), ('relu', 3)])
    """

    multi_objective = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        objectives: list[ObjectiveSpec] | ObjectiveSpec | None = None,
        seed: int | None = None,
        continuous_points: int = 10,
        max_configs: int = MAX_ENUMERATION,
    ) -> None:
        super().__init__(space, objectives=objectives, seed=seed)
        for name, value, low in (
            ("continuous_points", continuous_points, 1),
            ("max_configs", max_configs, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise StrategyError(f"`{name}` must be an int >= {low}, but got {value!r}.")
        self._points = continuous_points
        grid = list(
            itertools.islice(iter_struct(space, _grid_of(continuous_points)), max_configs + 1)
        )
        if len(grid) > max_configs:
            raise StrategyError(
                f"the grid of this space has more than `max_configs` = {max_configs} configs; "
                f"narrow the space or use another strategy."
            )
        self._grid = [space.validate(c) for c in grid]
        self._next = 0

    @property
    def size(self) -> int:
        """The number of configs in the grid."""
        return len(self._grid)

    def _propose(self) -> dict[str, Any]:
        while self._next < len(self._grid):
            config = self._grid[self._next]
            self._next += 1
            if self.is_new(self._space.key(config)):
                return dict(config)
        raise SearchExhausted(
            f"every config of the grid ({len(self._grid)}) has been proposed: "
            f"{len(self.observations)} observed, {len(self.pending)} pending."
        )

    def _extra_state(self) -> dict[str, Any]:
        return {"next": self._next}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self._next = int(state.get("next", 0))

    def _reset(self) -> None:
        self._next = 0


def grid_values(domain: Domain, name: str, points: int) -> list[Any]:
    """The grid values of one decision (a float without a step: ``points`` quantiles)."""
    values = domain.finite_values()
    if values is not None:
        return list(values)
    if isinstance(domain, Float):
        if domain.step is not None:
            n = int(math.floor((domain.high - domain.low) / domain.step + 1e-9)) + 1
            return [domain.low + i * domain.step for i in range(n)]
        qs = [(i + 0.5) / points for i in range(points)]
        if domain.log:
            lo, hi = math.log(domain.low), math.log(domain.high)
            return [math.exp(lo + q * (hi - lo)) for q in qs]
        return [domain.low + q * (domain.high - domain.low) for q in qs]
    raise StrategyError(
        f"GridSearch needs a finite grid, but `{name}` ({domain!r}) has too many values; give it "
        f"a larger `step` or use another strategy."
    )


def _grid_of(points: int) -> Callable[[Any, str], Iterator[Any]]:
    """The values of one node of the grid (floats without a step: ``points`` quantiles)."""

    def values_of(node: Any, name: str) -> Iterator[Any]:
        if isinstance(node, Domain):
            yield from grid_values(node, name, points)
        elif isinstance(node, Struct):
            yield from iter_struct(node, values_of)
        elif isinstance(node, Repeat):
            raise StrategyError(
                f"GridSearch cannot enumerate `{name}`, a variable-length repeat; use another "
                f"strategy."
            )
        else:  # pragma: no cover - spaces only hold the three node kinds
            raise StrategyError(f"GridSearch cannot enumerate `{name}` ({node!r}).")

    return values_of
