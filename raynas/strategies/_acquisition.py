"""Acquisition functions over an ensemble's predictions (all objectives are losses).

Pure numpy helpers for :class:`~raynas.strategies.PredictorGuided`. Predictions arrive as
``mean, std`` arrays of shape ``(n_candidates,)`` (single objective) or
``(n_candidates, n_objectives)``; every function returns a score where larger is better.
"""

from __future__ import annotations

import math

import numpy as np

from raynas.pareto import pareto_front

ACQUISITIONS = ("its", "ucb", "ei", "mean")


def _phi(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def optimistic_losses(
    mean: np.ndarray, std: np.ndarray, kind: str, beta: float, rng: np.random.Generator
) -> np.ndarray:
    """A plausible-but-hopeful loss per candidate: a Thompson draw (``its``), ``mean - beta*std``
    (``ucb``) or the mean (``mean``, and ``ei`` where no closed form applies)."""
    if kind == "its":
        return mean + std * rng.standard_normal(mean.shape)
    if kind == "ucb":
        return mean - beta * std
    return mean


def single_objective_scores(
    mean: np.ndarray,
    std: np.ndarray,
    best: float,
    kind: str,
    beta: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Scores (larger is better) for one minimized loss; ``best`` is the lowest observed."""
    if kind == "ei":
        s = np.maximum(std, 1e-12)
        z = (best - mean) / s
        return (best - mean) * _cdf(z) + s * _phi(z)
    return -optimistic_losses(mean, std, kind, beta, rng)


def hypervolume_improvement_2d(
    points: np.ndarray, front: np.ndarray, ref: np.ndarray
) -> np.ndarray:
    """Exact hypervolume each point adds to ``front`` (2 minimized objectives), vectorized.

    ``front`` must be mutually non-dominated; points outside the reference box add nothing.
    """
    pts = np.minimum(np.asarray(points, dtype=float), ref)
    if len(front) == 0:
        return np.prod(ref - pts, axis=1)
    f = front[np.argsort(front[:, 0])]
    # the staircase of the front: for x in [x_k, x_{k+1}) the covered y level is y_k
    xs = np.concatenate([f[:, 0], [ref[0]]])
    ys = np.concatenate([[ref[1]], f[:, 1]])  # level left of x_0 is the reference
    edges_lo = np.concatenate([[-np.inf], xs[:-1]])
    edges_hi = xs
    # contribution over each x-interval [max(px, lo), hi) of height max(level - py, 0)
    lo = np.maximum(pts[:, [0]], edges_lo[None, :])
    width = np.clip(edges_hi[None, :] - lo, 0.0, None)
    height = np.clip(ys[None, :] - pts[:, [1]], 0.0, None)
    return np.sum(width * height, axis=1)


def hypervolume_improvement(points: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume each point adds to ``front`` (any number of minimized objectives)."""
    points = np.asarray(points, dtype=float)
    if points.shape[1] == 2:
        return hypervolume_improvement_2d(points, front, ref)
    from raynas.pareto import hypervolume

    base = hypervolume(front, ref) if len(front) else 0.0
    return np.array(
        [
            hypervolume(np.vstack([front, p[None, :]]) if len(front) else p[None, :], ref) - base
            for p in points
        ]
    )


def domination_depth(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    """How far each point must improve (in every objective at once) to be non-dominated."""
    if len(front) == 0:
        return np.zeros(len(points))
    diff = points[:, None, :] - front[None, :, :]  # (n, f, k)
    return np.maximum(np.max(np.min(diff, axis=2), axis=1), 0.0)


def multi_objective_scores(
    mean: np.ndarray,
    std: np.ndarray,
    front: np.ndarray,
    ref: np.ndarray,
    kind: str,
    beta: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Predicted hypervolume improvement of each candidate over the observed front.

    Each candidate's objectives are replaced by an optimistic value (see
    :func:`optimistic_losses`; ``ei`` uses ``ucb``'s); candidates that add nothing are ordered
    by how far they sit behind the front, so the score is never flat.
    """
    pts = optimistic_losses(mean, std, "ucb" if kind == "ei" else kind, beta, rng)
    hvi = hypervolume_improvement(pts, front, ref)
    depth = domination_depth(pts, front)
    return np.where(hvi > 0, hvi, -depth)


def nondominated_probability(
    mean: np.ndarray,
    std: np.ndarray,
    front: np.ndarray,
    rng: np.random.Generator,
    samples: int = 256,
) -> np.ndarray:
    """Probability that each candidate is dominated by no point of ``front`` (losses minimized).

    Each candidate's losses are independent normals ``N(mean, std**2)``. Exact for two
    objectives (a sum over the front's staircase), a Monte Carlo estimate with ``samples``
    draws for more. A candidate can only lie on the true Pareto front if no observed point
    dominates it, so ranking by this probability aims every query at the front's cells.
    """
    mean = np.asarray(mean, dtype=float)
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    if len(front) == 0:
        return np.ones(len(mean))
    if mean.shape[1] == 2:
        f = front[np.argsort(front[:, 1])]  # by the second loss, ascending
        best_first = np.minimum.accumulate(f[:, 0])  # best first loss among those at or below
        edges = np.concatenate([f[:, 1], [np.inf]])
        p_second = _cdf((edges[None, :] - mean[:, [1]]) / std[:, [1]])
        within = p_second[:, 1:] - p_second[:, :-1]  # second loss in [edge_k, edge_k+1)
        p_dominated_first = 1.0 - _cdf((best_first[None, :] - mean[:, [0]]) / std[:, [0]])
        return np.clip(1.0 - np.sum(within * p_dominated_first, axis=1), 0.0, 1.0)
    draws = mean[None] + std[None] * rng.standard_normal((samples, *mean.shape))
    dominated = np.zeros((samples, len(mean)), dtype=bool)
    for point in front:
        dominated |= np.all(draws >= point, axis=2)
    return 1.0 - dominated.mean(axis=0)


def chebyshev_scores(
    mean: np.ndarray,
    std: np.ndarray,
    weights: np.ndarray,
    kind: str,
    beta: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """ParEGO: a random augmented Chebyshev scalarization of the optimistic losses."""
    pts = optimistic_losses(mean, std, "ucb" if kind == "ei" else kind, beta, rng)
    return -(np.max(weights * pts, axis=1) + 0.05 * np.sum(weights * pts, axis=1))


def joint_front_probability(
    mean: np.ndarray,
    std: np.ndarray,
    front: np.ndarray,
    rng: np.random.Generator,
    samples: int = 64,
) -> np.ndarray:
    """Probability that each candidate lies on the Pareto front of ``front`` and the candidates
    together (losses minimized), each candidate's losses independent normals ``N(mean, std**2)``:
    a Monte Carlo estimate with ``samples`` joint draws.

    Unlike :func:`nondominated_probability` the candidates compete with each other too: where
    many are predicted alike, each is unlikely to be the one on the front, so the queries go
    where a candidate stands apart.
    """
    mean = np.asarray(mean, dtype=float)
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    n = len(mean)
    if n == 0:
        return np.zeros(0)
    front = np.asarray(front, dtype=float).reshape(-1, mean.shape[1])
    hits = np.zeros(n)
    for _ in range(samples):
        draw = mean + std * rng.standard_normal(mean.shape)
        points = np.concatenate([draw, front])
        dominated = _dominated(points)[:n]
        hits += ~dominated
    return hits / samples


def _dominated(points: np.ndarray) -> np.ndarray:
    """Whether each point is dominated by another one (losses minimized): for two objectives a
    sort, faster than :func:`raynas.pareto.pareto_front`'s full non-dominated sorting."""
    if points.shape[1] == 2:
        order = np.lexsort((points[:, 0], points[:, 1]))  # by the second loss, then the first
        first = points[order, 0]
        before = np.concatenate([[np.inf], np.minimum.accumulate(first)[:-1]])
        out = np.empty(len(points), dtype=bool)
        out[order] = first >= before
        return out
    out = np.ones(len(points), dtype=bool)
    out[pareto_front(points)] = False
    return out
