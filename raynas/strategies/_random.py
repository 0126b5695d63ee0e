"""Random search: uniform samples of the space, never the same config twice."""

from __future__ import annotations

from typing import Any

from raynas.strategies.base import Strategy


class RandomSearch(Strategy):
    """Uniform random search without repeats (the baseline every strategy must beat).

    Any number of objectives is fine: it ignores them when proposing, and :meth:`best` /
    :meth:`pareto_front` report on what it saw.

    Args:
        space: the search space.
        objectives: see :class:`~raynas.strategies.Strategy`.
        seed: seed of the strategy's random generator.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Int
        >>> s = RandomSearch(SearchSpace({"width": Int(8, 64, step=8)}), objectives=["acc"], seed=1)
        >>> len({s.ask()["width"] for _ in range(8)})
        8
    """

    multi_objective = True

    def _propose(self) -> dict[str, Any]:
        return self.sample_new()
