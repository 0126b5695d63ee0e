"""Predictor-guided search in the style of BANANAS (White et al. 2021): a surrogate ensemble over
``space.features(config)`` ranks many mutated candidates by an acquisition function."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from raynas.search_spaces import SearchSpace
from raynas.strategies._phases import Focus
from raynas.strategies._predictor_parts import (
    Acquisition,
    Neighbourhood,
    Pool,
    Restarts,
    Surrogate,
    as_part,
    as_surrogates,
)
from raynas.strategies._predictor_scoring import _Scoring
from raynas.strategies._predictor_surrogate import _optimizes_several
from raynas.strategies.base import (
    Objective,
    ObjectiveSpec,
    Observation,
    SearchExhausted,
    StrategyError,
    check_sandwich,
)

#: The constructor's default parts (frozen, so shared safely).
DEFAULT_SURROGATE = Surrogate()
DEFAULT_ACQUISITION = Acquisition()
DEFAULT_LOCAL = Neighbourhood()
DEFAULT_POOL = Pool()
DEFAULT_RESTARTS = Restarts()


class PredictorGuided(_Scoring):
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
        self._by_objective = {
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
            self.regressor = self.surrogate.regressor
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
        self._n_extra = None  # length of extra_features' output, once seen
        # with per-objective inputs: "" (space.features), each objective's name (or "*": every
        # objective's), "extra" -> the (start, stop) of its columns in _encode's rows, once seen
        self._blocks = {}
        self._features = []
        self._reset()

    @property
    def local_rate(self) -> float:
        """Probability of a local step (resolved once the objectives are known)."""
        if self._local_rate is not None:
            return self._local_rate
        return 1.0 if self.multi_objective_wanted else 0.5

    def _reset(self) -> None:
        self._centers = []  # encode() of abandoned regions' best configs
        self._abandoned_mask = []  # per observation: near an abandoned region
        self._region_best = None  # best observation outside abandoned regions
        self._stale = 0  # results told since the region's best last improved
        self._jump = False  # whether the next ask explores far from the abandoned regions
        self._features = []
        self._encodings = {}
        self._models = None
        self._fitted_on = 0  # observations the models were fitted on
        self._fidelity_input = False  # whether the models take the fidelity as a last input
        self._fit_seed = None
        self._classes = {}  # space.function_key -> observation indices
        self._finite = 0  # observations with every loss finite
        # "local"/"pool" -> (stamp, candidates worst first): ranked once per fit in long searches
        self._queues = {}
        self._shared = {}  # objective -> within-class variance, if shared
        self._residual = None  # per modelled objective, at the last fit
        # extra_features' columns: offset and scale making them zero-mean, extra_weight-std
        self._extra_shift = None
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
