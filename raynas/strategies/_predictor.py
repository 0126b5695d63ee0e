"""Predictor-guided search in the style of BANANAS (White et al. 2021): a surrogate ensemble over
``space.features(config)`` ranks many mutated candidates by an acquisition function."""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from raynas.pareto import crowding_distance, non_dominated_ranks
from raynas.search_spaces import SearchSpace
from raynas.strategies._acquisition import (
    _cdf,
    _phi,
    chebyshev_scores,
    joint_front_probability,
    multi_objective_scores,
    nondominated_probability,
    single_objective_scores,
)
from raynas.strategies._phases import Focus
from raynas.strategies._predictor_parts import (
    Acquisition,
    Neighbourhood,
    Pool,
    RegressorSpec,
    Restarts,
    Surrogate,
    as_part,
    as_surrogates,
)
from raynas.strategies.base import (
    Objective,
    ObjectiveSpec,
    Observation,
    SearchExhausted,
    Strategy,
    StrategyError,
    check_sandwich,
    front_indices,
)

#: The constructor's default parts (frozen, so shared safely).
DEFAULT_SURROGATE = Surrogate()
DEFAULT_ACQUISITION = Acquisition()
DEFAULT_LOCAL = Neighbourhood()
DEFAULT_POOL = Pool()
DEFAULT_RESTARTS = Restarts()


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


class PredictorGuided(Strategy):
    """BANANAS-style search: an ensemble of regressors proposes the most promising candidate.

    After ``num_initial`` random configs, each :meth:`ask` fits ``ensemble_size`` regressors per
    objective (each on a bootstrap resample, with its own seed; the :class:`Surrogate` of that
    objective says which regressor, on which inputs) to the objective's loss, then

    * with probability ``local.rate`` ranks the unseen one-decision neighbours of the incumbent
      (with several objectives: of every member of the observed Pareto front, and sometimes
      their equivalent twins) by their predicted mean: the :class:`Neighbourhood`;
    * otherwise ranks the :class:`Pool` (mutations of the best configs, crossovers, random
      configs, greedy climbs on the surrogate) by the :class:`Acquisition`;

    and proposes the best. With several objectives a :class:`~raynas.strategies.Focus` phase can
    first search the first objective alone, and ``sandwich`` has the space's extremes evaluated
    before the multi-objective walk. Configs of one function class (equal
    ``space.function_key``) share an objective whose observed values agree within classes
    (accuracy, not latency). Results without a finite loss are left out of the regression;
    candidates predicted to break a constraint rank after those predicted to keep it.

    ``get_strategy("predictor", ...)`` builds the measured setting
    (:func:`raynas.strategies.preset`); the constructor's defaults are the plain BANANAS search.
    What each part measured on NAS-Bench-201 is in ``benchmarks/README.md`` ("The predictor's
    arguments, as measured"). Each part may also be given as a dict of its fields (as a YAML
    file gives it).

    Args:
        space: the search space (``space.features`` supplies the inputs of the regressors).
        objectives: one or several objectives, optionally constrained.
        seed: seed of the strategy's random generator (and of the regressors).
        num_initial: random configs before the first model.
        ensemble_size: regressors per objective.
        surrogate: one :class:`Surrogate` for every objective, or a dict objective name (or
            position: 0 is the first objective) -> :class:`Surrogate`, the others
            ``Surrogate()`` (ridge on ``space.features``).
        clip_quantile: with one objective, loss targets are clipped at this quantile before
            fitting, so that the models rank the good configs rather than learn how bad the
            broken ones are; None keeps them raw.
        acquisition: an :class:`Acquisition` (a name: its ``kind``).
        local: the :class:`Neighbourhood` of the local steps.
        pool: the :class:`Pool` of the other steps.
        focus: with several objectives, a :class:`~raynas.strategies.Focus` phase (an int: its
            ``first``; None or 0: none).
        sandwich: with several objectives, evaluate the space's smallest and largest configs
            (``space.extremes()``) first (True), the smallest alone (``"smallest"``), or
            neither (False), in place of random initial ones; after the focus phase.
        refit_every: refit after this many new results; ``None`` refits after every result
            while fewer than 100 were told, then after every ``n // 50``. When the models are
            refitted only every 10 or more results, each kind of candidates (local, pool) is
            ranked once per fit and proposed best first until the next fit.
        restarts: with one objective, when a stalled local search moves elsewhere
            (:class:`Restarts`); None: never.
        extra_features: a callable ``config -> list of floats`` whose values join every
            objective's inputs, such as a zero-cost proxy (:class:`raynas.proxies.Synflow`);
            called once per distinct config ranked, so it must be cheap; a value that is not
            finite counts as unknown (the observed mean). The focus phase does without them.
        extra_weight: each extra feature is standardized over the observed configs and scaled
            to this standard deviation; the larger, the less a ridge regressor shrinks its
            coefficient against the space's 0/1 features.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> space = SearchSpace({f"e{i}": Choice(["a", "b", "c"]) for i in range(5)})
        >>> s = PredictorGuided(space, objectives=["acc"], seed=0, num_initial=5,
        ...                     surrogate=Surrogate(regressor="ridge"), pool=Pool(num_climbs=2))
        >>> for _ in range(15):
        ...     c = s.ask()
        ...     _ = s.tell(c, {"acc": sum(v == "a" for v in c.values())})
        >>> s.best().metrics["acc"]
        5.0
    """

    multi_objective = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        objectives: Sequence[ObjectiveSpec] | ObjectiveSpec | None = None,
        seed: int | None = None,
        num_initial: int = 10,
        ensemble_size: int = 5,
        surrogate: Surrogate | Mapping[Any, Any] = DEFAULT_SURROGATE,
        clip_quantile: float | None = 0.5,
        acquisition: Acquisition | Mapping[str, Any] | str = DEFAULT_ACQUISITION,
        local: Neighbourhood | Mapping[str, Any] = DEFAULT_LOCAL,
        pool: Pool | Mapping[str, Any] = DEFAULT_POOL,
        focus: Focus | Mapping[str, Any] | int | None = None,
        sandwich: bool | str = False,
        refit_every: int | None = None,
        restarts: Restarts | Mapping[str, Any] | None = DEFAULT_RESTARTS,
        extra_features: Callable[[Mapping[str, Any]], Sequence[float]] | None = None,
        extra_weight: float = 10.0,
    ) -> None:
        if isinstance(acquisition, str):
            acquisition = Acquisition(kind=acquisition)
        self.acquisition = as_part("acquisition", acquisition, Acquisition)
        self.multi_objective_acquisition = self.acquisition.multi_objective  # for _check_objectives
        self.surrogate = as_surrogates(surrogate)
        # objective name or position -> spec, checked against the objectives by _check_objectives
        self._by_objective: dict[str, Mapping[str | int, Any]] = {
            "surrogate": self.surrogate if isinstance(self.surrogate, Mapping) else {}
        }
        super().__init__(space, objectives=objectives, seed=seed)
        for name, v, low in (("num_initial", num_initial, 1), ("ensemble_size", ensemble_size, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise StrategyError(f"`{name}` must be an int >= {low}, but got {v!r}.")
        if focus is None:
            focus = Focus(first=0)
        elif isinstance(focus, int) and not isinstance(focus, bool):
            if focus < 0:
                raise StrategyError(
                    f"`focus` must be a Focus, a dict of its fields, an int >= 0 (its `first`) "
                    f"or None, but got {focus!r}."
                )
            focus = Focus(first=focus)
        self.focus = as_part("focus", focus, Focus)
        self.local = as_part("local", local, Neighbourhood)
        self.pool = as_part("pool", pool, Pool)
        self.restarts = None if restarts is None else as_part("restarts", restarts, Restarts)
        check_sandwich(sandwich)
        if refit_every is not None and (
            isinstance(refit_every, bool) or not isinstance(refit_every, int) or refit_every < 1
        ):
            raise StrategyError(f"`refit_every` must be an int >= 1 or None, got {refit_every!r}.")
        if isinstance(self.surrogate, Surrogate):
            self.regressor: RegressorSpec | dict[str | int, RegressorSpec] = (
                self.surrogate.regressor
            )
            inputs: dict[str | int, Any] = (
                {} if self.surrogate.inputs is None else {"*": self.surrogate.inputs}
            )
        else:
            self.regressor = {k: v.regressor for k, v in self.surrogate.items()}
            inputs = {k: v.inputs for k, v in self.surrogate.items() if v.inputs is not None}
        self.objective_inputs = inputs
        self._input_fns = self._resolve_inputs(space, inputs)
        if extra_features is not None and not callable(extra_features):
            raise StrategyError(
                f"`extra_features` must be a callable config -> list of floats (e.g. "
                f"raynas.proxies.Synflow(space)) or None, but got {extra_features!r}."
            )
        if (
            isinstance(extra_weight, bool)
            or not isinstance(extra_weight, (int, float))
            or not extra_weight > 0
            or not math.isfinite(extra_weight)
        ):
            raise StrategyError(f"`extra_weight` must be a number > 0, but got {extra_weight!r}.")
        if clip_quantile is not None and not (
            isinstance(clip_quantile, (int, float)) and 0 < clip_quantile <= 1
        ):
            raise StrategyError(
                f"`clip_quantile` must be in (0, 1] or None, got {clip_quantile!r}."
            )
        self.num_initial = num_initial
        self.ensemble_size = ensemble_size
        self.clip_quantile = clip_quantile
        self.refit_every = refit_every
        self.sandwich = sandwich
        self.extra_features = extra_features
        self.extra_weight = float(extra_weight)
        # the parts' settings, as the search reads them
        self.beta = float(self.acquisition.beta)
        self._local_rate = None if self.local.rate is None else float(self.local.rate)
        self.twins = float(self.local.twins)
        self.num_parents = self.pool.parents
        self.mutations_per_parent = self.pool.mutations_per_parent
        self.num_random = self.pool.num_random
        self.num_crossovers = self.pool.crossover.num
        self.num_crossover_parents = self.pool.crossover.parents
        self.num_climbs = self.pool.num_climbs
        self.patience = None if self.restarts is None else self.restarts.patience
        self.restart_radius = 2.0 if self.restarts is None else self.restarts.radius
        self.focus_first = self.focus.first
        self._n_extra: int | None = None  # length of extra_features' output, once seen
        # with per-objective inputs: "" (space.features), each objective's name (or "*": every
        # objective's), "extra" -> the (start, stop) of its columns in _encode's rows, once seen
        self._blocks: dict[str, tuple[int, int]] = {}
        self._features: list[np.ndarray] = []
        self._reset()

    @property
    def local_rate(self) -> float:
        """Probability of a local step (resolved once the objectives are known)."""
        if self._local_rate is not None:
            return self._local_rate
        return 1.0 if self.multi_objective_wanted else 0.5

    # -- bookkeeping --------------------------------------------------------------------------
    def _reset(self) -> None:
        self._centers: list[np.ndarray] = []  # encode() of abandoned regions' best configs
        self._abandoned_mask: list[bool] = []  # per observation: near an abandoned region
        self._region_best: int | None = None  # best observation outside abandoned regions
        self._stale = 0  # results told since the region's best last improved
        self._jump = False  # whether the next ask explores far from the abandoned regions
        self._features = []
        self._encodings: dict[str, np.ndarray] = {}
        self._models: list[list[Any]] | None = None
        self._fitted_on = 0  # observations the models were fitted on
        self._fidelity_input = False  # whether the models take the fidelity as a last input
        self._fit_seed: int | None = None
        self._classes: dict[str, list[int]] = {}  # space.function_key -> observation indices
        self._finite = 0  # observations with every loss finite
        # "local"/"pool" -> (stamp, candidates worst first): ranked once per fit in long searches
        self._queues: dict[str, tuple[tuple[Any, ...], list[tuple[str, dict[str, Any]]]]] = {}
        self._shared: dict[int, float] = {}  # objective -> within-class variance, if shared
        self._residual: np.ndarray | None = None  # per modelled objective, at the last fit
        # extra_features' columns: offset and scale making them zero-mean, extra_weight-std
        self._extra_shift: tuple[np.ndarray, np.ndarray] | None = None
        self._focus: PredictorGuided | None = None  # the first objective's search (focus_first)

    def _observe(self, obs: Observation, index: int, replaced: bool) -> None:
        if replaced:
            self._finite = sum(all(map(math.isfinite, o.losses)) for o in self._observations)
        else:
            self._finite += all(map(math.isfinite, obs.losses))
            x = self._encode(obs.key, obs.config)
            self._features.append(x)
            self._abandoned_mask.append(self._near_centers(x))
            self._classes.setdefault(self._space.function_key(obs.config), []).append(index)
        focus = self._focus_search()
        if focus is not None:
            focus.tell(obs.config, obs.metrics, feasible=obs.feasible, fidelity=obs.fidelity)
        if self.patience is None or self.multi_objective_wanted:
            return
        if not self._abandoned(index) and (
            self._region_best is None
            or obs.rank_key() < self._observations[self._region_best].rank_key()
        ):
            self._region_best, self._stale = index, 0
            return
        self._stale += 1
        if self._stale >= self.patience and self._region_best is not None:
            # the region has stopped improving: restart the local search somewhere else
            n = self._space.encode_len
            center = self._features[self._region_best][:n]
            self._centers.append(center)
            near = np.abs(np.asarray(self._features)[:, :n] - center).sum(axis=1) / 2
            mask = np.asarray(self._abandoned_mask) | (near <= self.restart_radius)
            self._abandoned_mask = mask.tolist()
            self._region_best = min(
                np.flatnonzero(~mask).tolist(),
                key=lambda i: self._observations[i].rank_key(),
                default=None,
            )
            self._stale = 0
            self._jump = True

    def _abandoned(self, index: int) -> bool:
        """Whether an observation lies in a region the local search has given up on."""
        return self._abandoned_mask[index]

    def _near_centers(self, x: np.ndarray) -> bool:
        if not self._centers:
            return False
        n = self._space.encode_len  # distances count changed decisions: encode() entries only
        near = np.abs(np.asarray(self._centers) - x[:n]).sum(axis=1) / 2
        return bool((near <= self.restart_radius).any())

    def _extra_state(self) -> dict[str, Any]:
        return {
            "fitted_on": self._fitted_on,
            "fit_seed": self._fit_seed,
            "jump": self._jump,
            "queues": {k: [list(st), [c for _, c in q]] for k, (st, q) in self._queues.items()},
            "focus": None if self._focus is None else self._focus.state_dict(),
        }

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        focus = self._focus_search() if state.get("focus") is not None else None
        if focus is not None:
            focus.load_state_dict(state["focus"])  # its own generator and pending configs
        self._fitted_on, self._fit_seed = int(state["fitted_on"]), state["fit_seed"]
        self._jump = bool(state["jump"])
        self._queues = {
            k: (tuple(st), [(self._space.key(c), dict(c)) for c in q])
            for k, (st, q) in state.get("queues", {}).items()
        }
        self._models = None
        if self._fit_seed is not None and self._fitted_on:
            self._fit(self._fitted_on, int(self._fit_seed))  # the same models as before saving

    def _check_objectives(self, objectives: list[Objective]) -> list[Objective]:
        objectives = super()._check_objectives(objectives)
        names = [o.name for o in objectives]
        for field, mapping in getattr(self, "_by_objective", {}).items():
            unknown = sorted(
                (k for k in mapping if k not in names and k not in range(len(names))), key=repr
            )
            if unknown:
                raise StrategyError(
                    f"`{field}` names {unknown}, which are not objectives of this "
                    f"search; its objectives are {names} (or their positions 0 to "
                    f"{len(names) - 1})."
                )
            resolved = [names[k] if isinstance(k, int) else k for k in mapping]
            twice = sorted({n for n in resolved if resolved.count(n) > 1})
            if twice:
                raise StrategyError(
                    f"`{field}` names the objective {twice[0]!r} twice (by name and by position)."
                )
        eps = self.multi_objective_acquisition == "eps"
        if eps and _optimizes_several(objectives) and len(objectives) != 2:
            raise StrategyError(
                f"`multi_objective='eps'` walks the front of exactly two objectives, but got "
                f"{len(objectives)}: {[o.name for o in objectives]}. Use 'hvi', 'parego' or "
                f"'pnd' for more."
            )
        return objectives

    def _focus_search(self) -> PredictorGuided | None:
        """The single-objective search of the first ``focus_first`` results, while they last."""
        if (
            not self.focus_first
            or not self.multi_objective_wanted
            or len(self._observations) > self.focus_first
        ):
            return None
        if self._focus is None:
            # one config per function class: members of a class measure the first objective
            # (accuracy) again; the view keys configs by function, the space itself is shared
            view = copy.copy(self._space)
            view.key = self._space.function_key  # type: ignore[method-assign]
            first = self._require_objectives()[0]
            surrogate: Any = self.surrogate
            if isinstance(surrogate, Mapping):
                mine = {k: v for k, v in surrogate.items() if self._name_of(k) == first.name}
                surrogate = mine or Surrogate()
            climbs = self.focus.num_climbs
            self._focus = PredictorGuided(
                view,
                objectives=[first],
                seed=self._seed,
                num_initial=self.num_initial,
                ensemble_size=self.ensemble_size,
                surrogate=surrogate,
                clip_quantile=self.clip_quantile,
                acquisition=self.acquisition,
                local=Neighbourhood(rate=self.local.rate),
                pool=self.pool if climbs is None else replace(self.pool, num_climbs=climbs),
                refit_every=self.refit_every,
                restarts=self.restarts,
            )
        return self._focus

    def release(self, config: Mapping[str, Any]) -> None:
        super().release(config)
        if self._focus is not None:
            self._focus.release(config)

    # -- the surrogate ------------------------------------------------------------------------
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

    # -- candidates ---------------------------------------------------------------------------
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

    # -- proposing ----------------------------------------------------------------------------
    def _propose(self) -> Mapping[str, Any]:
        if len(self._observations) < self.focus_first:
            focus = self._focus_search()
            if focus is not None:
                try:
                    return focus.ask()
                except SearchExhausted:  # every function class is seen: on to the front
                    pass
        elif self.sandwich and self.multi_objective_wanted:
            # after the focus phase (whose search they would skew), before the walk needs them
            extreme = self.unseen_extreme(self.sandwich)
            if extreme is not None:
                return extreme
        if len(self._observations) < self.num_initial or self._finite < 2:
            return self.sample_new()
        self._ensure_fitted()
        if self.multi_objective_wanted and self.multi_objective_acquisition == "eps":
            return self._propose_eps()
        if not self._jump and self._refit_interval() >= 10:
            # a long search: rank the candidates once per fit and propose them best first
            kinds = ("local", "pool") if self._rng.random() < self.local_rate else ("pool",)
            for kind in kinds:
                config = self._from_queue(kind)
                if config is not None:
                    return config
            return self.sample_new()
        if self._jump:  # a restart: the most promising random config far from the old regions
            self._jump = False
            far = [
                (k, c)
                for k, c in self._unseen(
                    [self._space.sample(self._rng) for _ in range(3 * self.num_random)]
                )
                if not self._near_centers(self._encode(k, c))
            ]
            local, candidates = [], far or self._pool()
        else:
            local = self._local() if self._rng.random() < self.local_rate else []
            candidates = local or self._pool()
        if not candidates:
            return self.sample_new()
        scores = self._rank(candidates, greedy=bool(local))
        return candidates[int(np.argmax(scores))][1]

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


def _inputs_field(key: str | int) -> str:
    """How an error names the inputs of the surrogate under ``key`` ("*": every objective's)."""
    return "surrogate.inputs" if key == "*" else f"surrogate[{key!r}].inputs"


def _optimizes_several(objectives: Sequence[Objective]) -> bool:
    """Whether more than one objective is optimized (the others being constraints)."""
    return sum(1 for o in objectives if o.constraint is None) > 1


def _fit_quiet(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y)
    return model
