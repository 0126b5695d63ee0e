"""PredictorGuided's surrogate: per-objective ensembles fitted on each config's inputs."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from raynas.search_spaces import SearchSpace
from raynas.strategies._predictor_parts import Acquisition, RegressorSpec
from raynas.strategies.base import (
    Objective,
    Strategy,
    StrategyError,
)


def _make_regressor(name: str, seed: int) -> Any:
    if name == "ridge":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=1.0)
    if name == "ridge2":  # ridge over the features and their pairwise products
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import PolynomialFeatures

        return make_pipeline(
            PolynomialFeatures(2, interaction_only=True, include_bias=False), Ridge(alpha=3.0)
        )
    if name == "trees":
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor(
            n_estimators=16, max_features=0.5, min_samples_leaf=2, random_state=seed
        )
    if name == "gbt":
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(
            n_estimators=60, max_depth=3, learning_rate=0.1, subsample=0.8, random_state=seed
        )
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor(
        hidden_layer_sizes=(32, 32), solver="lbfgs", alpha=1e-2, max_iter=300, random_state=seed
    )


def _floats(field: str, fn: Callable[[Mapping[str, Any]], Any], config: Mapping[str, Any]) -> Any:
    """``fn(config)`` as a flat float array, or a StrategyError naming ``field``."""
    raw = fn(config)
    try:
        return np.asarray(raw, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise StrategyError(
            f"`{field}` must return a list of floats, but returned {raw!r} for {dict(config)!r}."
        ) from None


def _fit_quiet(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y)
    return model


def _inputs_field(key: str | int) -> str:
    """How an error names the inputs of the surrogate under ``key`` ("*": every objective's)."""
    return "surrogate.inputs" if key == "*" else f"surrogate[{key!r}].inputs"


def _optimizes_several(objectives: Sequence[Objective]) -> bool:
    """Whether more than one objective is optimized (the others being constraints)."""
    return sum(1 for o in objectives if o.constraint is None) > 1


class _SurrogateFit(Strategy):
    """The ensembles of a :class:`~raynas.strategies.PredictorGuided`: inputs, fits, predictions."""

    # the search state, set by PredictorGuided.__init__ and _reset
    _by_objective: dict[str, Mapping[str | int, Any]]
    regressor: RegressorSpec | dict[str | int, RegressorSpec]
    _n_extra: int | None
    _blocks: dict[str, tuple[int, int]]
    _features: list[np.ndarray]
    _centers: list[np.ndarray]
    _abandoned_mask: list[bool]
    _region_best: int | None
    _encodings: dict[str, np.ndarray]
    _models: list[list[Any]] | None
    _fit_seed: int | None
    _classes: dict[str, list[int]]
    _queues: dict[str, tuple[tuple[Any, ...], list[tuple[str, dict[str, Any]]]]]
    _shared: dict[int, float]
    _residual: np.ndarray | None
    _extra_shift: tuple[np.ndarray, np.ndarray] | None
    extra_features: Callable[[Mapping[str, Any]], Sequence[float]] | None
    extra_weight: float
    _input_fns: dict[str | int, Callable[[Mapping[str, Any]], Any]]
    ensemble_size: int
    clip_quantile: float | None
    refit_every: int | None
    restart_radius: float
    patience: int | None
    num_parents: int
    mutations_per_parent: int
    num_crossovers: int
    num_crossover_parents: int
    num_random: int
    num_climbs: int
    twins: float
    beta: float
    multi_objective_acquisition: str
    acquisition: Acquisition
    _fitted_on: int
    _fidelity_input: bool
    _finite: int
    _stale: int
    _jump: bool

    def _name_of(self, key: str | int) -> str:
        """The objective name a ``surrogate`` key stands for (a
        position counts from the first objective)."""
        return self._require_objectives()[key].name if isinstance(key, int) else key

    def _modelled(self) -> list[int]:
        """Objectives with a model: the optimized ones and those with constraints."""
        objs = self._require_objectives()
        if len(objs) == 1 or self.multi_objective_wanted:
            return list(range(len(objs)))
        return [0, *[j for j, o in enumerate(objs) if j and o.constraint is not None]]

    @property
    def multi_objective_wanted(self) -> bool:
        return _optimizes_several(self._objectives or [])

    @staticmethod
    def _resolve_inputs(
        space: SearchSpace, objective_inputs: Any
    ) -> dict[str | int, Callable[[Mapping[str, Any]], Any]]:
        """``objective_inputs`` as callables, a space method's name replaced by the method."""
        if objective_inputs is None:
            return {}
        out = {}
        for name, spec in objective_inputs.items():
            fn = getattr(space, spec, None) if isinstance(spec, str) else spec
            if not callable(fn):
                methods = [
                    m
                    for m in ("features", "function_paths", "path_encode")
                    if callable(getattr(space, m, None))
                ]
                why = (
                    f"{type(space).__name__} has no method {spec!r}"
                    if isinstance(spec, str)
                    else f"got {spec!r}"
                )
                raise StrategyError(
                    f"`{_inputs_field(name)}` must be the name of a method of the space "
                    f"that maps a config to a list of floats (such as {methods}) or such a "
                    f"callable, but {why}."
                )
            out[name] = fn
        return out

    def _new_model(self, j: int, seed: int) -> Any:
        """A regressor of objective ``j``, seeded."""
        spec = self.regressor
        if isinstance(spec, Mapping):
            name = self._require_objectives()[j].name
            spec = {self._name_of(k): v for k, v in spec.items()}.get(name, "ridge")
        if isinstance(spec, str):
            return _make_regressor(spec, seed)
        return spec(seed)

    def _columns(self, j: int, x: np.ndarray) -> np.ndarray:
        """The columns of ``x`` (rows of ``_encode``, the fidelity column included where the
        models take it) that are objective ``j``'s inputs."""
        if not self._input_fns:
            return x
        name = self._require_objectives()[j].name
        start, stop = self._blocks.get(name, self._blocks.get("*", self._blocks[""]))
        width = x.shape[1]
        rest = np.arange(self._blocks["extra"][0], width)  # extra features, then the fidelity
        return x[:, np.r_[np.arange(start, stop), rest]]

    def _fit(self, n: int, seed: int) -> None:
        """Fit the ensembles on the first ``n`` observations with models seeded from ``seed``."""
        rng = np.random.default_rng(seed)
        x_all = np.asarray(self._features[:n])
        self._fit_extra_shift(x_all)
        x_all = self._inputs(x_all)
        obs = self._observations[:n]
        fid = np.array([o.fidelity for o in obs], dtype=float)
        # results of several fidelities: the fidelity is an input, candidates are predicted at 1.0
        self._fidelity_input = bool(len(fid) and fid.min() < 1.0)
        if self._fidelity_input:
            x_all = np.column_stack([x_all, fid])
        objs = self._require_objectives()
        models: list[list[Any]] = []
        for j in self._modelled():
            y = np.array([o.losses[j] for o in obs], dtype=float)
            keep = np.isfinite(y)
            x, y = self._columns(j, x_all)[keep], y[keep]
            members: list[Any] = []
            if len(y) >= 2:
                if (
                    self.clip_quantile is not None
                    and objs[j].constraint is None
                    and not self.multi_objective_wanted  # the front spans every value
                ):
                    y = np.minimum(y, np.quantile(y, self.clip_quantile))
                mu, sd = float(y.mean()), float(y.std()) or 1.0
                z = (y - mu) / sd
                for _ in range(self.ensemble_size):
                    idx = rng.integers(len(z), size=len(z)) if self.ensemble_size > 1 else None
                    model = self._new_model(j, int(rng.integers(2**31 - 1)))
                    xb, zb = (x, z) if idx is None else (x[idx], z[idx])
                    if np.ptp(zb) == 0:  # a constant resample: fit on everything instead
                        xb, zb = x, z
                    members.append((_fit_quiet(model, xb, zb), mu, sd))
            models.append(members)
        self._models = models
        self._fitted_on, self._fit_seed = n, seed
        mean, _ = self._predict(np.asarray(self._features[:n]))
        self._residual = np.zeros(len(self._modelled()))  # root mean square, per objective
        for col, j in enumerate(self._modelled()):
            y = np.array([o.losses[j] for o in obs], dtype=float)
            keep = np.isfinite(y)
            if keep.any():
                self._residual[col] = math.sqrt(float(np.mean((y[keep] - mean[keep, col]) ** 2)))
        self._shared = self._shared_objectives(n)

    def _shared_objectives(self, n: int) -> dict[int, float]:
        """Objectives that configs of one function class share, with their within-class variance.

        An objective is shared when observed members of a class (same ``space.function_key``,
        different ``key``) agree more closely than the models' residuals: accuracy is shared by
        isomorphic cells, latency of their dead operations is not. Without two observed members
        of any class nothing is shared.
        """
        shared: dict[int, float] = {}
        assert self._residual is not None
        for col, j in enumerate(self._modelled()):
            ss, dof = 0.0, 0
            for members in self._classes.values():
                y = np.array([self._observations[i].losses[j] for i in members if i < n])
                y = y[np.isfinite(y)]
                if len(y) >= 2:
                    ss += float(((y - y.mean()) ** 2).sum())
                    dof += len(y) - 1
            if dof and ss / dof < self._residual[col] ** 2:
                shared[j] = ss / dof
        return shared

    def _share(
        self, candidates: list[tuple[str, dict[str, Any]]], mean: np.ndarray, std: np.ndarray
    ) -> None:
        """Predict shared objectives of candidates with observed equivalents from those (in place)."""
        if not self._shared:
            return
        modelled = self._modelled()
        for row, (_, config) in enumerate(candidates):
            members = self._classes.get(self._space.function_key(config))
            if not members:
                continue
            for col, j in enumerate(modelled):
                if j not in self._shared:
                    continue
                y = np.array([self._observations[i].losses[j] for i in members])
                y = y[np.isfinite(y)]
                if len(y):
                    mean[row, col] = y.mean()
                    std[row, col] = math.sqrt(self._shared[j] * (1 + 1 / len(y)))

    def _refit_interval(self) -> int:
        n = len(self._observations)
        return self.refit_every or (1 if n < 100 else n // 50)

    def _ensure_fitted(self) -> None:
        n = len(self._observations)
        if self._models is None or n - self._fitted_on >= self._refit_interval():
            self._fit(n, int(self._rng.integers(2**31 - 1)))

    def _predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread of each modelled objective's loss: arrays of shape (n, k)."""
        assert self._models is not None
        x = self._inputs(x)
        if self._fidelity_input:
            x = np.column_stack([x, np.ones(len(x))])
        means, stds = [], []
        for j, members in zip(self._modelled(), self._models, strict=True):
            if not members:
                means.append(np.zeros(len(x)))
                stds.append(np.ones(len(x)))
                continue
            xj = self._columns(j, x)
            preds = np.array([m.predict(xj) * sd + mu for m, mu, sd in members])
            means.append(preds.mean(axis=0))
            stds.append(preds.std(axis=0))
        return np.stack(means, axis=1), np.stack(stds, axis=1)

    def _encode(self, key: str, config: Mapping[str, Any]) -> np.ndarray:
        x = self._encodings.get(key)
        if x is None:
            if len(self._encodings) > 100_000:
                self._encodings.clear()
            x = self._space.features(config)
            if self._input_fns:
                x = self._with_objective_inputs(x, config)
            if self.extra_features is not None:
                x = np.concatenate([x, self._extra(config)])
            self._encodings[key] = x
        return x

    def _with_objective_inputs(self, x: np.ndarray, config: Mapping[str, Any]) -> np.ndarray:
        """``space.features`` followed by each ``objective_inputs``' values (their column
        ranges recorded in ``_blocks`` at the first config)."""
        parts, blocks, at = [x], {"": (0, len(x))}, len(x)
        for name, fn in self._input_fns.items():
            values = _floats(_inputs_field(name), fn, config)
            parts.append(values)
            blocks[self._name_of(name)] = (at, at + len(values))
            at += len(values)
        blocks["extra"] = (at, at)
        if not self._blocks:
            self._blocks = blocks
        elif blocks != self._blocks:
            raise StrategyError(
                f"`surrogate` inputs returned {blocks} (column ranges) for {dict(config)!r} but "
                f"{self._blocks} before; each must return the same number of values for every "
                f"config."
            )
        return np.concatenate(parts)

    def _extra(self, config: Mapping[str, Any]) -> np.ndarray:
        """``extra_features(config)`` as floats; a value that is not finite becomes NaN."""
        assert self.extra_features is not None
        values = _floats("extra_features", self.extra_features, config)
        if self._n_extra is None:
            self._n_extra = len(values)
        elif len(values) != self._n_extra:
            raise StrategyError(
                f"`extra_features` returned {len(values)} values for {dict(config)!r} but "
                f"{self._n_extra} before; it must return the same number for every config."
            )
        values[~np.isfinite(values)] = np.nan
        return values

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        """Rows of ``_encode`` as the models see them: extra features standardized."""
        if self._extra_shift is None:
            return x
        offset, scale = self._extra_shift
        k = len(offset)
        x = x.copy()
        extra = (x[:, -k:] - offset) * scale
        extra[np.isnan(extra)] = 0.0  # unknown: the observed mean
        x[:, -k:] = extra
        return x

    def _fit_extra_shift(self, x: np.ndarray) -> None:
        """Standardize the extra features over the observations the models are fitted on."""
        k = self._n_extra or 0
        if self.extra_features is None or not k or not len(x):
            self._extra_shift = None
            return
        extra = x[:, -k:]
        with np.errstate(all="ignore"):
            offset = np.where(np.isnan(extra).all(axis=0), 0.0, np.nanmean(extra, axis=0))
            sd = np.nan_to_num(np.nanstd(extra, axis=0))
        scale = np.where(sd > 0, self.extra_weight / np.where(sd > 0, sd, 1.0), 0.0)
        self._extra_shift = (np.nan_to_num(offset), scale)
