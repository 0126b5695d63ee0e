"""PredictorGuided's candidate generators: neighbourhood, pool (mutations, crossovers,
random configs, climbs) and greedy walks on the surrogate."""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from raynas.pareto import crowding_distance, non_dominated_ranks
from raynas.strategies._predictor_surrogate import _SurrogateFit
from raynas.strategies.base import (
    Observation,
    front_indices,
)


class _CandidateSource(_SurrogateFit):
    """The candidates of a :class:`~raynas.strategies.PredictorGuided` step."""

    def _abandoned(self, index: int) -> bool:
        """Whether an observation lies in a region the local search has given up on."""
        return self._abandoned_mask[index]

    def _near_centers(self, x: np.ndarray) -> bool:
        if not self._centers:
            return False
        n = self._space.encode_len  # distances count changed decisions: encode() entries only
        near = np.abs(np.asarray(self._centers) - x[:n]).sum(axis=1) / 2
        return bool((near <= self.restart_radius).any())

    def _parents(self) -> list[Observation]:
        obs = [o for o in self._observations if math.isfinite(o.violation)]
        if not obs:
            return []
        if not self.multi_objective_wanted:
            fresh = [o for o in obs if not self._abandoned(self._index[o.key])]
            return heapq.nsmallest(self._num_ranked(), fresh or obs, key=Observation.rank_key)
        pts = np.array([o.losses for o in obs], dtype=float)
        pts[~np.isfinite(pts)] = np.finfo(float).max
        viol = np.array([o.violation for o in obs])
        fid = np.array([o.fidelity for o in obs])
        ranks = non_dominated_ranks(pts, viol, fid) if len(obs) <= 2000 else None
        if ranks is None:  # large histories: the front of the highest fidelity, then the rest
            ranks = np.ones(len(obs), dtype=int)
            top = np.flatnonzero(fid == fid.max())
            ranks[top[front_indices(pts[top])]] = 0
        crowd = np.zeros(len(obs))
        for r in np.unique(ranks)[:3]:
            at = np.flatnonzero(ranks == r)
            crowd[at] = crowding_distance(pts[at])
        order = np.lexsort((-crowd, ranks))
        return [obs[i] for i in order[: self._num_ranked()]]

    def _num_ranked(self) -> int:
        """Best configs :meth:`_parents` returns: the mutations' and the crossovers' parents."""
        return max(self.num_parents, self.num_crossover_parents)

    def _incumbent(self) -> Observation | None:
        if not self.multi_objective_wanted:
            if self.patience is None:
                return self.best()
            return None if self._region_best is None else self._observations[self._region_best]
        front = self.pareto_front()
        return front[int(self._rng.integers(len(front)))] if front else None

    def _unseen(self, configs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        out: dict[str, dict[str, Any]] = {}
        for c in configs:
            k = self._space.key(c)
            if k not in out and self.is_new(k):
                out[k] = c
        return list(out.items())

    def _mutations(self, config: Mapping[str, Any], count: int, max_steps: int) -> list[dict]:
        out = []
        for _ in range(count):
            child = dict(config)
            for _ in range(int(self._rng.integers(1, max_steps + 1))):
                child = self._space.mutate(child, self._rng)
            out.append(child)
        return out

    def _pool(self) -> list[tuple[str, dict[str, Any]]]:
        configs: list[dict[str, Any]] = []
        parents = self._parents()
        for p in parents[: self.num_parents]:
            configs.extend(self._mutations(p.config, self.mutations_per_parent, 2))
        mates = parents[: self.num_crossover_parents]
        if len(mates) >= 2:  # recombination: good decisions of different configs together
            for _ in range(self.num_crossovers):
                i, j = self._rng.choice(len(mates), size=2, replace=False)
                configs.append(self._space.crossover(mates[i].config, mates[j].config, self._rng))
        configs.extend(self._space.sample(self._rng) for _ in range(self.num_random))
        configs.extend(self._climbs())
        return self._unseen(configs)

    def _climbs(self) -> list[dict[str, Any]]:
        """The ends of ``num_climbs`` greedy walks up the first objective's predicted mean, each
        from a random config: the surrogate's own optima, which mutations of the best configs
        seen reach only by chance when several decisions must change together."""
        if not self.num_climbs or self.multi_objective_wanted or self._models is None:
            return []
        ends = []
        for _ in range(self.num_climbs):
            config = self._space.sample(self._rng)
            here = self._predict(self._encode(self._space.key(config), config)[None])[0][0, 0]
            path = self._walk(config, 0, float(here), 2 * self._space.decisions())
            config = path[-1] if path else config
            ends.append(config)
        return ends

    def _local(self) -> list[tuple[str, dict[str, Any]]]:
        size = max(8, 8 * self._space.decisions())
        if self.multi_objective_wanted:
            # Pareto local search: the unseen neighbours of the whole observed front
            front = [o for o in self.pareto_front() if o.ok]
            per = max(4, min(size, 1000 // max(len(front), 1)))
            moves = [m for o in front for m in self._mutations(o.config, per, 1)]
            if self.twins and self._rng.random() < self.twins:
                # the same function at another cost: the cheaper may dominate, also where a
                # config of the second rank has a cheaper twin
                near = self.pareto_front(ranks=2)
                moves += [t for o in near for t in self._space.equivalents(o.config)]
            return self._unseen(moves)
        inc = self._incumbent()
        if inc is None:
            return []
        return self._unseen(self._mutations(inc.config, size, 1))

    def _descent(self, start: Observation) -> list[tuple[str, dict[str, Any]]]:
        """The unseen configs of a greedy walk down the second objective's predicted mean.

        The surrogate's own corner: a config the models predict ahead of every neighbour, which
        the front's neighbours and the pool reach only by chance (NAS-Bench-201's disconnected
        cells, near zero latency, are a few steps of "none" away).
        """
        path = self._walk(start.config, 1, math.inf, self._space.decisions())
        return self._unseen(path)  # the seen ones were walked through

    def _walk(self, config: dict[str, Any], col: int, here: float, steps: int) -> list[dict]:
        """The configs of a greedy walk from ``config`` down the predicted mean of loss column
        ``col`` (one-decision steps, at most ``steps``), while it improves on ``here``."""
        path = []
        size = max(8, 8 * self._space.decisions())
        for _ in range(steps):
            moves = self._mutations(config, size, 1)
            x = np.array([self._encode(self._space.key(c), c) for c in moves])
            loss = self._predict(x)[0][:, col]
            best = int(np.argmin(loss))
            if loss[best] >= here:
                break
            config, here = moves[best], float(loss[best])
            path.append(config)
        return path
