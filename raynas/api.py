"""The front door: one call for a whole hardware-aware search, and its resume.

``raynas.search(space, data, objectives=[...], strategy=..., scheduler=..., hardware=[...],
budget=...)`` checks everything first, then runs one Tune experiment: a raynas strategy suggests
candidates through the Tune ``Searcher`` adapter, each trial trains one candidate
(:class:`raynas.evaluation.NASTrainable`) and measures it on the hardware targets, the scheduler
stops weak ones early, and the result is a :class:`raynas.results.NASResults`.

Everything needed to resume is written into the experiment folder before the first trial, so
``raynas.resume(path)`` (or ``raynas resume PATH``) continues a search stopped by Ctrl-C or a
killed driver with its searcher, scheduler and measurement-cache state.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raynas._resume import check_state_files
from raynas.config import SPACES, ConfigError, load_object
from raynas.objectives import Objective, ObjectiveError, as_objectives
from raynas.search_spaces.errors import RaynasError

SPEC_FILE = "raynas_search.pkl"
#: The warm start's earlier candidates as measured again by this search (see ``warm_start``).
WARM_START_FILE = "warm_start.json"

#: Metrics produced by a hardware target (need ``hardware=``).
HARDWARE_METRICS = (
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_mean_ms",
    "latency_std_ms",
    "energy_j",
    "peak_memory_bytes",
    "model_size_bytes",
    "quantized_acc",
)


@dataclass(frozen=True)
class Prior:
    """One candidate of a warm start's earlier search, as the new search takes it."""

    config: dict[str, Any]  # validated against the new search's space
    metrics: dict[str, Any] | None  # its device-independent metrics; None: it failed
    fidelity: float  # epochs reached / max_epochs
    source: Any  # the earlier search's Candidate (trial id, checkpoint, reason)


@dataclass
class SearchSpec:
    """Everything a search needs, validated; pickled into the experiment folder for resume."""

    space: Any
    data: Any
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
    max_concurrent: int
    storage_path: str
    name: str
    seed: int
    max_failures: int
    verbose: int
    trainable_kwargs: dict[str, Any] = field(default_factory=dict)
    points_to_evaluate: list[dict[str, Any]] = field(default_factory=list)
    warm_start: list[Prior] = field(default_factory=list)  # an earlier search's candidates
    warm_start_path: str | None = None
    reuse_actors: bool = True

    @property
    def experiment_path(self) -> str:
        return os.path.join(self.storage_path, self.name)


def _say(spec_or_verbose: Any, msg: str) -> None:
    verbose = getattr(spec_or_verbose, "verbose", spec_or_verbose)
    if verbose:
        print(f"[raynas] {msg}", flush=True)


def _int(value: Any, key: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"`{key}` must be an int >= {low}, but got {value!r}.")
    return value


def _unknown_args(factory: Any, kwargs: Mapping[str, Any]) -> str:
    """Which of ``kwargs`` ``factory`` does not take, with its arguments ("" if none)."""
    import inspect

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


def _build_space(space: Any, space_kwargs: Mapping[str, Any], dm: Any) -> Any:
    if isinstance(space, str):
        target = SPACES.get(space, space)
        if space not in SPACES and ":" not in space:
            raise ConfigError(
                f"`space` must be one of {sorted(SPACES)}, 'module:attribute' or a SearchSpace, "
                f"but got {space!r}."
            )
        obj = load_object(target, "space")
        if isinstance(obj, type) or callable(obj) and not hasattr(obj, "validate"):
            kwargs = dict(space_kwargs)
            if dm is not None and space in SPACES:
                kwargs.setdefault("input_shape", tuple(dm.input_shape))
                kwargs.setdefault("num_classes", int(dm.num_classes))
                for key, value in getattr(dm, "space_kwargs", {}).items():  # text: vocab_size
                    kwargs.setdefault(key, value)
            try:
                obj = obj(**kwargs)
            except TypeError as e:
                raise ConfigError(f"`space` = {space!r}: {_unknown_args(obj, kwargs) or e}") from e
        space = obj
    elif space_kwargs:
        raise ConfigError("`space_kwargs` can only be used with a space name.")
    for attr in ("validate", "build", "sample", "key"):
        if not callable(getattr(space, attr, None)):
            raise ConfigError(
                f"`space` must be a raynas SearchSpace with `{attr}`, but got {type(space).__name__}."
            )
    return space


def _hardware_targets(hardware: Any, objectives: Sequence[Objective], verbose: int) -> list[Any]:
    from raynas.hardware import HardwareTarget

    if hardware is None:
        hardware = []
    if isinstance(hardware, (HardwareTarget, Mapping, str)):
        hardware = [hardware]
    targets = []
    for i, h in enumerate(hardware):
        if isinstance(h, HardwareTarget):
            targets.append(h)
        elif isinstance(h, str):
            targets.append(HardwareTarget(name=h))
        elif isinstance(h, Mapping):
            try:
                targets.append(HardwareTarget.from_dict(dict(h)))
            except TypeError as e:
                raise ConfigError(f"`hardware[{i}]`: {e}") from e
        else:
            raise ConfigError(
                f"`hardware[{i}]` must be a HardwareTarget, a mapping or a name, but got {h!r}."
            )
    wants_hw = [o.name for o in objectives if o.name in HARDWARE_METRICS]
    if wants_hw and not targets:
        _say(verbose, f"objectives {wants_hw} are measured on hardware; using the local CPU target")
        targets.append(HardwareTarget(name="cpu"))
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ConfigError(f"`hardware` target names must be unique, but got {names}.")
    return targets


#: NASTrainable arguments that :func:`search` sets from its own: the argument to use instead.
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


def _check_trainable_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Further :class:`~raynas.evaluation.NASTrainable` arguments, checked before any trial."""
    import inspect

    from raynas.evaluation import EvaluationSettings, NASTrainable

    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"`trainable_kwargs` must be a dict, but got {kwargs!r}.")
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
            raise ConfigError(
                f"`trainable_kwargs.{key}` is not a known key; the keys are {allowed}."
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


def _check_builds(
    strategy: Any,
    strategy_kwargs: Mapping[str, Any] | None,
    scheduler: Any,
    scheduler_kwargs: Mapping[str, Any] | None,
    space: Any,
    objectives: Sequence[Objective],
    seed: int,
    max_epochs: int,
) -> None:
    """Build the strategy and the scheduler once, so that their arguments are refused before the
    experiment folder is written (the search builds its own when it starts)."""
    from raynas._registry import RegistryError, make_scheduler
    from raynas.strategies import get_strategy
    from raynas.strategies.base import StrategyError

    try:
        if isinstance(strategy, str):
            get_strategy(
                strategy, space=space, objectives=objectives, seed=seed, **(strategy_kwargs or {})
            )
        else:  # a built strategy takes no further arguments
            get_strategy(strategy, space=space, **(strategy_kwargs or {}))
    except StrategyError as e:
        label = repr(strategy) if isinstance(strategy, str) else type(strategy).__name__
        raise ConfigError(f"`strategy` = {label}: {e}") from e
    try:
        make_scheduler(
            scheduler,
            objectives=objectives,
            max_epochs=max_epochs,
            space=space,
            seed=seed,
            kwargs=scheduler_kwargs,
        )
    except RegistryError as e:
        raise ConfigError(str(e)) from e


#: Numeric keys Tune adds to every result; an objective may name them too.
_TUNE_METRICS = ("training_iteration", "time_total_s", "time_this_iter_s", "time_since_restore")


def _check_objective_metrics(
    objectives: Sequence[Objective], targets: Sequence[Any], dm: Any, trainable_kwargs: dict
) -> None:
    """Refuse an objective no trial of this search will report, before any trial starts.

    A name Tune never sees in a result would stop the search at the first report (Tune's strict
    metric check) or make every candidate infeasible ("missing"), after training has been paid for.
    """
    from raynas.evaluation._metrics import REPORTED_METRICS, TASK_METRICS

    if trainable_kwargs.get("objectives"):
        return  # the user's hooks report metrics of their own choosing
    task = trainable_kwargs.get("task") or getattr(dm, "task", None)
    tasks = [task] if task in TASK_METRICS else list(TASK_METRICS)  # a data factory: not known yet
    trained = [m for m in REPORTED_METRICS if m not in ("feasible", "reason")]
    trained += [m for t in tasks for m in TASK_METRICS[t]] + list(_TUNE_METRICS)
    # without targets, naming a hardware metric adds the local CPU target (_hardware_targets)
    measured = [
        ("" if i == 0 else f"{t.name}_") + m
        for i, t in enumerate(targets or [None])
        for m in HARDWARE_METRICS
    ]
    for o in objectives:
        if o.name in trained or o.name in measured:
            continue
        close = difflib.get_close_matches(o.name, trained + measured, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(
            f"`objectives`: no candidate of this search reports `{o.name}`{hint}. Training "
            f"reports {trained}; the hardware targets report {measured} (a second target's "
            f"metrics carry its name first, e.g. `edge_latency_p50_ms`)."
        )


def build_spec(
    space: Any,
    data: Any = "digits",
    *,
    objectives: Sequence[str | Objective] | str = ("val_acc:max",),
    strategy: Any = "random",
    strategy_kwargs: Mapping[str, Any] | None = None,
    scheduler: Any = None,
    scheduler_kwargs: Mapping[str, Any] | None = None,
    hardware: Any = (),
    budget: int = 20,
    max_epochs: int = 5,
    train_fraction: float = 1.0,
    time_budget_s: float | None = None,
    resources_per_trial: Mapping[str, float] | None = None,
    max_concurrent: int | None = None,
    storage_path: str | None = None,
    name: str | None = None,
    seed: int = 0,
    space_kwargs: Mapping[str, Any] | None = None,
    data_kwargs: Mapping[str, Any] | None = None,
    max_failures: int = 1,
    verbose: int = 1,
    trainable_kwargs: Mapping[str, Any] | None = None,
    points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    warm_start: Any = None,
    reuse_actors: bool = True,
) -> SearchSpec:
    """Validate every argument of :func:`search` (no trial starts) and return the spec."""
    from raynas.data import get_datamodule
    from raynas.strategies import STRATEGIES

    try:
        objs = as_objectives(objectives)
    except ObjectiveError as e:
        raise ConfigError(f"`objectives`: {e}") from e
    budget = _int(budget, "budget", 1)
    max_epochs = _int(max_epochs, "max_epochs", 1)
    seed = _int(seed, "seed", 0)
    max_failures = _int(max_failures, "max_failures", 0)
    if not isinstance(reuse_actors, bool):
        raise ConfigError(
            f"`reuse_actors` must be a bool (true or false), but got {reuse_actors!r}."
        )
    resources = dict(resources_per_trial or {"cpu": 1})
    for k in resources:
        if k not in ("cpu", "gpu"):
            raise ConfigError(
                f"`resources_per_trial.{k}` is not a known key; the keys are ['cpu', 'gpu']."
            )
    cpus, gpus = float(resources.get("cpu", 1)), float(resources.get("gpu", 0))
    if max_concurrent is None:
        total = _cluster_cpus()
        max_concurrent = max(1, int(total // max(cpus, 1e-9))) if cpus else 1
    max_concurrent = _int(max_concurrent, "max_concurrent", 1)
    if isinstance(strategy, str) and strategy not in STRATEGIES:
        raise ConfigError(
            f"The `strategy` argument must be one of {sorted(STRATEGIES)}. Got: {strategy!r}."
        )
    from raynas._registry import SCHEDULERS

    if isinstance(scheduler, str) and scheduler not in SCHEDULERS:
        raise ConfigError(
            f"The `scheduler` argument must be one of {sorted(SCHEDULERS)}. Got: {scheduler!r}."
        )
    if scheduler in ("pbt", "architecture_pbt") and strategy != "random":
        raise ConfigError(
            f"`scheduler` = {scheduler!r} evolves a population that Tune samples at random; it "
            f"cannot be combined with `strategy` = {strategy!r}. Use strategy='random'."
        )
    if isinstance(data, str) and ":" in data:
        data = load_object(data, "data")
    dm = (
        get_datamodule(data, **dict(data_kwargs or {}))
        if not callable(data) or isinstance(data, tuple) or hasattr(data, "setup")
        else None
    )
    space_obj = _build_space(space, space_kwargs or {}, dm)
    targets = _hardware_targets(hardware, objs, verbose)
    trainable_kwargs = _check_trainable_kwargs(trainable_kwargs)
    _check_objective_metrics(objs, targets, dm, trainable_kwargs)
    _check_builds(
        strategy, strategy_kwargs, scheduler, scheduler_kwargs, space_obj, objs, seed, max_epochs
    )
    points: list[dict[str, Any]] = []
    if points_to_evaluate is not None:
        from raynas.strategies.base import StrategyError, validate_configs

        if scheduler in ("pbt", "architecture_pbt"):
            raise ConfigError(
                f"`points_to_evaluate` go to the search strategy; `scheduler` = {scheduler!r} "
                f"samples its population itself and takes none."
            )
        try:
            points = validate_configs(space_obj, points_to_evaluate, "points_to_evaluate")
        except StrategyError as e:
            raise ConfigError(str(e)) from e
    prior: list[Prior] = []
    prior_path: str | None = None
    if warm_start is not None:
        if scheduler in ("pbt", "architecture_pbt"):
            raise ConfigError(
                f"`warm_start` results go to the search strategy; `scheduler` = {scheduler!r} "
                f"samples its population itself and takes none."
            )
        quantized = [t.name for t in targets if getattr(t, "quantization", None) is not None]
        if quantized:
            raise ConfigError(
                f"`warm_start` cannot be combined with quantizing targets {quantized}: their "
                f"accuracy after quantization needs each candidate's trained weights, which a "
                f"warm start does not measure again."
            )
        prior, prior_path = _warm_start(warm_start, space_obj, objs, max_epochs)
    if name is None:
        name = f"raynas-{time.strftime('%Y%m%d-%H%M%S')}"
    elif not isinstance(name, str) or not name or os.sep in name or "/" in name:
        raise ConfigError(
            f"`name` must be a folder name without path separators (the folder goes under "
            f"`storage_path`), but got {name!r}."
        )
    if storage_path is None:
        storage_path = os.path.abspath("runs")
    elif not isinstance(storage_path, (str, os.PathLike)):
        raise ConfigError(f"`storage_path` must be a folder path, but got {storage_path!r}.")
    storage_path = os.path.abspath(os.path.expanduser(storage_path))
    return SearchSpec(
        space=space_obj,
        data=data,
        data_kwargs=dict(data_kwargs or {}),
        objectives=objs,
        strategy=strategy,
        strategy_kwargs=dict(strategy_kwargs or {}),
        scheduler=scheduler,
        scheduler_kwargs=dict(scheduler_kwargs or {}),
        hardware=targets,
        budget=budget,
        max_epochs=max_epochs,
        train_fraction=float(train_fraction),
        time_budget_s=time_budget_s,
        cpus=cpus,
        gpus=gpus,
        max_concurrent=max_concurrent,
        storage_path=storage_path,
        name=name,
        seed=seed,
        max_failures=max_failures,
        verbose=verbose,
        trainable_kwargs=trainable_kwargs,
        points_to_evaluate=points,
        warm_start=prior,
        warm_start_path=prior_path,
        reuse_actors=reuse_actors,
    )


def _is_hardware_metric(key: str) -> bool:
    """A metric measured on a device (``latency_p50_ms``, ``edge_energy_j``, ``hw_violation``)."""
    names = (*HARDWARE_METRICS, "hw_violation")
    return any(key == m or key.endswith("_" + m) for m in names)


def _warm_start(
    source: Any, space: Any, objectives: Sequence[Objective], max_epochs: int
) -> tuple[list[Prior], str | None]:
    """What an earlier search's candidates tell the new one, checked against the new space.

    A candidate keeps its device-independent metrics (accuracy, params, flops...); its hardware
    metrics are dropped, to be measured again on this search's targets. One without every
    device-independent objective of this search failed in training: it is told as failed.
    """
    from raynas.evaluation._runner import split_config
    from raynas.results import NASResults

    if isinstance(source, NASResults):
        prior, path = source, source.path
    elif isinstance(source, (str, os.PathLike)):
        path = os.path.abspath(os.path.expanduser(os.fspath(source)))
        try:
            prior = results(path)
        except ConfigError as e:
            raise ConfigError(f"`warm_start`: {e}") from e
    else:
        raise ConfigError(
            f"`warm_start` must be the folder of an earlier raynas search or its NASResults, "
            f"but got {type(source).__name__}: {source!r}."
        )
    trained = [o.name for o in objectives if not _is_hardware_metric(o.name)]
    missing = [n for n in trained if not any(n in c.metrics for c in prior.candidates)]
    if missing and any(c.feasible for c in prior.candidates):
        # a finished search that never reported them measured something else: not a failure
        reported = sorted({k for c in prior.candidates for k in c.metrics} - {"feasible", "reason"})
        raise ConfigError(
            f"`warm_start`: the candidates of {path!r} never reported {missing}, which this "
            f"search optimizes; they report {reported}. A warm start needs the earlier search "
            f"to have measured the same device-independent objectives."
        )
    out: list[Prior] = []
    for c in prior.candidates:
        if not c.config and not c.metrics:
            continue  # its trial never started (a killed driver): nothing to tell
        try:
            config = space.validate(split_config(space, c.config))
        except RaynasError as e:
            raise ConfigError(
                f"`warm_start`: candidate {c.trial_id} of {path!r} is not a config of this "
                f"search's space ({e}); warm starts need the same space."
            ) from e
        if not all(math.isfinite(c.value(n)) for n in trained):
            out.append(Prior(config, None, 1.0, c))  # it failed before these were measured
            continue
        metrics = {
            k: v
            for k, v in c.metrics.items()
            if not _is_hardware_metric(k)
            and k not in ("feasible", "reason")
            and isinstance(v, (int, float, str, bool))
        }
        epoch = c.metrics.get("epoch")
        reached = float(epoch) / max_epochs if isinstance(epoch, (int, float)) else 1.0
        out.append(Prior(config, metrics, min(1.0, max(reached, 1e-9)), c))
    return out, path


def _cluster_cpus() -> float:
    import ray

    if ray.is_initialized():
        return float(ray.cluster_resources().get("CPU", 1))
    return float(os.cpu_count() or 1)


def ensure_ray(verbose: int = 1, targets: Sequence[Any] = ()) -> None:
    """Start local Ray, or join the cluster named by ``RAY_ADDRESS`` (``ray job submit`` sets it).

    A local Ray advertises ``hw:<name>`` for every hardware target, so measurements run as Ray
    tasks on this node, one at a time per device, exactly as on a cluster's device node.
    """
    import ray

    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        _say(verbose, f"connecting to the Ray cluster at {os.environ['RAY_ADDRESS']}")
        ray.init(log_to_driver=verbose > 1)
    else:
        from raynas.hardware import local_resources

        resources = local_resources(targets)
        _say(verbose, "starting local Ray" + (f" with {resources}" if resources else ""))
        ray.init(include_dashboard=False, log_to_driver=verbose > 1, resources=resources)


class _MeasureFirst:
    """Runs a hardware objective before training (latency does not depend on the weights), so
    every epoch's report carries it and multi-objective schedulers can compare at each rung."""

    measure_at = "start"

    def __init__(self, objective: Any) -> None:
        self.objective = objective
        self.__name__ = f"HardwareObjective[{objective.target.name}]"

    def __call__(self, model: Any, config: Any) -> Any:
        return self.objective(model, config)


def _hardware_objectives(spec: SearchSpec) -> list[Any]:
    """One HardwareObjective per target of the search, measuring what its objectives name."""
    from raynas.hardware import HardwareObjective

    out: list[Any] = []  # params and flops are in every report already
    for i, target in enumerate(spec.hardware):
        prefix = "" if i == 0 else f"{target.name}_"
        wanted = {o.name[len(prefix) :] for o in spec.objectives if o.name.startswith(prefix)}
        metrics = ["latency_p50_ms", "latency_p90_ms", "energy_j"]
        metrics += sorted((wanted & set(HARDWARE_METRICS)) - set(metrics))
        if target.input_shape is None:
            target = dataclasses.replace(target, input_shape=tuple(spec.space.input_shape))
        if target.input_dtype == "float32" and hasattr(spec.space, "input_dtype"):
            target = dataclasses.replace(target, input_dtype=spec.space.input_dtype)  # token ids
        hw = HardwareObjective(
            target,
            metrics=tuple(metrics),
            cache=os.path.join(spec.experiment_path, "measurements"),
            space=spec.space,
            prefix=prefix,
        )
        out.append(hw)
    return out


def _make_trainable(spec: SearchSpec) -> Any:
    from raynas.evaluation import NASTrainable

    kwargs = dict(spec.trainable_kwargs)
    hooks = [_MeasureFirst(hw) for hw in _hardware_objectives(spec)]
    hooks += kwargs.pop("objectives", ())  # the user's own, after the hardware's
    return NASTrainable(
        spec.space,
        spec.data,
        data_kwargs=spec.data_kwargs,
        objectives=hooks,
        cpus=spec.cpus,
        gpus=spec.gpus,
        max_epochs=spec.max_epochs,
        train_fraction=spec.train_fraction,
        time_budget_s=spec.time_budget_s,
        seed=spec.seed,
        **kwargs,
    )


def _tell_warm_start(spec: SearchSpec, strategy: Any) -> None:
    """Tell the strategy the earlier search's candidates, measured again on this search's
    hardware (latency does not depend on the weights: a freshly built model measures alike),
    and keep them, so measured, in the experiment folder for this search's results."""
    from raynas.results import Candidate, is_feasible

    hardware = _hardware_objectives(spec)
    _say(
        spec,
        f"warm start: {len(spec.warm_start)} candidates of {spec.warm_start_path}"
        + (f", measuring them on {[hw.target.name for hw in hardware]}" if hardware else ""),
    )
    kept = []
    for prior in spec.warm_start:
        src = prior.source
        extra = {**src.extra, "warm_start": spec.warm_start_path}
        if prior.metrics is None:
            strategy.tell(prior.config, None, feasible=False)
            reason = f"failed in the earlier search: {src.reason or 'no accuracy reported'}"
            metrics = {k: v for k, v in src.metrics.items() if not _is_hardware_metric(k)}
            kept.append(
                dataclasses.replace(
                    src, metrics=metrics, feasible=False, reason=reason, extra=extra
                )
            )
            continue
        metrics = dict(prior.metrics)
        if hardware:
            model = spec.space.build(prior.config)
            for hw in hardware:
                metrics.update(hw(model, prior.config))
        # the strategy weighs constraint violations itself; the results say why one is out
        measured = metrics.get("feasible", True) is not False
        feasible, reason = is_feasible(metrics, spec.objectives)
        metrics.pop("feasible", None)
        metrics.pop("reason", None)
        strategy.tell(prior.config, metrics, feasible=measured, fidelity=prior.fidelity)
        kept.append(
            Candidate(
                src.trial_id,
                src.config,
                metrics,
                feasible,
                reason,
                src.checkpoint_path,
                src.trial_path,
                extra,
            )
        )
    os.makedirs(spec.experiment_path, exist_ok=True)
    with open(os.path.join(spec.experiment_path, WARM_START_FILE), "w") as f:
        json.dump([dataclasses.asdict(c) for c in kept], f, default=_plain_json)


def _plain_json(value: Any) -> Any:
    """numpy scalars (and anything else odd) in a metric, for json."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def _with_warm_start(results: Any, spec: SearchSpec) -> Any:
    """``results`` with the warm start's earlier candidates first (as this search measured
    them), when the search had a warm start."""
    from raynas.results import Candidate

    file = os.path.join(spec.experiment_path, WARM_START_FILE)
    if os.path.isfile(file):
        with open(file) as f:
            earlier = [Candidate(**c) for c in json.load(f)]
        results.candidates = earlier + results.candidates
    return results


def _make_search_alg(spec: SearchSpec, scheduler: Any = None) -> Any:
    from ray.tune.search import ConcurrencyLimiter

    from raynas.search import Searcher
    from raynas.strategies import get_strategy

    strategy = spec.strategy
    if isinstance(strategy, str):
        strategy = get_strategy(
            strategy,
            space=spec.space,
            objectives=spec.objectives,
            seed=spec.seed,
            **spec.strategy_kwargs,
        )
    if spec.warm_start:
        _tell_warm_start(spec, strategy)
    if spec.points_to_evaluate:
        strategy.enqueue(spec.points_to_evaluate, field="points_to_evaluate")
    # an early-stopping scheduler's budget: stopped trials are told with the fidelity they reached
    searcher = Searcher(strategy, objectives=spec.objectives, budget=scheduler)
    return ConcurrencyLimiter(searcher, max_concurrent=spec.max_concurrent)


def _tuner(spec: SearchSpec, restore: bool) -> Any:
    import cloudpickle
    from ray import tune

    from raynas._registry import make_scheduler
    from raynas.progress import make_reporter

    trainable = _make_trainable(spec)
    if restore:
        _say(spec, f"resuming {spec.experiment_path}")
        return tune.Tuner.restore(
            spec.experiment_path, trainable=trainable, resume_unfinished=True, resume_errored=True
        )
    os.makedirs(spec.experiment_path, exist_ok=True)
    with open(os.path.join(spec.experiment_path, SPEC_FILE), "wb") as f:
        cloudpickle.dump(spec, f)
    scheduler = make_scheduler(
        spec.scheduler,
        objectives=spec.objectives,
        max_epochs=spec.max_epochs,
        space=spec.space,
        seed=spec.seed,
        kwargs=spec.scheduler_kwargs,
    )
    from ray.tune.schedulers import PopulationBasedTraining

    if isinstance(scheduler, PopulationBasedTraining):
        # PBT evolves a population sampled by Tune itself (it refuses search algorithms).
        search_alg, param_space = None, spec.space.to_tune()
    else:
        search_alg, param_space = _make_search_alg(spec, scheduler), None
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=spec.budget,
            # a worker process trains one candidate after another: torch and Lightning are
            # imported, and the data loaded, once per worker instead of once per candidate
            reuse_actors=getattr(spec, "reuse_actors", True),
        ),
        run_config=tune.RunConfig(
            name=spec.name,
            storage_path=spec.storage_path,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            progress_reporter=make_reporter(spec.objectives, spec.budget) if spec.verbose else None,
            verbose=1 if spec.verbose else 0,
        ),
    )


def _fit(spec: SearchSpec, restore: bool) -> Any:
    from raynas.results import NASResults

    # A custom reporter needs Tune's classic output engine; experiment state (searcher and
    # scheduler included) is snapshotted every few seconds so a killed driver loses little.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    # ...and those frequent snapshots are wanted: Tune's warning about them (once per trial
    # checkpoint beyond `num_to_keep`) would flood the user's terminal
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # results are read back from each trial's result.json (report, export, resume)
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "0"
    if restore:  # before Ray starts: a Tune state file cut short by a killed driver fails here
        mended = check_state_files(spec.experiment_path)
        if mended:  # said whatever the verbosity: the search goes on from mended state
            logging.getLogger(__name__).warning("raynas: %s.", mended)
    ensure_ray(spec.verbose, spec.hardware)
    tuner = _tuner(spec, restore)
    t0 = time.time()
    grid = tuner.fit()
    results = NASResults.from_result_grid(grid, spec.objectives, space=spec.space)
    results.path = spec.experiment_path
    new = len(results)
    results = _with_warm_start(results, spec)
    earlier = f" (and {len(results) - new} from the warm start)" if len(results) > new else ""
    _say(
        spec,
        f"search finished in {time.time() - t0:.1f} s: {new} candidates{earlier}, "
        f"{len(results.feasible())} feasible, {len(results.pareto_front())} on the front",
    )
    return results


def search(space: Any, data: Any = "digits", **kwargs: Any) -> Any:
    """Run a whole hardware-aware search and return its :class:`~raynas.results.NASResults`.

    Args:
        space: a SearchSpace, a built-in space name (``"mlp"``, ``"nb201"``, ``"mobile"``,
            ``"transformer"``; shaped to the data) or ``"module:attribute"``.
        data: a dataset name (``"digits"``, ``"mnist1d"``), ``(x, y)`` arrays or a
            LightningDataModule.
        objectives: metric specs such as ``"val_acc:max"``, ``"latency_p50_ms:min"`` or
            constraints ``"latency_p50_ms <= 5"``; the first is the primary one.
        strategy: a strategy name from ``raynas.strategies.STRATEGIES`` or a Strategy object.
        scheduler: ``"fifo"``, ``"asha"``, ``"moasha"``, ``"pbt"``, ... or a Tune scheduler.
        hardware: hardware targets (``HardwareTarget``, mappings or names) measured after
            training; latency objectives without a target use the local CPU.
        budget: number of candidates.
        max_epochs, train_fraction, time_budget_s: performance-estimation controls.
        resources_per_trial: ``{"cpu": 1, "gpu": 0.5}``.
        storage_path, name: where the experiment folder goes (default ``./runs/raynas-<time>``).
        seed: seeds the strategy and every candidate's training.
        points_to_evaluate: configs of the space to train first, in order (a baseline, known
            good architectures); the strategy proposes the rest. Validated before any trial.
        warm_start: the folder (or :class:`NASResults`) of an earlier search over the same
            space, for example for another device. Its candidates are told to the strategy
            before the first trial, with their accuracy as trained and their hardware metrics
            measured again on this search's targets (no training); ``budget`` counts new
            candidates only. The results list the earlier candidates first, as measured here
            (``extra["warm_start"]`` names their search; their weights stay in its folder), so
            the front and the export cover both searches.
        reuse_actors: train candidates one after another in the same Ray worker processes
            (default), so each worker imports torch and Lightning and loads the data once.
            ``False`` gives every candidate a fresh process, for models whose building leaves
            global state behind.
        trainable_kwargs: further arguments of :class:`~raynas.evaluation.NASTrainable`, e.g.
            ``{"objectives": [hook]}``: hooks ``f(model, config) -> dict`` run on each trained
            network after the hardware measurement, whose metrics may be objectives too;
            ``module_factory``, ``task``, ``trainer_kwargs``, ``checkpoint_every``,
            ``num_threads``. A key the search sets from its own arguments (``max_epochs``,
            ``seed``, ...) is refused, naming the argument to use.

    Example:
        >>> # results = raynas.search("mlp", "digits",
        >>> #     objectives=["val_acc:max", "latency_p50_ms:min"], strategy="nsga2",
        >>> #     scheduler="moasha", budget=24, max_epochs=5)
        >>> # results.pareto_front()
    """
    spec = build_spec(space, data, **kwargs)
    return _fit(spec, restore=False)


def load_spec(path: str) -> SearchSpec:
    """Read the spec a search wrote into its experiment folder."""
    import cloudpickle

    file = os.path.join(path, SPEC_FILE)
    if not os.path.isfile(file):
        raise ConfigError(
            f"`path` must be a raynas experiment folder (with {SPEC_FILE}), but {path!r} has none."
        )
    with open(file, "rb") as f:
        spec = cloudpickle.load(f)
    spec.storage_path, spec.name = os.path.split(os.path.abspath(path).rstrip(os.sep))
    return spec


def resume(path: str, *, verbose: int | None = None) -> Any:
    """Continue a stopped search until its budget is spent; returns its results.

    A driver killed while it copied its state files can leave them out of step or cut short.
    They are made to agree with Tune's list of trials, and a searcher state cut short is rebuilt
    from it (``Searcher.restore``), with a warning; a Tune state file cut short raises
    :class:`raynas._resume.ResumeError` naming it, before Ray starts.
    """
    spec = load_spec(path)
    if verbose is not None:
        spec.verbose = verbose
    return _fit(spec, restore=True)


def results(path: str) -> Any:
    """Load the results of a finished or interrupted search from its folder."""
    from raynas.results import NASResults

    spec = load_spec(path)
    res = NASResults.from_path(spec.experiment_path, spec.objectives, space=spec.space)
    res.path = spec.experiment_path
    return _with_warm_start(res, spec)
