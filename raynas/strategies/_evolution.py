"""Regularized (aging) evolution, Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search"."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from raynas.search_spaces import SearchSpace
from raynas.strategies.base import (
    ObjectiveSpec,
    Observation,
    Strategy,
    StrategyError,
    check_population_size,
    check_rate,
)


class RegularizedEvolution(Strategy):
    """Aging evolution: tournament selection over a population that drops its oldest member.

    The first ``population_size`` configs are random. Then each :meth:`ask` draws
    ``sample_size`` members of the population at random, takes the best one (feasible first,
    then by the objective) as the parent, and proposes a mutation of it (one decision changed;
    more if every single change was seen). With probability ``crossover_rate`` the child is
    instead a crossover of the winners of two tournaments. Each told result joins the
    population and pushes out the oldest member, whatever its fitness: that is the
    regularization.

    Args:
        space: the search space.
        objectives: the first is optimized, further ones must be constraints.
        seed: seed of the strategy's random generator.
        population_size: number of members (the NAS-Bench-201 setting is 10).
        sample_size: tournament size (the NAS-Bench-201 setting is 3).
        crossover_rate: probability that a child comes from a crossover (0 in Real et al.).

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> space = SearchSpace({f"e{i}": Choice(["a", "b", "c"]) for i in range(4)})
        >>> s = RegularizedEvolution(space, objectives=["acc"], population_size=4, sample_size=2,
        ...                          seed=0)
        >>> for _ in range(12):
        ...     cfg = s.ask()
        ...     _ = s.tell(cfg, {"acc": sum(v == "a" for v in cfg.values())})
        >>> s.best().metrics["acc"] >= 3
        True
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        objectives: Sequence[ObjectiveSpec] | ObjectiveSpec | None = None,
        seed: int | None = None,
        population_size: int = 10,
        sample_size: int = 3,
        crossover_rate: float = 0.0,
    ) -> None:
        super().__init__(space, objectives=objectives, seed=seed)
        check_population_size(population_size)
        if isinstance(sample_size, bool) or not isinstance(sample_size, int):
            raise StrategyError(f"`sample_size` must be an int, but got {sample_size!r}.")
        if not 1 <= sample_size <= population_size:
            raise StrategyError(
                f"`sample_size` must be between 1 and `population_size` ({population_size}), "
                f"but got {sample_size}."
            )
        check_rate(crossover_rate, "crossover_rate")
        self.population_size = population_size
        self.sample_size = sample_size
        self.crossover_rate = float(crossover_rate)
        self._population: deque[int] = deque(maxlen=population_size)

    def _reset(self) -> None:
        self._population.clear()

    def _observe(self, obs: Observation, index: int, replaced: bool) -> None:
        if not replaced:
            self._population.append(index)

    def _tournament(self) -> dict[str, Any]:
        members = list(self._population)
        picks = self._rng.choice(len(members), size=self.sample_size, replace=False)
        best = min((self._observations[members[int(i)]] for i in picks), key=Observation.rank_key)
        return best.config

    def _propose(self) -> Mapping[str, Any]:
        if len(self._population) < self.population_size:
            return self.sample_new()
        parent = self._tournament()
        if self.crossover_rate > 0 and self._rng.random() < self.crossover_rate:
            other = self._tournament()
            child = self.new_config(lambda: self.space.crossover(parent, other, self._rng), 8)
            if child is not None:
                return child
        return self.mutate_new(parent)
