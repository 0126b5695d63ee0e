"""Plan a search: build the space, the data handle, the objectives' targets and check that the
strategy and the scheduler accept their arguments, once, before Ray starts.

:func:`make_plan` turns :class:`~raynas.frontdoor.options.SearchOptions` into a
:class:`SearchPlan`; nothing is started and nothing is written. What needs the cluster (its
resources) is checked by :mod:`raynas.frontdoor.checks` when Ray is up, before the first trial.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raynas.frontdoor.names import SPACES, ConfigError, load_object
from raynas.frontdoor.options import SearchOptions
from raynas.frontdoor.quantized import check_quantized_objectives
from raynas.hardware._measurement import METRIC_KEYS
from raynas.objectives import Objective

#: Metrics produced by a hardware target (need ``hardware=``); params and flops every
#: trial reports itself.
HARDWARE_METRICS = tuple(k for k in METRIC_KEYS if k not in ("params", "flops"))
#: Numeric keys Tune adds to every result; an objective may name them too.
TUNE_METRICS = ("training_iteration", "time_total_s", "time_this_iter_s", "time_since_restore")


@dataclass(frozen=True)
class Prior:
    """One candidate of a warm start's earlier search, as the new search takes it."""

    config: dict[str, Any]  # validated against the new search's space
    metrics: dict[str, Any] | None  # its device-independent metrics; None: it failed
    fidelity: float  # epochs reached / max_epochs
    source: Any  # the earlier search's Candidate (trial id, checkpoint, reason)


@dataclass
class SearchPlan:
    """Everything a search needs, built and checked; pickled (without the data) for resume."""

    space: Any
    data: Any  # a dataset name, or the built DataModule / factory (never pickled: see run)
    data_kwargs: dict[str, Any]
    objectives: list[Objective]
    strategy: Any
    strategy_kwargs: dict[str, Any]
    scheduler: Any
    scheduler_kwargs: dict[str, Any]
    hardware: list[Any]
    budget: int
    max_epochs: int
    train_fraction: float
    time_budget_s: float | None
    cpus: float
    gpus: float
    max_concurrent: int | None
    storage_path: str
    name: str
    seed: int
    max_failures: int
    verbose: int
    input_shape: tuple[int, ...] | None = None
    num_classes: int | None = None
    resources: dict[str, float] = field(default_factory=dict)  # custom Ray resources per trial
    trainable_kwargs: dict[str, Any] = field(default_factory=dict)
    points_to_evaluate: list[dict[str, Any]] = field(default_factory=list)
    warm_start: list[Prior] = field(default_factory=list)  # an earlier search's candidates
    warm_start_path: str | None = None
    reuse_actors: bool = True
    callbacks: list[Any] = field(default_factory=list)
    run_config: dict[str, Any] = field(default_factory=dict)
    oneshot: dict[str, Any] | None = None  # a one-shot strategy's stage (frontdoor.engines)
    data_parallel: dict[str, Any] | None = None  # DataParallelTrainable's arguments
    latency_screening: dict[str, Any] | None = None  # frontdoor.screening's settings

    @property
    def experiment_path(self) -> str:
        return os.path.join(self.storage_path, self.name)


def say(plan_or_verbose: Any, msg: str) -> None:
    verbose = getattr(plan_or_verbose, "verbose", plan_or_verbose)
    if verbose:
        print(f"[raynas] {msg}", flush=True)


def unknown_args(factory: Any, kwargs: Mapping[str, Any]) -> str:
    """Which of ``kwargs`` ``factory`` does not take, with its arguments ("" if none)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return ""
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return ""
    known = [k for k, p in params.items() if p.kind is not p.VAR_POSITIONAL and k != "self"]
    bad = [k for k in kwargs if k not in known]
    if not bad:
        return ""
    close = difflib.get_close_matches(bad[0], known, n=1, cutoff=0.7)  # not depth -> width
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    name = getattr(factory, "__name__", type(factory).__name__)
    listed = ", ".join(f"`{k}`" for k in bad)
    verb = "is not an argument" if len(bad) == 1 else "are not arguments"
    return f"{listed} {verb} of {name}{hint}; its arguments are {known}."


def _takes(factory: Any, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def build_space(space: Any, space_kwargs: Mapping[str, Any], dm: Any) -> Any:
    """The space object: a name, ``module:attribute`` (a space, or a class / factory built with
    its arguments and, where it takes them, the data's ``input_shape`` and ``num_classes``)."""
    if isinstance(space, str):
        obj = load_object(SPACES.get(space, space), "space")
        if isinstance(obj, type) or callable(obj) and not hasattr(obj, "validate"):
            kwargs = dict(space_kwargs)
            if dm is not None:
                for attr in ("input_shape", "num_classes"):
                    value = getattr(dm, attr, None)
                    if value is not None and _takes(obj, attr):
                        kwargs.setdefault(attr, tuple(value) if attr == "input_shape" else value)
                # what the data tells its space (text: vocab_size, tokenizer); not filtered, so
                # a space that cannot take them is refused naming them
                for key, value in getattr(dm, "space_kwargs", {}).items():
                    kwargs.setdefault(key, value)
            try:
                obj = obj(**kwargs)
            except TypeError as e:
                raise ConfigError(f"`space` = {space!r}: {unknown_args(obj, kwargs) or e}") from e
        elif space_kwargs:
            raise ConfigError(
                f"`space_kwargs` {sorted(space_kwargs)} go to a space class or factory, but "
                f"{space!r} is a built space."
            )
        space = obj
    elif space_kwargs:
        raise ConfigError("`space_kwargs` can only be used with a space name.")
    for attr in ("validate", "build", "sample", "key"):
        if not callable(getattr(space, attr, None)):
            raise ConfigError(
                f"`space` must be a raynas SearchSpace with `{attr}`, but got {type(space).__name__}."
            )
    return space


def _shape_of(space: Any, dm: Any, attr: str) -> Any:
    """The space's ``input_shape`` / ``num_classes``, else the data's (a define-by-run space or
    a user's own has none of its own)."""
    value = getattr(space, attr, None)
    if value is None and dm is not None:
        value = getattr(dm, attr, None)
    if value is None:
        return None
    return tuple(int(d) for d in value) if attr == "input_shape" else int(value)


def hardware_targets(
    hardware: Sequence[Any], objectives: Sequence[Objective], verbose: int
) -> list[Any]:
    from raynas.hardware import HardwareTarget
    from raynas.hardware.errors import TargetError

    targets = []
    for i, h in enumerate(hardware):
        if isinstance(h, HardwareTarget):
            targets.append(h)
            continue
        try:
            if isinstance(h, str):
                targets.append(HardwareTarget(name=h))
            elif isinstance(h, Mapping):
                targets.append(HardwareTarget.from_dict(dict(h)))
            else:
                raise ConfigError(
                    f"`hardware[{i}]` must be a HardwareTarget, a mapping or a name, but got {h!r}."
                )
        except (TypeError, TargetError) as e:
            raise ConfigError(f"`hardware[{i}]`: {e}") from e
    wants_hw = [o.name for o in objectives if o.name in HARDWARE_METRICS]
    if wants_hw and not targets:
        say(verbose, f"objectives {wants_hw} are measured on hardware; using the local CPU target")
        targets.append(HardwareTarget(name="cpu"))
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ConfigError(f"`hardware` target names must be unique, but got {names}.")
    return targets


#: NASTrainable arguments that the search sets from its own options: the option to use instead.
_SET_BY_SEARCH = {
    "space": "space",
    "data": "data",
    "data_kwargs": "data_kwargs",
    "cpus": "resources_per_trial",
    "gpus": "resources_per_trial",
    "max_epochs": "max_epochs",
    "train_fraction": "train_fraction",
    "time_budget_s": "time_budget_s",
    "seed": "seed",
    "settings": "max_epochs, train_fraction, time_budget_s and seed",
}


def check_trainable_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Further :class:`~raynas.evaluation.NASTrainable` arguments, checked before any trial."""
    from raynas.evaluation import EvaluationSettings, NASTrainable

    if not kwargs:
        return {}
    params = inspect.signature(NASTrainable.__init__).parameters
    allowed = [
        *(k for k, p in params.items() if p.kind is p.KEYWORD_ONLY),
        *EvaluationSettings.__dataclass_fields__,
    ]
    allowed = [k for k in allowed if k not in _SET_BY_SEARCH]
    for key in kwargs:
        if key in _SET_BY_SEARCH:
            raise ConfigError(
                f"`trainable_kwargs.{key}` is set by the search itself: pass "
                f"`{_SET_BY_SEARCH[key]}` to raynas.search instead."
            )
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError(
                f"`trainable_kwargs.{key}` is not a known key{hint}; the keys are {allowed}."
            )
    hooks = kwargs.get("objectives", ())
    if isinstance(hooks, (str, bytes, Mapping)) or not isinstance(hooks, Sequence):
        raise ConfigError(
            f"`trainable_kwargs.objectives` must be a list of hooks f(model, config) -> dict, but "
            f"got {hooks!r}."
        )
    for i, fn in enumerate(hooks):
        if not callable(fn):
            raise ConfigError(
                f"`trainable_kwargs.objectives[{i}]` must be a hook f(model, config) -> dict, but "
                f"got {fn!r}."
            )
    return dict(kwargs)


def check_builds(plan: SearchPlan) -> None:
    """Build the strategy and the scheduler once, so that their arguments are refused before
    anything is written (the search builds its own when it starts)."""
    from raynas._registry import RegistryError, make_scheduler
    from raynas.frontdoor.engines import is_oneshot
    from raynas.strategies import get_strategy
    from raynas.strategies.base import StrategyError

    strategy = plan.strategy
    if isinstance(strategy, str) and ":" in strategy:
        plan.strategy = strategy = load_object(strategy, "strategy")
    try:
        if is_oneshot(strategy):
            pass  # built by frontdoor.engines.plan_oneshot
        elif isinstance(strategy, str) or isinstance(strategy, type):
            get_strategy(
                strategy,
                space=plan.space,
                objectives=plan.objectives,
                seed=plan.seed,
                **{"num_samples": plan.budget, **plan.strategy_kwargs},
            )
        else:  # a built strategy takes no further arguments
            get_strategy(strategy, space=plan.space, **plan.strategy_kwargs)
    except StrategyError as e:
        label = repr(strategy) if isinstance(strategy, str) else type(strategy).__name__
        raise ConfigError(f"`strategy` = {label}: {e}") from e
    scheduler = plan.scheduler
    if isinstance(scheduler, str) and ":" in scheduler:
        plan.scheduler = scheduler = load_object(scheduler, "scheduler")
    try:
        make_scheduler(
            scheduler,
            objectives=plan.objectives,
            max_epochs=plan.max_epochs,
            space=plan.space,
            seed=plan.seed,
            kwargs=plan.scheduler_kwargs,
        )
    except RegistryError as e:
        raise ConfigError(str(e)) from e


def check_objective_metrics(plan: SearchPlan, dm: Any) -> None:
    """Refuse an objective no trial of this search will report, before any trial starts.

    A name Tune never sees in a result would stop the search at the first report (Tune's strict
    metric check) or make every candidate infeasible ("missing"), after training has been paid for.
    """
    from raynas.evaluation._metrics import REPORTED_METRICS, TASK_METRICS

    if plan.trainable_kwargs.get("objectives"):
        return  # the user's hooks report metrics of their own choosing
    task = plan.trainable_kwargs.get("task") or getattr(dm, "task", None)
    tasks = [task] if task in TASK_METRICS else list(TASK_METRICS)  # a data factory: not known yet
    trained = [m for m in REPORTED_METRICS if m not in ("feasible", "reason")]
    trained += [m for t in tasks for m in TASK_METRICS[t]] + list(TUNE_METRICS)
    measured = [
        ("" if i == 0 else f"{t.name}_") + m
        for i, t in enumerate(plan.hardware or [None])
        for m in HARDWARE_METRICS
    ]
    for o in plan.objectives:
        if o.name in trained or o.name in measured:
            continue
        close = difflib.get_close_matches(o.name, trained + measured, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(
            f"`objectives`: no candidate of this search reports `{o.name}`{hint}. Training "
            f"reports {trained}; the hardware targets report {measured} (a second target's "
            f"metrics carry its name first, e.g. `edge_latency_p50_ms`)."
        )


def _datamodule(opts: SearchOptions) -> tuple[Any, Any]:
    """The data as the search ships it, and the DataModule built from it here (None for a
    factory, which only the workers call)."""
    from raynas.data import get_datamodule
    from raynas.data.errors import DataError

    data = opts.data
    if isinstance(data, str) and ":" in data:
        data = load_object(data, "data")
    if isinstance(data, list) and len(data) == 2:
        data = tuple(data)
    if callable(data) and not isinstance(data, tuple) and not hasattr(data, "setup"):
        if opts.data_kwargs:
            raise ConfigError("`data_kwargs` cannot be used with a data factory.")
        return data, None
    try:
        return data, get_datamodule(data, **opts.data_kwargs)
    except DataError as e:
        raise ConfigError(f"`data`: {e}") from e
    except TypeError as e:
        raise ConfigError(f"`data_kwargs`: {e}") from e


def make_plan(opts: SearchOptions) -> SearchPlan:
    """Build and check everything :func:`raynas.search` needs from ``opts`` (nothing starts)."""
    from raynas.frontdoor import checks, engines, warm

    population = opts.scheduler in ("pbt", "architecture_pbt")
    engines.refuse_with_oneshot(opts)
    if opts.latency_screening is not None and (population or engines.is_oneshot(opts.strategy)):
        raise ConfigError(
            f"`latency_screening` screens the candidates a strategy proposes one by one, as "
            f"measurements come in; `strategy` = {opts.strategy!r} with `scheduler` = "
            f"{opts.scheduler!r} proposes them all at once."
        )
    data, dm = _datamodule(opts)
    if dm is not None:
        checks.check_finite_data(dm)
    space = build_space(opts.space, opts.space_kwargs, dm)
    resources = dict(opts.resources_per_trial)
    cpus, gpus = resources.pop("cpu"), resources.pop("gpu")
    plan = SearchPlan(
        space=space,
        data=data,
        data_kwargs=dict(opts.data_kwargs),
        objectives=list(opts.objectives),
        strategy=opts.strategy,
        strategy_kwargs=dict(opts.strategy_kwargs),
        scheduler=opts.scheduler,
        scheduler_kwargs=dict(opts.scheduler_kwargs),
        hardware=hardware_targets(opts.hardware, opts.objectives, opts.verbose),
        budget=opts.budget,
        max_epochs=opts.max_epochs,
        train_fraction=opts.train_fraction,
        time_budget_s=opts.time_budget_s,
        cpus=cpus,
        gpus=gpus,
        resources=resources,
        max_concurrent=opts.max_concurrent,
        storage_path=opts.storage_path or os.path.abspath("runs"),
        name=opts.name or f"raynas-{time.strftime('%Y%m%d-%H%M%S')}",
        seed=opts.seed,
        max_failures=opts.max_failures,
        verbose=opts.verbose,
        input_shape=_shape_of(space, dm, "input_shape"),
        num_classes=_shape_of(space, dm, "num_classes"),
        trainable_kwargs=check_trainable_kwargs(opts.trainable_kwargs),
        reuse_actors=opts.reuse_actors,
        run_config=checks.check_run_config(opts.run_config),
        data_parallel=opts.data_parallel,
        latency_screening=opts.latency_screening,
    )
    dtype = getattr(space, "input_dtype", "float32")  # "int64": token ids
    plan.hardware = [_shaped(t, plan.input_shape, i, dtype) for i, t in enumerate(plan.hardware)]
    checks.check_providers(plan.hardware)
    check_quantized_objectives(plan.hardware, plan.objectives)
    check_objective_metrics(plan, dm)
    check_builds(plan)
    if engines.is_oneshot(plan.strategy):
        plan.oneshot = engines.plan_oneshot(plan, dm)
    plan.callbacks = checks.build_callbacks(opts.callbacks)
    if opts.points_to_evaluate is not None:
        from raynas.strategies.base import StrategyError, validate_configs

        try:
            plan.points_to_evaluate = validate_configs(
                space, opts.points_to_evaluate, "points_to_evaluate"
            )
        except StrategyError as e:
            raise ConfigError(str(e)) from e
    if opts.warm_start is not None:
        warm.check_no_quantized_targets(plan.hardware)
        plan.warm_start, plan.warm_start_path = warm.read_prior(
            opts.warm_start, space, plan.objectives, plan.max_epochs
        )
    checks.check_storage(plan.storage_path)
    return plan


def _shaped(target: Any, input_shape: tuple[int, ...] | None, i: int, dtype: str) -> Any:
    if target.input_dtype == "float32" and dtype != "float32":
        target = dataclasses.replace(target, input_dtype=dtype)
    if target.input_shape is not None:
        return target
    if input_shape is None:
        raise ConfigError(
            f"`hardware[{i}]` ({target.name}) needs the network's input shape: neither the space "
            f"nor the data gives one; set HardwareTarget(input_shape=...)."
        )
    return dataclasses.replace(target, input_shape=tuple(input_shape))
