"""A latency predictor learnt from the measurements made so far.

It screens candidates against a latency constraint before they are trained: a bagged ensemble
of scikit-learn regressors over ``space.encode(config)`` (or any feature matrix) predicts the
latency and its spread; a candidate is dropped only when even the optimistic end of the
prediction breaks the constraint. It reports its own accuracy on measured candidates it did not
train on (share within ±10 %, Spearman rank correlation).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._constraints import parse_constraint
from .errors import TargetError

ESTIMATORS = ("gp", "gbm", "ridge", "mlp", "forest")


def _make(name: str, seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, DotProduct, WhiteKernel
    from sklearn.gaussian_process.kernels import ConstantKernel as C
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "gp":
        # a linear part (per-op costs add up) plus a smooth non-linear part, plus noise
        kernel = (
            C(1.0) * DotProduct(sigma_0=1.0) + C(1.0) * RBF(length_scale=3.0) + WhiteKernel(0.01)
        )
        return GaussianProcessRegressor(
            kernel=kernel, normalize_y=True, n_restarts_optimizer=1, random_state=seed
        )
    if name == "gbm":
        return GradientBoostingRegressor(
            n_estimators=400, learning_rate=0.1, max_depth=2, subsample=0.8, random_state=seed
        )
    if name == "ridge":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-4, 3, 30)))
    if name == "forest":
        return RandomForestRegressor(n_estimators=200, random_state=seed)
    return make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(64, 64), alpha=1e-3, max_iter=3000, random_state=seed),
    )


@contextlib.contextmanager
def _quiet_blas() -> Iterator[None]:
    """One BLAS thread and no convergence chatter while fitting.

    Predictors see hundreds of rows: threaded BLAS only adds contention there (10x slower on
    a 2-core machine shared with training trials).
    """
    import scipy.linalg  # noqa: F401  (load scipy's own BLAS first: limits apply to loaded ones)
    import sklearn.gaussian_process  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        try:
            from sklearn.exceptions import ConvergenceWarning

            warnings.simplefilter("ignore", category=ConvergenceWarning)
        except ImportError:  # pragma: no cover
            pass
        yield


@dataclass(frozen=True)
class PredictorReport:
    """Accuracy of a predictor on held-out measured candidates.

    Attributes:
        n: number of candidates scored.
        within_10pct: share of predictions within ±10 % of the measurement.
        spearman: Spearman rank correlation of predictions and measurements.
        mape: mean absolute percentage error (0.05 = 5 %).
    """

    n: int
    within_10pct: float
    spearman: float
    mape: float

    def __str__(self) -> str:
        return (
            f"n={self.n} within±10%={self.within_10pct:.3f} spearman={self.spearman:.4f} "
            f"mape={self.mape:.3f}"
        )


def report(pred: np.ndarray, true: np.ndarray) -> PredictorReport:
    """Score predictions against measurements."""
    from scipy.stats import spearmanr

    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    rel = np.abs(pred / true - 1.0)
    rho = float(spearmanr(pred, true)[0]) if len(true) > 1 else float("nan")
    return PredictorReport(
        n=int(len(true)),
        within_10pct=float(np.mean(rel <= 0.10)),
        spearman=rho,
        mape=float(np.mean(rel)),
    )


class LatencyPredictor:
    """Bagged regressors predicting latency (or any cost) with an uncertainty.

    Args:
        estimator: ``"gp"`` (Gaussian process with a linear + RBF + noise kernel: the most
            accurate with the ~100 measurements a search has, see
            ``benchmarks/latency_predictor.py``), ``"gbm"`` (gradient boosting, for thousands
            of measurements), ``"ridge"``, ``"mlp"``, ``"forest"``, or a zero-argument factory
            returning a scikit-learn regressor.
        n_models: ensemble size; each member is fit on a bootstrap sample, and their spread is
            the uncertainty (1 model: no spread).
        log_target: regress the log of the latency instead of the latency. Off by default:
            latency is close to a sum of per-operator costs, which a log distorts, and
            degenerate near-zero latencies become outliers in log space (measured on the
            NAS-Bench-201 latency table: raw targets win on every device).
        encode: turns a config into a feature vector (``space.encode``); then ``fit``,
            ``predict`` and ``screen`` also accept lists of configs.
        seed: seed of the predictor's own random generator.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.integers(0, 2, size=(80, 6)).astype(float)
        >>> y = 1.0 + X @ np.array([1.0, 2.0, 0.5, 0.1, 3.0, 0.2])
        >>> p = LatencyPredictor(estimator="ridge", n_models=3, seed=0).fit(X[:60], y[:60])
        >>> p.evaluate(X[60:], y[60:]).within_10pct >= 0.9
        True
        >>> p.screen(X[60:], "latency_p50_ms <= 3").dtype
        dtype('bool')
    """

    def __init__(
        self,
        *,
        estimator: str | Callable[[], Any] = "gp",
        n_models: int = 5,
        log_target: bool = False,
        encode: Callable[[Mapping[str, Any]], Sequence[float]] | None = None,
        seed: int | None = 0,
    ) -> None:
        if not callable(estimator) and estimator not in ESTIMATORS:
            raise TargetError(
                f"`estimator` must be one of {list(ESTIMATORS)} or a factory of scikit-learn "
                f"regressors, but got {estimator!r}."
            )
        if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 1:
            raise TargetError(f"`n_models` must be an int >= 1, but got {n_models!r}.")
        self.estimator = estimator
        self.n_models = n_models
        self.log_target = log_target
        self.encode = encode
        self._rng = np.random.default_rng(seed)
        self._models: list[Any] = []
        self._X: np.ndarray | None = None
        self._y: np.ndarray | None = None

    # -- data -------------------------------------------------------------------------------
    def _features(self, X: Any) -> np.ndarray:
        if (
            self.encode is not None
            and isinstance(X, Sequence)
            and len(X) > 0
            and isinstance(X[0], Mapping)
        ):
            return np.asarray([np.asarray(self.encode(c), dtype=float) for c in X])
        arr = np.asarray(X, dtype=float)
        if arr.ndim != 2:
            raise TargetError(
                f"features must be a 2-D array (candidates x features) or a list of configs "
                f"with `encode` given, but got an array of shape {arr.shape}."
            )
        return arr

    def _new_model(self) -> Any:
        if callable(self.estimator):
            return self.estimator()
        return _make(self.estimator, int(self._rng.integers(2**31 - 1)))

    # -- learning ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Sequence[float] | np.ndarray) -> LatencyPredictor:
        """Fit on features (or configs) and measured latencies (all > 0 with ``log_target``)."""
        yv = np.asarray(y, dtype=float).reshape(-1)
        if len(yv) < 2:
            raise TargetError(f"a predictor needs at least 2 measurements, but got {len(yv)}.")
        Xf = self._features(X)
        if len(Xf) != len(yv):
            raise TargetError(f"got {len(Xf)} candidates but {len(yv)} latencies.")
        if self.log_target and np.any(yv <= 0):
            raise TargetError(
                f"latencies must be > 0 with log_target=True, but got {yv[yv <= 0][:5].tolist()}."
            )
        self._X, self._y = Xf, yv
        t = np.log(yv) if self.log_target else yv
        self._models = []
        with _quiet_blas():
            for k in range(self.n_models):
                self._models.append(self._fit_member(k, Xf, t))
        return self

    def _fit_member(self, k: int, Xf: np.ndarray, t: np.ndarray) -> Any:
        n = len(t)
        if self.n_models == 1 or k == 0:
            idx = np.arange(n)  # one member sees every measurement
        else:
            idx = self._rng.integers(0, n, size=n)  # bootstrap sample
        model = self._new_model()
        model.fit(Xf[idx], t[idx])
        return model

    def update(self, X: Any, y: Sequence[float]) -> LatencyPredictor:
        """Add new measurements to the ones seen so far and refit."""
        Xf = self._features(X)
        if self._X is None or self._y is None:
            return self.fit(Xf, y)
        return self.fit(np.vstack([self._X, Xf]), np.concatenate([self._y, np.asarray(y, float)]))

    @property
    def n_seen(self) -> int:
        """Number of measurements the predictor was fit on."""
        return 0 if self._y is None else int(len(self._y))

    def predict(self, X: Any, *, return_std: bool = False) -> Any:
        """Predicted latency; with ``return_std``, also the ensemble's spread (same unit)."""
        if not self._models:
            raise TargetError("the predictor is not fit yet: call fit() with measurements first.")
        Xf = self._features(X)
        with _quiet_blas():
            members = np.stack([m.predict(Xf) for m in self._models])
        if self.log_target:
            mu_log = members.mean(axis=0)
            mean = np.exp(mu_log)
            std = mean * members.std(axis=0)
        else:
            mean, std = members.mean(axis=0), members.std(axis=0)
        return (mean, std) if return_std else mean

    def screen(
        self, X: Any, constraint: str | tuple[str, float] | float, *, z: float = 1.0
    ) -> np.ndarray:
        """Which candidates may satisfy ``constraint`` (``"latency_p50_ms <= 5"``, ``("<=", 5)``
        or a bound meaning ``<=``): kept unless ``mean ∓ z·std`` already breaks it."""
        if isinstance(constraint, (int, float)) and not isinstance(constraint, bool):
            op, bound = "<=", float(constraint)
        elif isinstance(constraint, tuple) and len(constraint) == 2:
            op, bound = str(constraint[0]), float(constraint[1])
        else:
            _, op, bound = parse_constraint(constraint)  # type: ignore[arg-type]
        mean, std = self.predict(X, return_std=True)
        if op in ("<=", "<"):
            optimistic = mean - z * std
            return np.asarray(optimistic <= bound if op == "<=" else optimistic < bound)
        optimistic = mean + z * std
        return np.asarray(optimistic >= bound if op == ">=" else optimistic > bound)

    def evaluate(self, X: Any, y: Sequence[float]) -> PredictorReport:
        """Accuracy on measured candidates (which the predictor should not have seen)."""
        return report(self.predict(X), np.asarray(y, dtype=float))

    @classmethod
    def from_cache(
        cls,
        cache: Any,
        target: Any,
        *,
        encode: Callable[[Mapping[str, Any]], Sequence[float]],
        metric: str = "latency_p50_ms",
        **kwargs: Any,
    ) -> LatencyPredictor:
        """Fit on every feasible measurement of ``target`` in a :class:`MeasurementCache`."""
        configs, values = [], []
        for config, m in cache.records(target):
            v = m.metrics().get(metric)
            if config is not None and m.feasible and v is not None and v > 0:
                configs.append(config)
                values.append(float(v))
        return cls(encode=encode, **kwargs).fit(configs, values)
