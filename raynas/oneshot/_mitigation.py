"""Published mitigations of DARTS's collapse, passed to a search as objects.

Shipped:

- :class:`AuxiliarySkip` -- DARTS- (Chu et al., "DARTS-: Robustly Stepping out of Performance
  Collapse Without Indicators", ICLR 2021). The default choice of raynas: it needs no extra
  computation, no threshold to tune and no indicator, and it attacks the cause the authors
  identify (skip connections win because they also ease the optimisation of the supernet, an
  unfair advantage that an explicit auxiliary skip takes away).
- :class:`EigenvalueEarlyStop` -- DARTS-ES of RobustDARTS (Zela et al., ICLR 2020): stop the
  search when the dominant Hessian eigenvalue of the validation loss w.r.t. the architecture
  parameters grows too fast, and return the architecture of ``lag`` epochs earlier. It needs the
  eigenvalue every epoch (the search computes it anyway for the collapse report).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._collapse import eigenvalue_growth
from .errors import OneShotError


class Mitigation:
    """Base class: hooks a gradient search calls; the defaults change nothing."""

    def aux_skip(self, epoch: int, epochs: int) -> float:
        """Weight of the auxiliary skip added to every edge during ``epoch`` (0-based)."""
        return 0.0

    def rollback(self, eigenvalues: Sequence[float]) -> int | None:
        """None to go on, else how many epochs back the architecture should be restored from
        (the search then stops)."""
        return None


class AuxiliarySkip(Mitigation):
    """DARTS-: an auxiliary skip ``beta * x`` on every edge, ``beta`` decaying linearly to 0.

    ``beta = beta0 * (1 - epoch / epochs)``, as in the paper (``beta0 = 1``); the derived cell is
    read from the architecture weights as usual (the auxiliary skip is not an op of the space).

    Args:
        beta0: the starting weight of the auxiliary skip.

    Example:
        >>> AuxiliarySkip().aux_skip(0, 10), AuxiliarySkip().aux_skip(5, 10)
        (1.0, 0.5)
    """

    def __init__(self, *, beta0: float = 1.0) -> None:
        if isinstance(beta0, bool) or not isinstance(beta0, (int, float)) or beta0 <= 0:
            raise OneShotError(f"`beta0` must be a number > 0, but got {beta0!r}.")
        self.beta0 = float(beta0)

    def aux_skip(self, epoch: int, epochs: int) -> float:
        return self.beta0 * max(0.0, 1.0 - epoch / max(1, epochs))

    def __repr__(self) -> str:
        return f"AuxiliarySkip(beta0={self.beta0})"


class EigenvalueEarlyStop(Mitigation):
    """RobustDARTS's DARTS-ES: stop when the eigenvalue grows more than ``1 / ratio`` times.

    With ``window``-epoch means, the search stops at epoch ``i`` when
    ``mean(lambda[i-window+1..i]) * ratio > mean(lambda[i-lag-window+1..i-lag])`` and keeps the
    architecture parameters of epoch ``i - lag``. The paper uses ``ratio=0.75``, ``window=5``,
    ``lag=5`` over 50 epochs; the defaults here are scaled for short searches.

    Example:
        >>> EigenvalueEarlyStop(window=1, lag=1).rollback([1.0, 2.0])
        1
    """

    def __init__(self, *, ratio: float = 0.75, window: int = 2, lag: int = 2) -> None:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
            raise OneShotError(f"`ratio` must be a number in (0, 1), but got {ratio!r}.")
        for name, value in (("window", window), ("lag", lag)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OneShotError(f"`{name}` must be an int >= 1, but got {value!r}.")
        self.ratio, self.window, self.lag = float(ratio), window, lag

    def rollback(self, eigenvalues: Sequence[float]) -> int | None:
        growth = eigenvalue_growth(eigenvalues, window=self.window, lag=self.lag)
        if growth is not None and growth * self.ratio > 1.0:
            return self.lag
        return None

    def __repr__(self) -> str:
        return f"EigenvalueEarlyStop(ratio={self.ratio}, window={self.window}, lag={self.lag})"
