"""PredictorGuided's scoring: the acquisition over predicted candidates, and the
epsilon-constraint walk."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from raynas.strategies._acquisition import (
    _cdf,
    _phi,
    chebyshev_scores,
    joint_front_probability,
    multi_objective_scores,
    nondominated_probability,
    single_objective_scores,
)
from raynas.strategies._predictor_candidates import _CandidateSource


class _Scoring(_CandidateSource):
    """How a :class:`~raynas.strategies.PredictorGuided` scores and picks its candidates."""

    def _propose_eps(self) -> Mapping[str, Any]:
        """One step of the epsilon-constraint walk along the observed front (two objectives)."""
        front = sorted((o for o in self.pareto_front() if o.ok), key=lambda o: o.losses[1])
        if not front:
            return self.sample_new()
        if self._rng.random() < 1.0 / (len(front) + 1):
            # the corner: a config faster (say) than every one seen, whatever its accuracy
            candidates = list(dict(self._local() + self._pool() + self._descent(front[0])).items())
            if candidates:
                mean, std = self._outcome(candidates)
                beat = _cdf((front[0].losses[1] - mean[:, 1]) / np.maximum(std[:, 1], 1e-12))
                return candidates[int(np.argmax(beat))][1]
        first = np.array([o.losses[0] for o in front])
        # the last point's gap is open-ended: it weighs as the spread of the front
        gaps = np.append(first[:-1] - first[1:], first.std())
        gaps = np.maximum(gaps, 1e-3 * gaps.max()) if gaps.max() > 0 else np.ones(len(front))
        i = int(self._rng.choice(len(front), p=gaps / gaps.sum()))
        candidates = self._local() or self._pool()
        if not candidates:
            return self.sample_new()
        mean, std = self._outcome(candidates)
        sd = np.maximum(std[:, 0], 1e-12)
        z = (first[i] - mean[:, 0]) / sd
        improvement = (first[i] - mean[:, 0]) * _cdf(z) + sd * _phi(z)
        if i + 1 < len(front):  # ... while staying ahead of the next point in the second
            improvement = improvement * _cdf(
                (front[i + 1].losses[1] - mean[:, 1]) / np.maximum(std[:, 1], 1e-12)
            )
        return candidates[int(np.argmax(improvement))][1]

    def _outcome(
        self, candidates: list[tuple[str, dict[str, Any]]], residual: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted losses of candidates and their spread (with ``residual``, the spread of an
        outcome, not only of the fit: the models' residual joins in)."""
        x = np.array([self._encode(k, c) for k, c in candidates])
        mean, std = self._predict(x)
        if residual:
            assert self._residual is not None
            std = np.sqrt(std**2 + self._residual**2)
        self._share(candidates, mean, std)
        return mean, std

    def _rank(self, candidates: list[tuple[str, dict[str, Any]]], greedy: bool) -> np.ndarray:
        """Acquisition scores of candidates (a local step ranks by the predicted mean)."""
        pnd = self.multi_objective_wanted and self.multi_objective_acquisition in ("pnd", "pfront")
        mean, std = self._outcome(candidates, residual=pnd)
        return self._scores(mean, std, greedy=greedy and not self.multi_objective_wanted)

    def _from_queue(self, kind: str) -> dict[str, Any] | None:
        """The best unseen candidate of this fit's ranked ``kind`` candidates, or None."""
        if kind == "local":
            if self.multi_objective_wanted:
                anchor: Any = "\n".join(o.key for o in self.pareto_front())
            else:
                inc = self._incumbent()
                anchor = None if inc is None else inc.key
            stamp: tuple[Any, ...] = (self._fitted_on, anchor)
        else:
            stamp = (self._fitted_on,)
        entry = self._queues.get(kind)
        if entry is None or entry[0] != stamp:
            candidates = self._local() if kind == "local" else self._pool()
            order: Any = (
                np.argsort(self._rank(candidates, greedy=kind == "local"), kind="stable")
                if candidates
                else []
            )
            entry = self._queues[kind] = (stamp, [candidates[i] for i in order])  # worst first
        queue = entry[1]
        while queue:
            key, config = queue.pop()
            if self.is_new(key):
                return config
        return None

    def _scores(self, mean: np.ndarray, std: np.ndarray, greedy: bool) -> np.ndarray:
        objs = self._require_objectives()
        modelled = self._modelled()
        kind = "mean" if greedy else self.acquisition.kind
        # predicted constraint violation (in the objectives' own units)
        violation = np.zeros(len(mean))
        for col, j in enumerate(modelled):
            o = objs[j]
            if o.constraint is not None:
                value = -mean[:, col] if o.mode == "max" else mean[:, col]
                violation += np.array([o.violation(float(v)) for v in value])
        penalty = np.where(violation > 0, -1e6 - violation, 0.0)
        if not self.multi_objective_wanted:
            best = self.best()
            ref = best.losses[0] if best is not None and best.ok else float(mean[:, 0].min())
            return (
                single_objective_scores(mean[:, 0], std[:, 0], ref, kind, self.beta, self._rng)
                + penalty
            )
        # every objective spans the front (pareto_front ranks all losses), constrained ones too
        cols = list(range(len(modelled)))
        front_obs = [o for o in self.pareto_front() if o.ok]
        obs_pts = np.array(
            [o.losses for o in self._observations if o.ok and all(map(math.isfinite, o.losses))]
        )
        if len(obs_pts) == 0:
            return -mean[:, 0] + penalty
        lo, hi = obs_pts.min(axis=0), obs_pts.max(axis=0)
        scale = np.where(hi > lo, hi - lo, 1.0)
        m = (mean[:, cols] - lo) / scale
        s = std[:, cols] / scale
        if self.multi_objective_acquisition == "parego":
            w = self._rng.dirichlet(np.ones(len(cols)))
            return chebyshev_scores(m, s, w, kind, self.beta, self._rng) + penalty
        front = (
            (np.array([o.losses for o in front_obs]) - lo) / scale
            if front_obs
            else np.zeros((0, len(cols)))
        )
        if self.multi_objective_acquisition == "pnd":
            return nondominated_probability(m, s, front, self._rng) + penalty
        if self.multi_objective_acquisition == "pfront":
            return joint_front_probability(m, s, front, self._rng) + penalty
        ref_point = np.full(len(cols), 1.1)
        return multi_objective_scores(m, s, front, ref_point, kind, self.beta, self._rng) + penalty
