"""Phases of a multi-objective :class:`~raynas.strategies.PredictorGuided` search."""

from __future__ import annotations

from dataclasses import dataclass

from raynas.strategies.base import StrategyError


@dataclass(frozen=True)
class Focus:
    """A first phase searching the first objective alone (``PredictorGuided(focus=...)``).

    With several objectives, the first ``first`` results are gathered by an inner
    single-objective ``PredictorGuided`` on the first objective (asking one config per function
    class, ``space.function_key``); then the multi-objective acquisition takes over with every
    result. The accurate end of an accuracy / latency front is the one a walk along the front
    reaches last; found first, the walk goes down the front from it.

    Args:
        first: results gathered by the focus search (0: no focus phase).
        num_climbs: greedy walks on the surrogate in the focus search's candidate pool (see
            :class:`~raynas.strategies.Pool`); ``None``: the strategy's own ``pool.num_climbs``.

    Example:
        >>> from raynas.strategies import PredictorGuided
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> space = SearchSpace({f"e{i}": Choice(["a", "b"]) for i in range(4)})
        >>> s = PredictorGuided(space, focus=Focus(first=20, num_climbs=10))
        >>> s.focus.first
        20
    """

    first: int
    num_climbs: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.first, bool) or not isinstance(self.first, int) or self.first < 0:
            raise StrategyError(f"`Focus.first` must be an int >= 0, but got {self.first!r}.")
        n = self.num_climbs
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise StrategyError(f"`Focus.num_climbs` must be an int >= 0 or None, but got {n!r}.")
