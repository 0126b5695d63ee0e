"""Detecting DARTS's collapse to parameter-free cells.

DARTS on NAS-Bench-201 is known to end in the all-``skip_connect`` cell (54.30% on CIFAR-10,
Dong & Yang 2020). Two signals, reported together by :func:`collapse_report`:

- the derived cell: the share of its edges that are ``skip_connect`` or ``none``, and whether
  every edge is parameter-free (``avg_pool_3x3`` too: a short search on an easy task can end in
  an all-pooling cell, which has no weights either and which the skip share misses);
- the curvature of the validation loss w.r.t. the architecture parameters: RobustDARTS (Zela et
  al., ICLR 2020) shows that the dominant Hessian eigenvalue grows steadily before the derived
  cells degrade. :func:`hessian_eigenvalue` computes it by power iteration with Hessian-vector
  products; :func:`eigenvalue_growth` is RobustDARTS's ratio of window means.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raynas.search_spaces._nb201 import EDGES

from .errors import OneShotError

#: Ops that make an edge parameter-free in the collapse sense.
COLLAPSE_OPS = ("skip_connect", "none")
#: Ops without weights of their own.
PARAM_FREE_OPS = ("skip_connect", "none", "avg_pool_3x3")


@dataclass(frozen=True)
class CollapseReport:
    """What the collapse detector found.

    Attributes:
        skip_share: share of the cell's edges that are ``skip_connect`` or ``none``.
        param_free_share: share of the cell's edges without weights (skip, none, avg_pool).
        eigenvalue: the last dominant eigenvalue, or None when none was measured.
        eigenvalue_growth: RobustDARTS's ratio (see :func:`eigenvalue_growth`), or None.
        collapsed: whether any criterion fired.
        reasons: one sentence per criterion that fired.
    """

    skip_share: float
    eigenvalue: float | None
    eigenvalue_growth: float | None
    collapsed: bool
    reasons: tuple[str, ...]
    param_free_share: float = 0.0


def skip_share(config: Mapping[str, Any]) -> float:
    """Share of the six edges of ``config`` holding ``skip_connect`` or ``none``."""
    missing = [e for e in EDGES if e not in config]
    if missing:
        raise OneShotError(f"the config lacks the cell edge `{missing[0]}`; edges: {list(EDGES)}.")
    return sum(config[e] in COLLAPSE_OPS for e in EDGES) / len(EDGES)


def eigenvalue_growth(
    eigenvalues: Sequence[float], *, window: int = 2, lag: int = 2
) -> float | None:
    """``mean(last window) / mean(window ending lag entries earlier)``; None if too short.

    RobustDARTS stops the search when the inverse of this ratio drops below 0.75, i.e. when the
    eigenvalue grew by more than a third within ``lag`` epochs.
    """
    if window < 1 or lag < 1:
        raise OneShotError(f"`window` and `lag` must be >= 1, but got {window} and {lag}.")
    if len(eigenvalues) < window + lag:
        return None
    now = sum(eigenvalues[-window:]) / window
    before_end = len(eigenvalues) - lag
    before = sum(eigenvalues[before_end - window : before_end]) / window
    if before <= 0:
        return float("inf") if now > 0 else None
    return now / before


def collapse_report(
    config: Mapping[str, Any],
    *,
    eigenvalues: Sequence[float] = (),
    max_skip_share: float = 0.5,
    max_eigenvalue_growth: float = 1.0 / 0.75,
    max_param_free_share: float = 5 / 6,
    window: int = 2,
    lag: int = 2,
) -> CollapseReport:
    """Flag a collapsed search from its derived cell and its eigenvalue history.

    Args:
        config: the derived config (its six edges are read).
        eigenvalues: dominant Hessian eigenvalues of the val loss w.r.t. the architecture
            parameters, one per epoch (oldest first); may be empty.
        max_skip_share: collapsed when more than this share of edges is skip/none (default:
            4 or more of the 6 edges; the best NAS-Bench-201 cells have at most 1 or 2).
        max_eigenvalue_growth: collapsed when :func:`eigenvalue_growth` exceeds this
            (RobustDARTS's 0.75 threshold on the inverse ratio).
        max_param_free_share: collapsed when more than this share of edges has no weights
            (skip, none, avg_pool; default: all 6 edges, a cell with no weights at all).
        window, lag: see :func:`eigenvalue_growth`.

    Example:
        >>> cell = {e: "skip_connect" for e in EDGES}
        >>> collapse_report(cell).collapsed
        True
    """
    if not 0.0 <= max_skip_share < 1.0:
        raise OneShotError(f"`max_skip_share` must be in [0, 1), but got {max_skip_share!r}.")
    if not 0.0 <= max_param_free_share < 1.0:
        raise OneShotError(
            f"`max_param_free_share` must be in [0, 1), but got {max_param_free_share!r}."
        )
    share = skip_share(config)
    free = sum(config[e] in PARAM_FREE_OPS for e in EDGES) / len(EDGES)
    reasons = []
    if share > max_skip_share:
        reasons.append(
            f"{share:.0%} of the cell's edges are skip_connect/none (more than {max_skip_share:.0%})"
        )
    if free > max_param_free_share:
        reasons.append(
            f"{free:.0%} of the cell's edges have no weights (skip_connect/none/avg_pool_3x3; "
            f"more than {max_param_free_share:.0%})"
        )
    growth = eigenvalue_growth(eigenvalues, window=window, lag=lag) if eigenvalues else None
    if growth is not None and growth > max_eigenvalue_growth:
        reasons.append(
            f"the dominant Hessian eigenvalue grew {growth:.2f}x within {lag} epochs "
            f"(more than {max_eigenvalue_growth:.2f}x)"
        )
    return CollapseReport(
        skip_share=share,
        eigenvalue=float(eigenvalues[-1]) if eigenvalues else None,
        eigenvalue_growth=growth,
        collapsed=bool(reasons),
        reasons=tuple(reasons),
        param_free_share=free,
    )


def hessian_eigenvalue(
    loss_fn: Callable[[], Any],
    param: Any,
    *,
    iterations: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
) -> float:
    """Largest eigenvalue of the Hessian of ``loss_fn()`` w.r.t. ``param`` (RobustDARTS's signal).

    Power iteration on Hessian-vector products (double backward), stopping when the Rayleigh
    quotient changes by less than ``tol`` (relative). Power iteration finds the eigenvalue of
    largest magnitude; when that one is negative, a second power iteration on ``H - mu I``
    (``mu`` the negative one) finds the largest algebraic eigenvalue. ``loss_fn`` is called once.

    Example:
        >>> import torch
        >>> p = torch.zeros(2, requires_grad=True)
        >>> a = torch.tensor([[3.0, 1.0], [1.0, 2.0]])
        >>> round(hessian_eigenvalue(lambda: 0.5 * p @ a @ p, p), 3)  # (5 + sqrt(5)) / 2
        3.618
    """
    import torch

    if iterations < 1:
        raise OneShotError(f"`iterations` must be >= 1, but got {iterations!r}.")
    loss = loss_fn()
    (grad,) = torch.autograd.grad(loss, param, create_graph=True)
    gen = torch.Generator().manual_seed(seed)
    start = torch.randn(param.shape, generator=gen, dtype=param.dtype).to(param.device)

    def power(shift: float) -> float:
        v = start / start.norm()
        value = 0.0
        for i in range(iterations):
            (hv,) = torch.autograd.grad(grad, param, grad_outputs=v, retain_graph=True)
            hv = hv - shift * v
            new = float((hv * v).sum())
            norm = hv.norm()
            if float(norm) == 0.0:
                return shift
            v = hv / norm
            if i > 0 and abs(new - value) <= tol * max(abs(new), 1e-12):
                return new + shift
            value = new
        return value + shift

    dominant = power(0.0)
    return dominant if dominant >= 0 else power(dominant)


@contextlib.contextmanager
def preserved_buffers(module: Any) -> Iterator[None]:
    """Restore ``module``'s buffers (BN running statistics) on exit."""
    import torch

    saved = [b.detach().clone() for b in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, s in zip(module.buffers(), saved, strict=True):
                b.copy_(s)
