"""Pareto tools over loss vectors (every column minimized): ranks, crowding, hypervolume.

Pure numpy. Turn metrics into losses with :func:`losses` (it flips ``max`` objectives).

Example:
    >>> import numpy as np
    >>> pts = np.array([[1.0, 4.0], [2.0, 2.0], [3.0, 3.0]])
    >>> non_dominated_ranks(pts).tolist()
    [0, 0, 1]
    >>> hypervolume(pts, ref=[5.0, 5.0])
    10.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from raynas.objectives import Objective


def losses(objectives: Sequence[Objective], metrics: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """An ``(n, k)`` array of losses (``max`` objectives negated; missing values are +inf)."""
    out = np.full((len(metrics), len(objectives)), np.inf)
    for i, m in enumerate(metrics):
        for j, o in enumerate(objectives):
            v = m.get(o.name)
            if v is not None:
                v = float(v)
                if np.isfinite(v):
                    out[i, j] = o.loss(v)
    return out


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether loss vector ``a`` Pareto-dominates ``b``."""
    return bool(np.all(a <= b) and np.any(a < b))


def non_dominated_ranks(
    points: np.ndarray,
    violations: np.ndarray | None = None,
    fidelities: np.ndarray | None = None,
) -> np.ndarray:
    """Rank of every point (0 = Pareto front) by fast non-dominated sorting (Deb et al. 2002).

    With ``violations``, constraint domination applies: a feasible point beats every infeasible
    one, and among infeasible points the smaller total violation wins. With ``fidelities`` (the
    share of the training budget behind each point), feasible points are sorted one fidelity
    level at a time, the highest first: a point of a truncated training ranks after every
    feasible point of a higher fidelity.
    """
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    ranks = np.zeros(n, dtype=int)
    if n == 0:
        return ranks
    if violations is not None or fidelities is not None:
        viol = np.zeros(n) if violations is None else np.asarray(violations, dtype=float)
        feasible = viol <= 0
        offset = 0
        fid = np.ones(n) if fidelities is None else np.asarray(fidelities, dtype=float)
        for level in np.unique(fid[feasible])[::-1]:
            at = np.flatnonzero(feasible & (fid == level))
            ranks[at] = offset + _ranks(pts[at])
            offset = int(ranks[at].max()) + 1
        infeasible = np.flatnonzero(~feasible)
        if len(infeasible):
            order = np.unique(viol[infeasible], return_inverse=True)[1]
            ranks[infeasible] = offset + order
        return ranks
    return _ranks(pts)


def _ranks(pts: np.ndarray) -> np.ndarray:
    n = len(pts)
    ranks = np.zeros(n, dtype=int)
    if n == 0:
        return ranks
    le = np.all(pts[:, None, :] <= pts[None, :, :], axis=2)
    lt = np.any(pts[:, None, :] < pts[None, :, :], axis=2)
    dom = le & lt  # dom[i, j]: i dominates j
    count = dom.sum(axis=0)
    current = np.flatnonzero(count == 0)
    rank = 0
    remaining = count.copy()
    assigned = np.zeros(n, dtype=bool)
    while len(current):
        ranks[current] = rank
        assigned[current] = True
        remaining = remaining - dom[current].sum(axis=0)
        remaining[assigned] = -1
        current = np.flatnonzero(remaining == 0)
        rank += 1
    return ranks


def crowding_distance(points: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each point within one front (boundary points get inf)."""
    pts = np.asarray(points, dtype=float)
    n, k = pts.shape if pts.ndim == 2 else (len(pts), 0)
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(k):
        order = np.argsort(pts[:, j], kind="stable")
        col = pts[order, j]
        span = col[-1] - col[0]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span <= 0 or not np.isfinite(span):
            continue
        dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    return dist


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points."""
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(_ranks(pts) == 0)


def hypervolume(points: np.ndarray, ref: Sequence[float] | np.ndarray) -> float:
    """Hypervolume dominated by ``points`` and bounded by ``ref`` (all losses minimized).

    Exact: a sweep in 2-D, recursive slicing (HSO) in more dimensions.
    """
    ref_arr = np.asarray(ref, dtype=float)
    pts = np.asarray(points, dtype=float).reshape(-1, len(ref_arr))
    pts = pts[np.all(np.isfinite(pts), axis=1) & np.all(pts < ref_arr, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[pareto_front(pts)]
    return float(_hv(pts, ref_arr))


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    k = pts.shape[1]
    if k == 1:
        return float(ref[0] - pts[:, 0].min())
    if k == 2:
        order = np.argsort(pts[:, 0])
        p = pts[order]
        total, best_y = 0.0, ref[1]
        for x, y in p:
            if y < best_y:
                total += (ref[0] - x) * (best_y - y)
                best_y = y
        return total
    order = np.argsort(pts[:, -1])
    p = pts[order]
    total = 0.0
    for i in range(len(p)):
        upper = p[i + 1, -1] if i + 1 < len(p) else ref[-1]
        depth = upper - p[i, -1]
        if depth <= 0:
            continue
        sl = p[: i + 1, :-1]
        sl = sl[pareto_front(sl)]
        total += depth * _hv(sl, ref[:-1])
    return total
