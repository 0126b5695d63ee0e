"""Pareto tools over loss vectors (every column minimized): ranks, crowding, hypervolume.

Pure numpy. Turn metrics into losses with :func:`losses` (it flips ``max`` objectives), and
measured costs' spreads into a matching array with :func:`spreads` (for fronts whose cost
differences within the measurement spread are ties).

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
from dataclasses import dataclass
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


#: The metric that holds the spread of a measured metric (a target's prefix is kept:
#: ``gpu_latency_p50_ms`` -> ``gpu_latency_std_ms``).
SPREAD_OF = {
    "latency_p50_ms": "latency_std_ms",
    "latency_p90_ms": "latency_std_ms",
    "latency_mean_ms": "latency_std_ms",
}


def spreads(
    objectives: Sequence[Objective],
    metrics: Sequence[Mapping[str, Any]],
    spread_of: Mapping[str, str] | None = None,
) -> np.ndarray:
    """An ``(n, k)`` array of each point's measurement spread per objective (0 where the
    objective has none), in the units of :func:`losses`.

    Example:
        >>> objs = [Objective("val_acc", "max"), Objective("latency_p50_ms", "min")]
        >>> spreads(objs, [{"val_acc": 0.9, "latency_p50_ms": 2.0, "latency_std_ms": 0.1}])
        array([[0. , 0.1]])
    """
    table = SPREAD_OF if spread_of is None else spread_of
    out = np.zeros((len(metrics), len(objectives)))
    for j, o in enumerate(objectives):
        key = next((k for k in table if o.name.endswith(k)), None)
        if key is None:
            continue
        name = o.name[: len(o.name) - len(key)] + table[key]
        for i, m in enumerate(metrics):
            try:
                v = float(m.get(name))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if np.isfinite(v) and v > 0:
                out[i, j] = v
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


def pareto_front(points: np.ndarray, *, spread: np.ndarray | None = None) -> np.ndarray:
    """Indices of the non-dominated points.

    Args:
        points: ``(n, k)`` losses.
        spread: ``(n, k)`` measurement spreads (:func:`spreads`): a difference no larger than
            the larger spread of the two points is a tie, so a point is dominated by one that
            is no worse beyond the spread in every objective and better beyond it in one.
            ``None``: plain Pareto dominance.

    Example:
        >>> pts = np.array([[-0.90, 0.0067], [-0.84, 0.0063]])  # (-accuracy, latency)
        >>> pareto_front(pts).tolist()
        [0, 1]
        >>> pareto_front(pts, spread=np.array([[0, 0.0005], [0, 0.0005]])).tolist()
        [0]
    """
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        return np.zeros(0, dtype=int)
    if spread is None:
        return np.flatnonzero(_ranks(pts) == 0)
    sp = np.asarray(spread, dtype=float).reshape(pts.shape)
    tol = np.maximum(sp[:, None, :], sp[None, :, :])
    with np.errstate(invalid="ignore"):  # inf - inf: neither better nor worse
        diff = pts[:, None, :] - pts[None, :, :]  # diff[i, j]: i minus j
        no_worse = np.all(~(diff > tol), axis=2)
        better = np.any(-diff > tol, axis=2)
    dom = no_worse & better  # dom[i, j]: i dominates j within the spread
    return np.flatnonzero(~dom.any(axis=0))


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


@dataclass(frozen=True)
class HypervolumeSummary:
    """A front's hypervolume in the unit box spanned by the ideal and the reference point.

    Attributes:
        value: the normalized hypervolume: 0 (nothing dominated) to 1 (one point at the ideal
            point dominating the whole box); comparable across searches of the same box.
        raw: the hypervolume in the objectives' own units.
        names: the objectives.
        ideal: the best value of each objective among the points (metric units).
        reference: the reference point: each objective's worst value plus ``margin`` of its
            range (metric units; ``max`` objectives have it below their worst value).
    """

    value: float
    raw: float
    names: tuple[str, ...]
    ideal: tuple[float, ...]
    reference: tuple[float, ...]

    def __str__(self) -> str:
        ref = ", ".join(f"{n}={v:.4g}" for n, v in zip(self.names, self.reference, strict=True))
        return f"hypervolume {self.value:.4f} (normalized; reference point {ref})"


def normalized_hypervolume(
    objectives: Sequence[Objective],
    metrics: Sequence[Mapping[str, Any]],
    *,
    front: Sequence[Mapping[str, Any]] | None = None,
    margin: float = 0.1,
) -> HypervolumeSummary:
    """The hypervolume of ``front`` (default: the front of ``metrics``) with every objective
    scaled to [0, 1] between the ideal point and the reference point of ``metrics``.

    The reference point is each objective's worst value plus ``margin`` of its range (the
    default of :meth:`raynas.results.NASResults.hypervolume`), so the extreme points count.
    Points with a missing or non-finite objective are left out.

    Example:
        >>> objs = [Objective("val_acc", "max"), Objective("latency_p50_ms", "min")]
        >>> ms = [{"val_acc": 0.9, "latency_p50_ms": 2.0}, {"val_acc": 0.8, "latency_p50_ms": 1.0}]
        >>> hv = normalized_hypervolume(objs, ms)
        >>> round(hv.value, 4), hv.reference
        (0.1736, (0.79, 2.1))
    """
    if not (isinstance(margin, (int, float)) and np.isfinite(margin) and margin > 0):
        raise ValueError(f"`margin` must be a finite number > 0, but got {margin!r}.")
    pts = losses(objectives, metrics)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    names = tuple(o.name for o in objectives)
    if len(pts) == 0:
        nan = tuple(float("nan") for _ in objectives)
        return HypervolumeSummary(0.0, 0.0, names, nan, nan)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    ref = hi + margin * np.maximum(hi - lo, 1e-12)
    chosen = pts if front is None else losses(objectives, front)
    raw = hypervolume(chosen, ref)
    value = raw / float(np.prod(ref - lo))

    def units(row: np.ndarray) -> tuple[float, ...]:
        return tuple(
            float(-v if o.mode == "max" else v) for o, v in zip(objectives, row, strict=True)
        )

    return HypervolumeSummary(float(value), float(raw), names, units(lo), units(ref))
