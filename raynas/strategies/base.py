"""The ask/tell contract every search strategy follows, and the bookkeeping they share.

A :class:`Strategy` proposes configurations of a :class:`~raynas.search_spaces.SearchSpace` with
:meth:`~Strategy.ask` and learns from their results through :meth:`~Strategy.tell`. It imports
neither Ray nor torch: the Tune adapter (:class:`raynas.tune.Searcher`) wraps any strategy, and
unit tests or tabular benchmarks drive one directly.

Rules every strategy keeps:

* It owns a ``numpy.random.Generator`` made from its ``seed``; nothing touches a global RNG, so
  the same seed and the same results give the same sequence of configs.
* It never proposes a config whose :meth:`SearchSpace.key` it has already proposed or been told
  about, while unseen configs remain (for spaces with an isomorphism-aware key, such as the
  NAS-Bench-201 cell space, isomorphic cells count as the same config). When none remain,
  :meth:`~Strategy.ask` raises :class:`SearchExhausted`.
* Failures are results: ``tell(config, None)`` (an errored trial), ``tell(..., feasible=False)``
  or a NaN/inf/missing objective all record an infeasible observation, ranked after every
  feasible one; they never raise.
* A result of a truncated training (a trial a scheduler such as ASHA stopped early) is told with
  its ``fidelity``, the share of the full budget it reached; strategies rank it after every
  result of a higher fidelity (see "Low-fidelity results" below).
* :meth:`~Strategy.state_dict` is plain Python data (JSON-like, picklable) and
  :meth:`~Strategy.load_state_dict` restores it exactly: a restored strategy makes the same next
  suggestion as the original.

Low-fidelity results (the documented choice). A trial that a scheduler (ASHA, HyperBand, BOHB,
:class:`~raynas.schedulers.MultiObjectiveASHA`) stopped early is told with ``fidelity``: the share
of the full budget it reached, in (0, 1]. Such a trial lost a comparison at its rung: the
scheduler judged it worse than its peers at the same budget. So every strategy orders results
lexicographically by (constraint violation, fidelity descending, objectives): a feasible result
trained for 3 of 27 epochs ranks after every feasible result trained for 27, and results of equal
fidelity are compared by their objectives. This is how Optuna's TPE ranks pruned trials; a
truncated learning curve's low accuracy is never compared with a complete one's as if both were
final. In detail:

* :meth:`Strategy.best` and :meth:`Strategy.pareto_front` are taken over the feasible results of
  the highest fidelity told;
* regularized evolution's tournaments, NSGA-II's non-dominated sorting (one fidelity level after
  another), TPE's good/bad split and the predictor's choice of parents follow the same order;
* the REINFORCE controller rewards a low-fidelity result at most as well as the worst result of
  full fidelity seen so far;
* the predictor's surrogate takes the fidelity as an input feature once results of several
  fidelities exist, and predicts every candidate at full fidelity.

Results told without a ``fidelity`` have fidelity 1.0, so a search without early stopping is
unchanged.
"""

from __future__ import annotations

import copy
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from raynas.objectives import Objective, as_objectives, total_violation
from raynas.search_spaces import Repeat, SearchSpace, Struct, When
from raynas.search_spaces._domains import Domain
from raynas.search_spaces.errors import RaynasError

ObjectiveSpec = str | Objective | Mapping[str, Any]

#: How many random draws :meth:`Strategy.sample_new` tries before it enumerates the space.
MAX_REJECTIONS = 256
#: Finite spaces up to this many configs can be enumerated to find the unseen ones.
MAX_ENUMERATION = 500_000
_STATE_VERSION = 1


class StrategyError(RaynasError, ValueError):
    """A strategy is configured badly (bad argument, objectives missing or unsupported)."""


class SearchExhausted(RaynasError):
    """Every config of the space has been proposed or observed: there is nothing new to ask."""


@dataclass(frozen=True)
class Observation:
    """One told result.

    Attributes:
        config: the canonical config (``space.validate`` form).
        key: ``space.key(config)``.
        metrics: the objectives' values as floats (NaN where missing or not a number).
        feasible: ``False`` when the trial errored or reported ``feasible=False``.
        losses: one value per objective to minimize (``max`` objectives negated); ``inf`` where
            the value is missing or not finite.
        violation: total constraint violation; 0.0 for a feasible result within its
            constraints, ``inf`` for an infeasible, errored or NaN result.
        fidelity: the share of the full training budget behind the result, in (0, 1]; below
            1.0 for a trial a scheduler stopped early (see the module docstring).
    """

    config: dict[str, Any]
    key: str
    metrics: dict[str, float]
    feasible: bool
    losses: tuple[float, ...]
    violation: float = field(default=0.0)
    fidelity: float = field(default=1.0)

    @property
    def ok(self) -> bool:
        """Whether the result is feasible and meets every constraint."""
        return self.violation == 0.0

    def rank_key(self) -> tuple[float, float, float]:
        """Sort key for single-objective ranking: feasible first, then higher fidelity first,
        then by the first loss."""
        return (self.violation, -self.fidelity, self.losses[0])


class Strategy(ABC):
    """Base class of the search strategies: ``ask() -> config``, ``tell(config, metrics)``.

    Subclasses implement :meth:`_propose` (and usually :meth:`_observe`); the base class
    validates configs, keeps the observations, the pending configs and the key-based dedup,
    and saves/restores everything through :meth:`state_dict`.

    Args:
        space: the search space to propose configs from.
        objectives: what to optimize, e.g. ``["val_acc"]`` (``max`` by default),
            ``["val_acc:max", "latency_ms:min"]`` or ``["val_acc", "latency_ms <= 5"]``.
            Single-objective strategies optimize the first one and use the others as
            constraints, so those must carry one. May be left ``None`` and set later with
            :meth:`set_objectives` (the Tune adapter does that from ``metric``/``mode``).
        seed: seed of the strategy's own random generator.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> from raynas.strategies import RandomSearch
        >>> space = SearchSpace({"op": Choice(["conv", "pool", "skip"])})
        >>> s = RandomSearch(space, objectives=["acc"], seed=0)
        >>> cfg = s.ask()
        >>> _ = s.tell(cfg, {"acc": 0.9})
        >>> s.best().metrics["acc"]
        0.9
    """

    #: Whether the strategy optimizes several objectives at once (a Pareto front).
    multi_objective: ClassVar[bool] = False
    #: Whether :meth:`_observe` is replayed by :meth:`load_state_dict` (else restored from extra).
    _replay_observe: ClassVar[bool] = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        objectives: Sequence[ObjectiveSpec] | ObjectiveSpec | None = None,
        seed: int | None = None,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise StrategyError(
                f"`space` must be a raynas SearchSpace, but got {type(space).__name__}: {space!r}."
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise StrategyError(f"`seed` must be an int or None, but got {seed!r}.")
        self._space = space
        self._seed = None if seed is None else int(seed)
        self._rng = np.random.default_rng(self._seed)
        self._objectives: list[Objective] | None = None
        if objectives is not None:
            self._objectives = self._check_objectives(as_objectives(objectives))
        self._observations: list[Observation] = []
        self._index: dict[str, int] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._queue: list[dict[str, Any]] = []  # enqueued configs, proposed before the strategy's
        self._best_index: int | None = None
        self._replaying = False
        self._extremes: list[dict[str, Any]] | None = None  # space.extremes(), once asked for

    # -- properties -------------------------------------------------------------------------
    @property
    def space(self) -> SearchSpace:
        """The search space."""
        return self._space

    @property
    def seed(self) -> int | None:
        """The seed the strategy was made with."""
        return self._seed

    @property
    def objectives(self) -> list[Objective] | None:
        """The objectives, or None while not set."""
        return None if self._objectives is None else list(self._objectives)

    @property
    def observations(self) -> tuple[Observation, ...]:
        """Every told result, in the order first told."""
        return tuple(self._observations)

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Configs asked and not told yet."""
        return [copy.deepcopy(c) for c in self._pending.values()]

    @property
    def queued(self) -> list[dict[str, Any]]:
        """Configs enqueued (:meth:`enqueue`) and not asked yet, in the order they will be asked."""
        return [copy.deepcopy(c) for c in self._queue]

    def __len__(self) -> int:
        return len(self._observations)

    def __repr__(self) -> str:
        names = None if self._objectives is None else [o.name for o in self._objectives]
        return (
            f"{type(self).__name__}(objectives={names}, seed={self._seed}, "
            f"observations={len(self._observations)}, pending={len(self._pending)})"
        )

    # -- objectives -------------------------------------------------------------------------
    def set_objectives(self, objectives: Sequence[ObjectiveSpec] | ObjectiveSpec) -> None:
        """Set the objectives (allowed until the first result is told, or to the same ones)."""
        objs = self._check_objectives(as_objectives(objectives))
        if self._objectives is not None and self._observations and objs != self._objectives:
            raise StrategyError(
                f"`objectives` cannot change after results were told: the strategy has "
                f"{[str(o) for o in self._objectives]}, got {[str(o) for o in objs]}."
            )
        self._objectives = objs

    def _check_objectives(self, objectives: list[Objective]) -> list[Objective]:
        if not self.multi_objective:
            free = [o.name for o in objectives[1:] if o.constraint is None]
            if free:
                raise StrategyError(
                    f"`{type(self).__name__}` optimizes a single objective: the first of "
                    f"`objectives` ({objectives[0].name!r}); the others must be constraints "
                    f"(such as 'latency_ms <= 5'), but {free} have none. Use a multi-objective "
                    f"strategy ('nsga2', 'predictor' or 'random') to trade them off."
                )
        return objectives

    def _require_objectives(self) -> list[Objective]:
        if self._objectives is None:
            raise StrategyError(
                f"`objectives` of {type(self).__name__} are not set: pass "
                f"objectives=['val_acc'] (or similar) or call set_objectives() before tell()."
            )
        return self._objectives

    # -- ask / tell -------------------------------------------------------------------------
    def enqueue(self, configs: Sequence[Mapping[str, Any]], *, field: str = "configs") -> None:
        """Have the next asks return ``configs``, in order, before the strategy's own proposals.

        Ray Tune's ``points_to_evaluate`` and Optuna's ``enqueue_trial``: known good
        architectures, a baseline, or the best ones of an earlier search. Every config is
        validated now, so a bad one fails before any trial starts. Configs already proposed,
        told or queued are left out, and a queued one told before its turn comes is skipped, so
        the no-duplicates rule holds.
        Asking a queued config draws nothing from the strategy's RNG; its result is told like
        any other.

        Raises:
            StrategyError: ``configs`` is not a list of configs of the space; the message names
                ``field[i]``, the value and the reason.
        """
        queued = {self._space.key(c) for c in self._queue}
        for config in validate_configs(self._space, configs, field):
            key = self._space.key(config)
            if self.is_new(key) and key not in queued:
                queued.add(key)
                self._queue.append(config)

    def ask(self) -> dict[str, Any]:
        """Propose a config not proposed or observed before (queued ones first).

        Raises:
            SearchExhausted: every config of the space has been proposed or observed.
        """
        while self._queue:
            config = self._queue.pop(0)
            key = self._space.key(config)
            if self.is_new(key):
                self._pending[key] = config
                return copy.deepcopy(config)
        config = self._space.validate(self._propose())
        key = self._space.key(config)
        if not self.is_new(key):  # a subclass slipped: never hand out a duplicate
            config = self.sample_new()
            key = self._space.key(config)
        self._pending[key] = config
        return copy.deepcopy(config)

    def mark_pending(self, config: Mapping[str, Any]) -> None:
        """Record ``config`` as proposed and awaiting its result, as if :meth:`ask` returned it.

        For a config that an earlier copy of this search handed out, but that its saved state
        lacks (``raynas.tune.Searcher.sync_trials`` on a resume): it is not proposed again,
        and its :meth:`tell` is awaited like any other. A config already told is left as it is.
        """
        canonical = validate_config(self._space, config, "config")
        key = self._space.key(canonical)
        if key not in self._index:
            self._pending[key] = canonical

    def release(self, config: Mapping[str, Any]) -> None:
        """Forget a pending ``config`` whose result will never come: it may be proposed again.

        For a trial a resumed search lost (Tune's saved trial list never had it): it never ran.
        """
        self._pending.pop(self._space.key(validate_config(self._space, config, "config")), None)

    def tell(
        self,
        config: Mapping[str, Any],
        metrics: Mapping[str, Any] | None = None,
        *,
        feasible: bool = True,
        fidelity: float = 1.0,
    ) -> Observation:
        """Record the result of ``config``.

        Args:
            config: a config of the space (asked before or not: foreign results are welcome).
            metrics: the trial's metrics; only the objectives' values are kept. ``None`` marks
                an errored trial.
            feasible: ``False`` when the candidate failed (did not build, ran out of memory,
                broke a hard limit); the result is kept as infeasible.
            fidelity: the share of the full training budget behind ``metrics``, in (0, 1]:
                below 1.0 when a scheduler stopped the trial early
                (:func:`raynas.schedulers.reached_fidelity`). Ranked after every result of a
                higher fidelity (see the module docstring).

        Raises:
            StrategyError: ``fidelity`` is not a number in (0, 1].

        Telling a config that was told before replaces its earlier result.
        """
        objectives = self._require_objectives()
        fidelity = _check_fidelity(fidelity)
        canonical = self._space.validate(config)
        key = self._space.key(canonical)
        values = _clean_metrics(objectives, metrics)
        feasible = bool(feasible) and metrics is not None
        losses = tuple(
            o.loss(values[o.name]) if math.isfinite(values[o.name]) else math.inf
            for o in objectives
        )
        violation = total_violation(objectives, values) if feasible else math.inf
        obs = Observation(canonical, key, values, feasible, losses, violation, fidelity)
        self._pending.pop(key, None)
        index = self._index.get(key)
        replaced = index is not None
        if index is None:
            index = len(self._observations)
            self._index[key] = index
            self._observations.append(obs)
        else:
            self._observations[index] = obs
        self._update_best(index, replaced)
        if self._replay_observe or not self._replaying:
            self._observe(obs, index, replaced)
        return obs

    def best(self) -> Observation | None:
        """The best observation by the first objective (feasible ones first), or None."""
        return None if self._best_index is None else self._observations[self._best_index]

    def pareto_front(self, ranks: int = 1) -> list[Observation]:
        """The non-dominated feasible observations over all objectives (least violating if none);
        with ``ranks`` > 1, those of the next non-dominated ranks too (the front of what the
        front leaves, and so on), front first."""
        obs = self._observations
        if not obs:
            return []
        viol = np.array([o.violation for o in obs])
        ok = np.flatnonzero(viol == 0)
        if len(ok) == 0:
            return [obs[i] for i in np.flatnonzero(viol == viol.min())]
        fid = np.array([obs[i].fidelity for i in ok])
        ok = ok[fid == fid.max()]  # the highest fidelity told: truncated results rank after
        out: list[Observation] = []
        for _ in range(ranks):
            if len(ok) == 0:
                break
            first = front_indices(np.array([obs[i].losses for i in ok]))
            out += [obs[ok[i]] for i in first]
            ok = np.delete(ok, first)
        return out

    def _update_best(self, index: int, replaced: bool) -> None:
        if replaced and self._best_index == index:
            self._best_index = min(
                range(len(self._observations)), key=lambda i: self._observations[i].rank_key()
            )
        elif (
            self._best_index is None
            or self._observations[index].rank_key()
            < self._observations[self._best_index].rank_key()
        ):
            self._best_index = index

    # -- helpers for subclasses -------------------------------------------------------------
    def is_new(self, key: str) -> bool:
        """Whether a config with this key was neither proposed nor observed."""
        return key not in self._index and key not in self._pending

    def new_config(
        self, make: Callable[[], Mapping[str, Any]], tries: int = 32
    ) -> dict[str, Any] | None:
        """Call ``make`` until it returns an unseen config (validated), or None after ``tries``."""
        for _ in range(tries):
            config = make()
            if self.is_new(self._space.key(config)):  # key() validates: a repeat costs one pass
                return self._space.validate(config)
        return None

    def unseen_extreme(self, sandwich: bool | str) -> dict[str, Any] | None:
        """The first of ``space.extremes()`` (smallest, largest; only the smallest with
        ``sandwich="smallest"``, none with False) not proposed or observed yet.

        Multi-objective strategies propose these in their initial random phase (``sandwich``):
        the cheapest and the largest model anchor the two ends of an accuracy / cost front.
        Draws nothing from the RNG, so a restored search proposes the same ones.
        """
        if not sandwich:
            return None
        if self._extremes is None:
            self._extremes = self._space.extremes()
        for config in self._extremes[:1] if sandwich == "smallest" else self._extremes:
            if self.is_new(self._space.key(config)):
                return config
        return None

    def sample_new(self) -> dict[str, Any]:
        """A uniformly random unseen config.

        Rejection sampling first; when that keeps hitting seen configs, a finite space is
        enumerated and an unseen config drawn from the rest.

        Raises:
            SearchExhausted: no unseen config is left.
        """
        config = self.new_config(lambda: self._space.sample(self._rng), MAX_REJECTIONS)
        if config is not None:
            return config
        configs = enumerate_space(self._space, MAX_ENUMERATION)
        if configs is None:
            raise SearchExhausted(
                f"{type(self).__name__} drew {MAX_REJECTIONS} random configs in a row that were "
                f"all proposed before ({len(self._index)} observed, {len(self._pending)} "
                f"pending), and the space is too large to enumerate."
            )
        unseen = [c for c in configs if self.is_new(self._space.key(c))]
        if not unseen:
            raise SearchExhausted(
                f"every config of the space has been proposed: {len(self._index)} observed, "
                f"{len(self._pending)} pending."
            )
        return unseen[int(self._rng.integers(len(unseen)))]

    def mutate_new(
        self, config: Mapping[str, Any], tries: int = 32, max_steps: int = 4
    ) -> dict[str, Any]:
        """An unseen mutation of ``config``: one decision changed, then more if all were seen.

        Falls back to :meth:`sample_new` when ``max_steps`` changes still give nothing new.
        """
        for steps in range(1, max_steps + 1):

            def walk(steps: int = steps) -> dict[str, Any]:
                child = dict(config)
                for _ in range(steps):
                    child = self._space.mutate(child, self._rng)
                return child

            child = self.new_config(walk, tries)
            if child is not None:
                return child
        return self.sample_new()

    # -- hooks ------------------------------------------------------------------------------
    @abstractmethod
    def _propose(self) -> Mapping[str, Any]:
        """Return a config to try next; it should be new (see :meth:`is_new`)."""

    def _observe(self, obs: Observation, index: int, replaced: bool) -> None:  # noqa: B027
        """Learn from a told result (``replaced``: the config had a result before)."""

    def _extra_state(self) -> dict[str, Any]:
        """Strategy-specific state that replaying the observations does not rebuild."""
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027
        """Restore what :meth:`_extra_state` returned."""

    def _reset(self) -> None:  # noqa: B027
        """Forget everything learned (called by :meth:`load_state_dict` before replaying)."""

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the search, as plain (JSON-like) Python data."""
        return {
            "strategy": type(self).__name__,
            "version": _STATE_VERSION,
            "objectives": None
            if self._objectives is None
            else [
                {"name": o.name, "mode": o.mode, "constraint": o.constraint}
                for o in self._objectives
            ],
            "rng": copy.deepcopy(self._rng.bit_generator.state),
            "observations": [
                [copy.deepcopy(o.config), dict(o.metrics), o.feasible, o.fidelity]
                for o in self._observations
            ],
            "pending": [copy.deepcopy(c) for c in self._pending.values()],
            "queue": [copy.deepcopy(c) for c in self._queue],
            "extra": self._extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (made by the same strategy class on the same space)."""
        if not isinstance(state, Mapping) or "strategy" not in state:
            raise StrategyError(f"`state` must be a dict made by state_dict(), got {state!r}.")
        if state["strategy"] != type(self).__name__:
            raise StrategyError(
                f"`state` was saved by {state['strategy']}, it cannot be loaded into "
                f"{type(self).__name__}."
            )
        if state.get("version") != _STATE_VERSION:
            raise StrategyError(
                f"`state` has version {state.get('version')!r}; this raynas reads version "
                f"{_STATE_VERSION}."
            )
        saved = state["objectives"]
        if saved is not None:
            objs = self._check_objectives(as_objectives(saved))
            if self._objectives is not None and objs != self._objectives:
                raise StrategyError(
                    f"`state` was saved with objectives {[str(o) for o in objs]}, but this "
                    f"strategy has {[str(o) for o in self._objectives]}."
                )
            self._objectives = objs
        self._observations, self._index, self._pending = [], {}, {}
        self._best_index = None
        self._reset()
        self._replaying = True
        try:
            for config, metrics, feasible, *fidelity in state["observations"]:
                # states saved before fidelities were kept have three fields: full fidelity
                self.tell(config, metrics, feasible=feasible, fidelity=(fidelity or [1.0])[0])
        finally:
            self._replaying = False
        for config in state["pending"]:
            config = self._space.validate(config)
            self._pending[self._space.key(config)] = config
        self._queue = validate_configs(self._space, state.get("queue", []), "state['queue']")
        self._load_extra_state(state["extra"])
        self._rng.bit_generator.state = copy.deepcopy(state["rng"])


# -- module helpers ------------------------------------------------------------------------------
def validate_configs(space: SearchSpace, configs: Any, field: str) -> list[dict[str, Any]]:
    """``configs`` in canonical form, or :class:`StrategyError` naming ``field[i]`` and why."""
    if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Sequence):
        raise StrategyError(
            f"`{field}` must be a list of configs (dicts), but got "
            f"{type(configs).__name__}: {configs!r}."
        )
    return [validate_config(space, config, f"{field}[{i}]") for i, config in enumerate(configs)]


def validate_config(space: SearchSpace, config: Any, field: str) -> dict[str, Any]:
    """``config`` in canonical form, or :class:`StrategyError` naming ``field`` and why."""
    if not isinstance(config, Mapping):
        raise StrategyError(
            f"`{field}` must be a config (a dict), but got {type(config).__name__}: {config!r}."
        )
    try:
        return space.validate(config)
    except RaynasError as err:
        raise StrategyError(
            f"`{field}` is not a config of the space ({dict(config)!r}): {err}"
        ) from err


def check_population_size(population_size: Any) -> None:
    """Raise :class:`StrategyError` unless ``population_size`` is an int >= 2."""
    if isinstance(population_size, bool) or not isinstance(population_size, int):
        raise StrategyError(f"`population_size` must be an int, but got {population_size!r}.")
    if population_size < 2:
        raise StrategyError(
            f"`population_size` must be greater than or equal to 2, but got {population_size}."
        )


def check_sandwich(value: Any) -> None:
    if not isinstance(value, bool) and value != "smallest":
        raise StrategyError(
            f"`sandwich` must be True (the space's smallest and largest configs first), "
            f"'smallest' or False, but got {value!r}."
        )


def check_rate(value: Any, name: str) -> None:
    """Raise :class:`StrategyError` unless ``value`` is a number in [0, 1]."""
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise StrategyError(f"`{name}` must be a number in [0, 1], but got {value!r}.")


def _check_fidelity(fidelity: Any) -> float:
    if (
        isinstance(fidelity, bool)
        or not isinstance(fidelity, (int, float, np.integer, np.floating))
        or not 0.0 < float(fidelity) <= 1.0
    ):
        raise StrategyError(
            f"`fidelity` must be a number in (0, 1] (the share of the full budget the trial "
            f"reached), but got {fidelity!r}."
        )
    return float(fidelity)


def _clean_metrics(
    objectives: Sequence[Objective], metrics: Mapping[str, Any] | None
) -> dict[str, float]:
    """The objectives' values as floats; NaN for missing or non-numeric values."""
    out: dict[str, float] = {}
    for o in objectives:
        v = None if metrics is None else metrics.get(o.name)
        try:
            out[o.name] = float(v) if v is not None else math.nan
        except (TypeError, ValueError):
            out[o.name] = math.nan
    return out


def front_indices(points: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``points`` (losses), cheap for many 2-D points."""
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        return np.zeros(0, dtype=int)
    if pts.shape[1] == 1:
        return np.flatnonzero(pts[:, 0] == pts[:, 0].min())
    if pts.shape[1] == 2:
        order = np.lexsort((pts[:, 1], pts[:, 0]))
        keep, best_x, best_y = [], math.inf, math.inf
        for i in order:
            x, y = pts[i]
            if y < best_y or (y == best_y and x == best_x):  # better, or an equal point
                keep.append(i)
                best_x, best_y = x, y
        return np.sort(np.array(keep, dtype=int))
    from raynas.pareto import pareto_front

    return pareto_front(pts)


def enumerate_space(space: SearchSpace, limit: int) -> list[dict[str, Any]] | None:
    """All configs of a finite space (canonical form), or None if infinite or above ``limit``."""
    try:
        out = list(itertools.islice(iter_struct(space, _iter_node), limit + 1))
    except _Infinite:
        return None
    return out if len(out) <= limit else None


class _Infinite(Exception):
    pass


def _iter_node(node: Any, name: str = "") -> Iterator[Any]:
    if isinstance(node, Domain):
        values = node.finite_values()
        if values is None:
            raise _Infinite
        yield from (copy.deepcopy(v) for v in values)
    elif isinstance(node, Struct):
        yield from iter_struct(node, _iter_node)
    elif isinstance(node, Repeat):
        for n in range(node.min_count, node.max_count + 1):
            for items in itertools.product(*[list(_iter_node(node.item)) for _ in range(n)]):
                yield [copy.deepcopy(i) for i in items]
    else:  # pragma: no cover - spaces only hold the three node kinds
        raise _Infinite


def iter_struct(
    struct: Struct,
    values_of: Callable[[Any, str], Iterable[Any]],
    prefix: dict[str, Any] | None = None,
    start: int = 0,
) -> Iterator[dict[str, Any]]:
    """Every config of ``struct``, in order: the product of each active decision's values as
    ``values_of(node, name)`` gives them (a conditional decision only where it is active)."""
    prefix = {} if prefix is None else prefix
    names = list(struct.fields)
    if start == len(names):
        yield dict(prefix)
        return
    name = names[start]
    f = struct.fields[name]
    if isinstance(f, When) and not struct._active(name, prefix):
        yield from iter_struct(struct, values_of, prefix, start + 1)
        return
    node = f.node if isinstance(f, When) else f
    for value in list(values_of(node, name)):
        prefix[name] = value
        yield from iter_struct(struct, values_of, prefix, start + 1)
        del prefix[name]
