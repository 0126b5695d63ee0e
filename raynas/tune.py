"""The Ray Tune adapter: one :class:`Searcher` that runs any raynas strategy inside ``tune.Tuner``.

Example:
    >>> from ray import tune
    >>> from raynas.tune import Searcher
    >>> searcher = Searcher("evolution", space=space, metric="val_acc", mode="max", seed=0)
    >>> tuner = tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=searcher,
    ...                                                            num_samples=50))  # doctest: +SKIP

The name table (:data:`STRATEGIES`, :func:`get_strategy`) lives in :mod:`raynas.strategies` and is
re-exported here; importing this module imports Ray but not torch.
"""

from __future__ import annotations

import copy
import glob
import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ray.tune.search import Searcher as _TuneSearcher

from raynas._resume import SavedTrial
from raynas.objectives import Objective, as_objectives
from raynas.schedulers._fidelity import budget_of, reached_fidelity
from raynas.search_spaces import SearchSpace
from raynas.search_spaces.errors import RaynasError
from raynas.strategies import STRATEGIES, get_strategy, strategy_class
from raynas.strategies.base import (
    ObjectiveSpec,
    SearchExhausted,
    Strategy,
    StrategyError,
    validate_configs,
)

__all__ = ["STRATEGIES", "Searcher", "get_strategy", "strategy_class"]

_SAVE_VERSION = 1
_log = logging.getLogger(__name__)


class Searcher(_TuneSearcher):
    """A Ray Tune ``Searcher`` that asks a raynas :class:`~raynas.strategies.Strategy`.

    ``suggest`` asks the strategy; ``on_trial_complete`` tells it the trial's result: a
    result with ``feasible=False``, an errored trial and a NaN metric are all told as
    infeasible, so one broken candidate never stops the search. ``save``/``restore`` keep the
    strategy's whole state and the running trials, so ``Tuner.restore`` resumes the search
    where it stopped. It works under ``ConcurrencyLimiter``; when the space has no new config
    left, ``suggest`` returns ``Searcher.FINISHED``.

    With early stopping (``ASHAScheduler``, ``HyperBandForBOHB``, ``MultiObjectiveASHA``, ...),
    pass the scheduler as ``budget``: a trial the scheduler stopped is told together with the
    fidelity it reached (``result[time_attr] / max_t``), and the strategy ranks it after every
    result of a higher fidelity (the treatment is documented in :mod:`raynas.strategies.base`).
    Without ``budget`` every result counts as a full-fidelity one.

    Args:
        strategy: a strategy, or its name in :data:`STRATEGIES` (``"evolution"``, ``"nsga2"``,
            ``"tpe"``, ...), built with ``space``, ``seed`` and ``strategy_kwargs``.
        space: the search space (required with a name; checked against a built strategy's).
        metric: the metric to optimize, or a list of them (several objectives).
        mode: ``"min"``/``"max"``, or a list matching ``metric``.
        objectives: instead of ``metric``/``mode``: objective specs with constraints, e.g.
            ``["val_acc", "latency_p50_ms <= 5"]``.
        seed: seed of a strategy built by name.
        budget: the trial scheduler of the ``tune.Tuner`` (its ``time_attr`` and ``max_t`` are
            read), or ``(time_attr, max_t)`` such as ``("training_iteration", 27)``. A scheduler
            without a per-trial budget (FIFO, PBT) means full fidelity for every result.
        points_to_evaluate: configs to run first, in order, as in every Tune searcher: known
            good architectures or the best of an earlier search (:meth:`Strategy.enqueue`).
            Each is validated when the searcher is made; one already told is skipped.
        evaluated_rewards: results of ``points_to_evaluate`` measured before, one per point:
            then the points are told to the strategy and not run again (a warm start). A
            result is a dict of metrics (``{"val_acc": 0.93, "latency_ms": 4.1}``; a missing
            objective counts as unknown, ``"feasible": False`` marks a failure), a number
            (one objective), a list of numbers (one per objective), or None (it failed).
        **strategy_kwargs: further arguments of a strategy built by name.

    ``metric``/``mode`` may also come from ``tune.TuneConfig`` (Tune passes them through
    ``set_search_properties``).

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> space = SearchSpace({"op": Choice(["conv3", "conv1", "pool"])})
        >>> s = Searcher("random", space=space, metric="val_acc", mode="max", seed=0)
        >>> cfg = s.suggest("trial_1")
        >>> s.on_trial_complete("trial_1", {"val_acc": 0.9})
        >>> s.strategy.best().metrics
        {'val_acc': 0.9}
    """

    def __init__(
        self,
        strategy: str | Strategy,
        *,
        space: SearchSpace | None = None,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] | None = None,
        objectives: Sequence[ObjectiveSpec] | ObjectiveSpec | None = None,
        seed: int | None = None,
        budget: Any = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        evaluated_rewards: Sequence[Any] | None = None,
        **strategy_kwargs: Any,
    ) -> None:
        super().__init__(metric=None, mode=None)
        self._budget = _resolve_budget(budget)
        if isinstance(strategy, Strategy):
            if space is not None and space is not strategy.space:
                raise StrategyError(
                    "`space` must be left out (or be the strategy's own space) when `strategy` "
                    "is already built."
                )
            if seed is not None or strategy_kwargs:
                raise StrategyError(
                    f"`seed` and strategy arguments go to the strategy's constructor; "
                    f"`strategy` is already built, but got "
                    f"{sorted([*strategy_kwargs, *(['seed'] if seed is not None else [])])}."
                )
            self._strategy = strategy
        else:
            if space is None:
                raise StrategyError(
                    f"`space` is required when `strategy` is a name ({strategy!r})."
                )
            self._strategy = get_strategy(strategy, space=space, seed=seed, **strategy_kwargs)
        # results of earlier runs, told as soon as the objectives are known
        self._rewards_due: list[tuple[dict[str, Any], Any]] = []
        if evaluated_rewards is not None:
            if points_to_evaluate is None:
                raise StrategyError(
                    "`evaluated_rewards` were given without `points_to_evaluate`: pass the "
                    "configs they belong to, one per reward."
                )
            points = validate_configs(
                self._strategy.space, points_to_evaluate, "points_to_evaluate"
            )
            if isinstance(evaluated_rewards, (str, bytes, Mapping)) or not isinstance(
                evaluated_rewards, Sequence
            ):
                raise StrategyError(
                    f"`evaluated_rewards` must be a list with one result per point, but got "
                    f"{type(evaluated_rewards).__name__}: {evaluated_rewards!r}."
                )
            if len(evaluated_rewards) != len(points):
                raise StrategyError(
                    f"`evaluated_rewards` must have one result per point of "
                    f"`points_to_evaluate`: {len(points)} points but "
                    f"{len(evaluated_rewards)} rewards."
                )
            for i, reward in enumerate(evaluated_rewards):
                _reward_metrics(
                    reward, None, f"evaluated_rewards[{i}]"
                )  # its form, before the objectives are known
            self._rewards_due = list(zip(points, evaluated_rewards, strict=True))
        elif points_to_evaluate is not None:
            self._strategy.enqueue(points_to_evaluate, field="points_to_evaluate")
        objs = _resolve_objectives(metric, mode, objectives)
        if objs is None:
            objs = self._strategy.objectives
        if objs is not None:
            self._set_objectives(objs)
        self._live: dict[str, dict[str, Any]] = {}
        self._last: dict[str, dict[str, Any]] = {}  # latest result of each live trial

    # -- properties ---------------------------------------------------------------------------
    @property
    def strategy(self) -> Strategy:
        """The wrapped strategy."""
        return self._strategy

    @property
    def budget(self) -> tuple[str, float] | None:
        """``(time_attr, max_t)`` that fidelities are measured in, or None (full fidelity)."""
        return self._budget

    def _set_objectives(self, objs: list[Objective]) -> None:
        self._strategy.set_objectives(objs)
        names = [o.name for o in objs]
        modes = [o.mode for o in objs]
        # Tune checks every intermediate result for the searcher's metric: name only the primary
        # objective, since hardware metrics may arrive only with a trial's last report.
        self._metric, self._mode = names[0], modes[0]
        due, self._rewards_due = self._rewards_due, []
        told = [
            (config, _reward_metrics(reward, objs, f"evaluated_rewards[{i}]"))
            for i, (config, reward) in enumerate(due)
        ]  # every reward checked against the objectives before any tell
        for config, metrics in told:
            feasible = metrics is not None and _truthy(metrics.get("feasible", True))
            self._strategy.tell(config, metrics, feasible=feasible)

    # -- the Tune Searcher contract -----------------------------------------------------------
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        """Take ``metric``/``mode`` from ``tune.TuneConfig`` unless the searcher has its own."""
        objs = _resolve_objectives(metric, mode, None)
        if objs is None:
            return True
        current = self._strategy.objectives
        if current is None:
            self._set_objectives(objs)
            return True
        if [o.name for o in current] != [o.name for o in objs] or [o.mode for o in current] != [
            o.mode for o in objs
        ]:
            raise StrategyError(
                f"`metric`/`mode` of TuneConfig ({metric!r}, {mode!r}) disagree with the "
                f"searcher's objectives {[f'{o.name}:{o.mode}' for o in current]}; set them "
                f"in one place."
            )
        return True

    # Ray annotates Optional[Dict], but it expects Searcher.FINISHED (a str) when a search is done
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        if self._strategy.objectives is None:
            raise StrategyError(
                "the searcher has no objective: pass `metric` and `mode` (or `objectives`) to "
                "Searcher(...). Tune forwards TuneConfig's metric/mode to a searcher only when "
                "the Tuner has a non-empty `param_space`."
            )
        try:
            config = self._strategy.ask()
        except SearchExhausted:
            return _TuneSearcher.FINISHED
        self._live[trial_id] = config
        return copy.deepcopy(config)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Keep a running trial's latest result; the strategy learns from final results only.

        ``HyperBandForBOHB`` ends a trial it paused at a rung without a final result: the
        latest one kept here is what the strategy is told then (at the fidelity it reached).
        """
        if trial_id in self._live:
            self._last[trial_id] = dict(result)

    def on_pause(self, trial_id: str) -> None:
        """``HyperBandForBOHB`` pauses a trial at a rung: its config stays pending."""

    def on_unpause(self, trial_id: str) -> None:
        """``HyperBandForBOHB`` resumes a paused trial; its result comes when it completes."""

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        config = self._live.pop(trial_id, None)
        last = self._last.pop(trial_id, None)
        if config is None:
            return  # not suggested by this searcher (or already told)
        if result is None and not error:
            result = last  # stopped while paused: its latest result is its final one
        if error or result is None:
            self._strategy.tell(config, None, feasible=False)
            return
        self._strategy.tell(
            config,
            result,
            feasible=_truthy(result.get("feasible", True)),
            fidelity=self._fidelity(result),
        )

    def adopt(self, trial_id: str, config: Mapping[str, Any]) -> None:
        """Take trial ``trial_id`` of ``config`` as one this searcher suggested.

        A resumed search whose saved searcher state is unreadable rebuilds it from the trials
        Tune restores (:meth:`restore`): a finished trial is adopted and then completed
        (:meth:`on_trial_complete`), an unfinished one stays live until Tune completes it.
        """
        self._strategy.mark_pending(config)
        self._live[trial_id] = dict(config)  # told as given: tell() validates it again

    def _fidelity(self, result: Mapping[str, Any]) -> float:
        """The share of the budget behind ``result`` (1.0 without a budget or a time value)."""
        if self._budget is None:
            return 1.0
        time_attr, max_t = self._budget
        if not isinstance(result.get(time_attr), (int, float)):
            return 1.0  # the trainable reports no time value: nothing to scale by
        return max(reached_fidelity(result, time_attr, max_t), 1e-9)

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float | Mapping[str, float] | None,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Tell the strategy a config evaluated elsewhere (normalized by ``space.validate``).

        ``value`` takes the forms of one entry of ``evaluated_rewards``: a dict of metrics, a
        number (one objective), a list of numbers (one per objective) or None (it failed).
        """
        objs = self._strategy.objectives
        if objs is None:
            raise StrategyError("set `metric`/`mode` before adding evaluated points.")
        (config,) = validate_configs(self._strategy.space, [parameters], "parameters")
        metrics = None if error else _reward_metrics(value, objs, "value")
        feasible = metrics is not None and _truthy(metrics.get("feasible", True))
        self._strategy.tell(config, metrics, feasible=feasible)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return False  # pending configs are tracked by the strategy; ConcurrencyLimiter limits

    # -- state --------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {
            "version": _SAVE_VERSION,
            "strategy": self._strategy.state_dict(),
            "live": copy.deepcopy(self._live),
            "last": copy.deepcopy(self._last),
            "rewards_due": copy.deepcopy(self._rewards_due),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, Mapping) or state.get("version") != _SAVE_VERSION:
            raise StrategyError(
                f"searcher state must come from Searcher.get_state() (version {_SAVE_VERSION})."
            )
        self._strategy.load_state_dict(state["strategy"])
        self._rewards_due = copy.deepcopy(list(state.get("rewards_due", [])))
        objs = self._strategy.objectives
        if objs is not None:
            self._set_objectives(objs)
        self._live = copy.deepcopy(dict(state["live"]))
        self._last = copy.deepcopy(dict(state.get("last", {})))

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        """Load a :meth:`save`, then agree with the trials Tune restores (:meth:`sync_trials`).

        Tune copies its driver's state files into the experiment folder without a rename, so a
        driver killed during the copy can leave this file cut short, or older or newer than
        Tune's experiment state. A file cut short is rebuilt: the trials of Tune's experiment
        state (synced down into the same folder) are replayed onto this searcher, which
        ``Tuner.restore`` unpickles as it was when the search started. Tune would otherwise
        restart the experiment with a half-restored search, and hang.
        """
        from raynas._resume import read_state, saved_trials

        state, problem = read_state(checkpoint_path, pickle.load)
        folder = os.path.dirname(checkpoint_path)
        if problem is None:
            self.set_state(state)
            trials = saved_trials(folder)
            if trials is not None:
                self._synced(trials, None)
            return
        name = os.path.basename(checkpoint_path)
        self._rebuild(folder, f"the searcher state {name} is {problem}")

    def restore_from_dir(self, checkpoint_dir: str) -> None:
        """Tune's restore; a missing state file is rebuilt like one cut short (:meth:`restore`)."""
        if glob.glob(os.path.join(checkpoint_dir, self.CKPT_FILE_TMPL.format("*"))):
            super().restore_from_dir(checkpoint_dir)
        else:
            self._rebuild(checkpoint_dir, "the experiment has no searcher state")

    def _rebuild(self, folder: str, problem: str) -> None:
        from raynas._resume import ResumeError, saved_trials

        trials = saved_trials(folder)
        if trials is None:
            raise ResumeError(f"{problem}, and there is no readable experiment state to rebuild it")
        self._synced(
            trials, f"{problem}; rebuilt the searcher's state from Tune's experiment state"
        )

    def _synced(self, trials: list[SavedTrial], problem: str | None) -> None:
        counts = self.sync_trials(trials)
        if problem is None and not any(counts.values()):
            return
        _log.warning(
            "raynas: %s (%d trials told, %d left to finish, %d dropped that Tune never ran).",
            problem or "the searcher state disagreed with Tune's experiment state; synced it",
            counts["told"],
            counts["adopted"],
            counts["dropped"],
        )

    def sync_trials(self, trials: Sequence[SavedTrial]) -> dict[str, int]:
        """Make the searcher agree with ``trials``, the trials Tune restores.

        ``trials`` are ``(trial_id, config, status, last_result)`` with status ``"done"``,
        ``"error"`` or ``"running"`` (pending or paused: Tune runs it again). A trial the
        searcher does not know is adopted (and told, if it finished); a live one that finished
        meanwhile is told; a live one missing from ``trials`` never ran and is dropped, so its
        config may be proposed again. Returns how many were told, adopted and dropped.
        """
        counts = {"told": 0, "adopted": 0, "dropped": 0}
        ids = set()
        for trial_id, config, status, last in trials:
            ids.add(trial_id)
            if trial_id not in self._live:
                try:
                    key = self._strategy.space.key(self._strategy.space.validate(config))
                except RaynasError:
                    continue  # not a config of this searcher's space: not one of its trials
                if not self._strategy.is_new(key):
                    continue  # told already (or proposed for another trial)
                self.adopt(trial_id, config)
                counts["adopted" if status == "running" else "told"] += 1
            elif status != "running":
                counts["told"] += 1
            if status == "done":
                self.on_trial_complete(trial_id, dict(last) if last else None)
            elif status == "error":
                self.on_trial_complete(trial_id, None, error=True)
            elif last:
                self.on_trial_result(trial_id, dict(last))
        for trial_id in [t for t in self._live if t not in ids]:
            self._strategy.release(self._live.pop(trial_id))
            self._last.pop(trial_id, None)
            counts["dropped"] += 1
        return counts


def _resolve_budget(budget: Any) -> tuple[str, float] | None:
    """``(time_attr, max_t)`` from a Tune scheduler or a pair; None for no per-trial budget."""
    if budget is None:
        return None
    if isinstance(budget, (tuple, list)):
        ok = (
            len(budget) == 2
            and isinstance(budget[0], str)
            and isinstance(budget[1], (int, float))
            and not isinstance(budget[1], bool)
            and budget[1] > 0
        )
        if not ok:
            raise StrategyError(
                f"`budget` must be a Tune scheduler or (time_attr, max_t) with max_t > 0, such "
                f"as ('training_iteration', 27), but got {budget!r}."
            )
        return str(budget[0]), float(budget[1])
    from ray.tune.schedulers import TrialScheduler

    if not isinstance(budget, TrialScheduler):
        raise StrategyError(
            f"`budget` must be a Tune scheduler or (time_attr, max_t), but got "
            f"{type(budget).__name__}: {budget!r}."
        )
    return budget_of(budget)


def _reward_metrics(
    reward: Any, objectives: Sequence[Objective] | None, field: str
) -> dict[str, Any] | None:
    """The metrics of a result given as ``field`` (None: it failed); checks only its form while
    ``objectives`` are unknown."""
    field = f"`{field}`"
    names = None if objectives is None else [o.name for o in objectives]
    if reward is None:
        return None
    if isinstance(reward, Mapping):
        if not all(isinstance(k, str) for k in reward):
            raise StrategyError(f"{field} must have metric names as keys, but got {reward!r}.")
        if names is not None and not set(names) & set(reward):
            raise StrategyError(
                f"{field} names none of the objectives {names}: got keys {sorted(reward)}."
            )
        return dict(reward)
    if _is_number(reward):
        if names is not None and len(names) > 1:
            raise StrategyError(
                f"{field} is one number ({reward!r}) but the search has {len(names)} "
                f"objectives {names}: give a dict of metrics or a list of {len(names)} numbers."
            )
        return None if names is None else {names[0]: float(reward)}
    if isinstance(reward, Sequence) and not isinstance(reward, (str, bytes)):
        if not all(_is_number(v) for v in reward):
            raise StrategyError(f"{field} must hold numbers only, but got {reward!r}.")
        if names is not None and len(reward) != len(names):
            raise StrategyError(
                f"{field} has {len(reward)} values {list(reward)!r} but the search has "
                f"{len(names)} objectives {names}: one value per objective, in that order."
            )
        return None if names is None else dict(zip(names, map(float, reward), strict=True))
    raise StrategyError(
        f"{field} must be a dict of metrics, a number, a list of numbers or None, but got "
        f"{type(reward).__name__}: {reward!r}."
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "")
    try:
        return bool(value)
    except (TypeError, ValueError):
        return True


def _resolve_objectives(
    metric: str | Sequence[str] | None,
    mode: str | Sequence[str] | None,
    objectives: Sequence[ObjectiveSpec] | ObjectiveSpec | None,
) -> list[Objective] | None:
    if objectives is not None:
        if metric is not None or mode is not None:
            raise StrategyError("give either `objectives` or `metric`/`mode`, not both.")
        return as_objectives(objectives)
    if metric is None:
        if mode is not None:
            raise StrategyError(f"`mode` ({mode!r}) was given without `metric`.")
        return None
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if mode is None:
        raise StrategyError(f"`mode` is required with `metric` {metric!r}: 'min' or 'max'.")
    modes = [mode] * len(metrics) if isinstance(mode, str) else list(mode)
    if len(modes) != len(metrics):
        raise StrategyError(
            f"`mode` must have one entry per metric: {len(metrics)} metrics {metrics}, "
            f"but {len(modes)} modes {modes}."
        )
    return as_objectives([Objective(m, md) for m, md in zip(metrics, modes, strict=True)])
