"""The search options, declared once.

:class:`SearchOptions` is the one declaration of what a search takes: :func:`raynas.search`
(whose signature is this class's), the YAML config (``raynas run``), :func:`raynas.resume` and
the KerasTuner-style tuners all build one, so every door has the same names, defaults and
checks. A new option is one field here, with its doc in the field's metadata.

Nothing here imports Ray or torch: the checks are of names, types and ranges. What needs the
objects built (a space, the data, the cluster) is checked by :mod:`raynas.frontdoor.plan`.

Example:
    >>> opts = SearchOptions("mlp", objectives=["val_acc"], constraints=["params <= 1e5"])
    >>> opts.objectives[-1]
    Objective(name='params', mode='min', constraint=('<=', 100000.0))
    >>> SearchOptions("mlp", budjet=3)
    Traceback (most recent call last):
    ...
    TypeError: SearchOptions.__init__() got an unexpected keyword argument 'budjet'
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from raynas.frontdoor.engine_options import check_data_parallel, check_screening
from raynas.frontdoor.names import ConfigError, parse_domain
from raynas.objectives import Objective, ObjectiveError, as_objectives

P = ParamSpec("P")
R = TypeVar("R")

#: Option groups a YAML config may nest: ``training: {max_epochs: 5}``.
GROUPS: dict[str, tuple[str, ...]] = {
    "training": ("max_epochs", "train_fraction", "time_budget_s"),
}


def _opt(default: Any, doc: str, *, factory: bool = False) -> Any:
    if factory:
        return field(default_factory=default, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass
class SearchOptions:
    """Every option of a search, checked for names, types and ranges (nothing is started).

    The fields are the keyword arguments of :func:`raynas.search` and the keys of the YAML config.
    """

    space: Any = field(
        metadata={
            "doc": "a SearchSpace, a built-in space name ('mlp', 'nb201', 'mobile', "
            "'transformer', shaped to the data), 'module:attribute', or a mapping "
            "{type: name, **space arguments} as in the YAML"
        }
    )
    data: Any = _opt(
        "digits",
        "a dataset name ('digits', 'mnist1d'), (x, y) arrays, a LightningDataModule, a "
        "zero-argument factory of one, or {name: dataset, **arguments}",
    )
    objectives: Any = _opt(
        ("val_acc:max",),
        "metric specs such as 'val_acc:max', 'latency_p50_ms:min' or 'latency_p50_ms <= 5'; "
        "the first is the primary one",
    )
    constraints: Any = _opt(
        (),
        "bounds such as 'latency_p50_ms <= 5': a bound on an objective, or a metric that "
        "only has to stay within it",
    )
    strategy: Any = _opt(
        "random",
        "a name of raynas.strategies.STRATEGIES, a one-shot method of "
        "raynas.oneshot.METHODS ('darts', 'gdas', 'spos', ...: a supernet of the space is "
        "searched, its derived architectures trained as the candidates), 'module:attribute', "
        "a Strategy, or {name: strategy, **arguments}",
    )
    strategy_kwargs: Any = _opt(None, "arguments of a strategy given by name")
    scheduler: Any = _opt(
        None,
        "'fifo', 'asha', 'hyperband', 'moasha', 'pbt', 'architecture_pbt', a Tune "
        "scheduler, or {name: scheduler, **arguments}",
    )
    scheduler_kwargs: Any = _opt(None, "arguments of a scheduler given by name")
    hardware: Any = _opt(
        (),
        "hardware targets (HardwareTarget, mappings or names) every candidate is measured on; "
        "latency objectives without a target use the local CPU",
    )
    budget: int = _opt(20, "number of candidates to train")
    max_epochs: int = _opt(5, "epochs of a candidate trained to the end")
    train_fraction: float = _opt(1.0, "the share of the training split each candidate trains on")
    time_budget_s: float | None = _opt(None, "seconds of training per candidate, at most")
    training: Any = _opt(
        None, "the training options as one mapping, as the YAML writes them: {max_epochs: 5}"
    )
    resources_per_trial: Any = _opt(
        None,
        "what one trial needs: {'cpu': 1, 'gpu': 0.5} and custom Ray resources "
        "({'accelerator_type:A100': 0.01}); refused before the first trial if no node has it",
    )
    data_parallel: Any = _opt(
        None,
        "train each candidate data-parallel (DDP with Ray Train) on several workers: their "
        "number, or {num_workers: 2, cpus_per_worker, use_gpu, driver_cpus, worker_retries}; "
        "each worker gets `resources_per_trial` (its CPUs; one whole GPU where it asks for one)",
    )
    latency_screening: Any = _opt(
        None,
        "screen proposed candidates against a latency bound before training: true, or "
        "{metric, min_measurements: 8, estimator: 'gp', z: 1.0, max_skips: 20}; a latency "
        "predictor fit on the measured candidates skips those predicted over the bound (told "
        "to the strategy as infeasible, not trained; listed in screened.json)",
    )
    max_concurrent: int | None = _opt(
        None, "trials at a time (default: the cluster's CPUs / CPUs per trial)"
    )
    storage_path: Any = _opt(None, "the folder the experiment folder goes in (default ./runs)")
    name: str | None = _opt(None, "the experiment folder's name (default raynas-<time>)")
    seed: int = _opt(0, "seeds the strategy and every candidate's training")
    space_kwargs: Any = _opt(None, "arguments of a space given by name")
    data_kwargs: Any = _opt(None, "arguments of a dataset given by name")
    max_failures: int = _opt(1, "retries of a trial whose worker died (from its checkpoint)")
    verbose: int = _opt(1, "0 silent, 1 progress, 2 and 3 more of Ray's output")
    trainable_kwargs: Any = _opt(
        None,
        "further NASTrainable arguments: {'objectives': [hook]} with hook(model, config) -> "
        "dict, 'module_factory', 'task', 'trainer_kwargs', 'checkpoint_every', 'num_threads'",
    )
    points_to_evaluate: Any = _opt(
        None, "configs of the space to train first, in order (a baseline, known good cells)"
    )
    warm_start: Any = _opt(
        None,
        "the folder (or NASResults) of an earlier search over the same space: its candidates "
        "are told to the strategy first, their hardware metrics measured again here; budget "
        "counts new candidates only",
    )
    reuse_actors: bool = _opt(
        True, "train candidates one after another in the same worker processes"
    )
    callbacks: Any = _opt(
        (),
        "Tune callbacks (MLflowLoggerCallback, TBXLoggerCallback, ...), 'module:attribute', "
        "a name of raynas.frontdoor.names.CALLBACKS ('tensorboard', 'mlflow', 'wandb', 'csv', "
        "'json'), or {name: ..., **arguments}",
    )
    run_config: Any = _opt(
        None,
        "further tune.RunConfig arguments ({'stop': ..., 'sync_config': ...}) beside the ones "
        "the search sets itself (name, storage_path, failure_config, callbacks)",
    )

    def __post_init__(self) -> None:
        _check(self)

    # -- the doors -----------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, raw: Any, *, source: str = "config") -> SearchOptions:
        """Options from a mapping (a YAML config): unknown keys are refused with the closest."""
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"`{source}` must be a mapping of option names to values, but got {raw!r}."
            )
        refuse_unknown(raw, where="")
        if "space" not in raw:
            from raynas.frontdoor.names import SPACES

            raise ConfigError(
                f"`space` is missing; give one of {sorted(SPACES)} or 'module:attribute'."
            )
        return cls(**dict(raw))

    def replace(self, **changes: Any) -> SearchOptions:
        """A copy with ``changes`` (checked as at construction)."""
        refuse_unknown(changes, where="")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`raynas.search` (shallow)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SearchOptions))


def refuse_unknown(keys: Mapping[str, Any] | Sequence[str], *, where: str) -> None:
    """Refuse an option name that is not declared, naming the closest one."""
    for key in keys:
        if key in OPTION_NAMES:
            continue
        allowed = [*OPTION_NAMES]
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"`{prefix}{key}` is not an option of raynas.search{hint}; the options are "
            f"{sorted(allowed)}."
        )


def with_options_signature(
    options: Callable[P, Any], summary: str
) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Give ``fn(**options)`` the signature and the documented arguments of ``options``.

    ``help()``, ``inspect.signature`` and editors show every option with its default; type
    checkers see the parameters through ``ParamSpec``. Unknown keywords are refused by name.
    """
    sig = inspect.signature(options)
    params = list(sig.parameters.values())
    docs = [
        f"    {f.name}: {f.metadata.get('doc', '')}."
        for f in dataclasses.fields(options)  # type: ignore[arg-type]
    ]
    kw_params = [params[0], params[1]] + [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params[2:]
    ]

    def decorate(fn: Callable[..., R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            if len(args) > 2:
                raise TypeError(
                    f"{fn.__name__}() takes the space and the data by position and every other "
                    f"option by keyword, but got {len(args)} positional arguments."
                )
            refuse_unknown(kwargs, where="")
            return fn(*args, **kwargs)

        wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=kw_params, return_annotation=inspect.signature(fn).return_annotation
        )
        wrapper.__doc__ = f"{summary}\n\nArgs:\n" + "\n".join(docs) + "\n\n" + (fn.__doc__ or "")
        return wrapper  # type: ignore[return-value]

    return decorate


# -- the checks ---------------------------------------------------------------------------------
def _need(cond: bool, key: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ConfigError(f"`{key}` must be {allowed}, but got {value!r}.")


def _is_int(v: Any, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def split_named(value: Any, key: str, name_keys: tuple[str, ...] = ("name",)) -> tuple[Any, dict]:
    """``{name: x, **kwargs}`` into ``(x, kwargs)``; anything else is ``(value, {})``."""
    if not isinstance(value, Mapping):
        return value, {}
    found = [k for k in name_keys if k in value]
    _need(
        len(found) == 1,
        key,
        dict(value),
        f"a mapping with a `{name_keys[0]}` key naming the {key} and its arguments",
    )
    name = value[found[0]]
    _need(isinstance(name, str) and bool(name), f"{key}.{found[0]}", name, "a non-empty string")
    return name, {k: v for k, v in value.items() if k != found[0]}


def _merge_kwargs(
    opts: SearchOptions, key: str, labels: dict[str, str], name_keys: tuple[str, ...] = ("name",)
) -> None:
    raw = getattr(opts, key)
    if isinstance(raw, Mapping):
        labels[key] = f"{key}.{next((k for k in name_keys if k in raw), name_keys[0])}"
    value, nested = split_named(raw, key, name_keys)
    extra = getattr(opts, f"{key}_kwargs")
    _need(
        extra is None or isinstance(extra, Mapping),
        f"{key}_kwargs",
        extra,
        "a mapping of argument names to values",
    )
    if nested and extra:
        raise ConfigError(
            f"`{key}` gives its arguments in the mapping and in `{key}_kwargs`: give them once."
        )
    kwargs = {str(k): v for k, v in dict(nested or extra or {}).items()}
    setattr(opts, key, value)
    setattr(opts, f"{key}_kwargs", kwargs)


def _check(opts: SearchOptions) -> None:
    labels: dict[str, str] = {}  # where the user wrote an option, e.g. `training.max_epochs`
    _merge_kwargs(opts, "space", labels, ("type", "name"))
    opts.space_kwargs = {k: parse_domain(v, f"space.{k}") for k, v in opts.space_kwargs.items()}
    _merge_kwargs(opts, "data", labels)
    _merge_kwargs(opts, "strategy", labels)
    if opts.scheduler in ("none", "fifo"):
        opts.scheduler = None
    _merge_kwargs(opts, "scheduler", labels)
    _check_names(opts, labels)
    _check_objectives(opts)
    opts.latency_screening = check_screening(opts.latency_screening, opts.objectives)
    _check_training(opts, labels)
    _check_numbers(opts, labels)
    _check_resources(opts)
    opts.data_parallel = check_data_parallel(opts.data_parallel, opts.resources_per_trial)
    _check_paths(opts)
    _check_lists(opts)


def _check_names(opts: SearchOptions, labels: dict[str, str]) -> None:
    from raynas.data import DATAMODULES
    from raynas.frontdoor.names import SPACES, schedulers_table, strategies_table
    from raynas.oneshot._methods import METHODS

    for key, table in (
        ("space", SPACES),
        ("data", DATAMODULES),
        ("strategy", {**strategies_table(), **dict.fromkeys(METHODS)}),
        ("scheduler", schedulers_table()),
    ):
        value = getattr(opts, key)
        if isinstance(value, str) and value not in table and ":" not in value:
            close = difflib.get_close_matches(value, list(table), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"`{labels.get(key, key)}` must be one of {sorted(table)} or 'module:attribute', "
                f"but got {value!r}{hint}."
            )
        if value is None and key != "scheduler":
            raise ConfigError(f"`{key}` must be given, but got None.")


def _check_objectives(opts: SearchOptions) -> None:
    specs = opts.objectives
    if isinstance(specs, (str, Objective)):
        specs = [specs]
    _need(
        isinstance(specs, Sequence) and len(specs) > 0,
        "objectives",
        opts.objectives,
        "a non-empty list such as ['val_acc:max', 'latency_p50_ms:min']",
    )
    objectives: list[Objective] = []
    for i, s in enumerate(specs):
        try:
            objectives.append(s if isinstance(s, Objective) else Objective.parse(s))
        except ObjectiveError as e:
            raise ConfigError(f"`objectives[{i}]`: {e}") from e
    constraints = opts.constraints
    if isinstance(constraints, str):
        constraints = [constraints]
    _need(
        isinstance(constraints, Sequence),
        "constraints",
        opts.constraints,
        "a list such as ['latency_p50_ms <= 5']",
    )
    for i, c in enumerate(constraints):
        try:
            parsed = c if isinstance(c, Objective) else Objective.parse(c)
        except ObjectiveError as e:
            raise ConfigError(f"`constraints[{i}]`: {e}") from e
        _need(
            parsed.constraint is not None,
            f"constraints[{i}]",
            c,
            "'metric <= bound' or 'metric >= bound'",
        )
        for j, o in enumerate(objectives):
            if o.name == parsed.name:
                objectives[j] = Objective(o.name, o.mode, parsed.constraint)
                break
        else:
            objectives.append(parsed)
    try:
        opts.objectives = as_objectives(objectives)
    except ObjectiveError as e:
        raise ConfigError(f"`objectives`: {e}") from e
    opts.constraints = ()


def _check_training(opts: SearchOptions, labels: dict[str, str]) -> None:
    group = opts.training
    if group is None:
        return
    keys = GROUPS["training"]
    _need(isinstance(group, Mapping), "training", group, f"a mapping with keys among {list(keys)}")
    defaults = {f.name: f.default for f in dataclasses.fields(SearchOptions)}
    for k, v in group.items():
        if k not in keys:
            close = difflib.get_close_matches(str(k), keys, n=1)
            hint = f" (did you mean `training.{close[0]}`?)" if close else ""
            raise ConfigError(
                f"`training.{k}` is not a known key{hint}; the keys of `training` are {list(keys)}."
            )
        if getattr(opts, k) != defaults[k] and getattr(opts, k) != v:
            raise ConfigError(
                f"`{k}` is given twice, as `{k}` ({getattr(opts, k)!r}) and as `training.{k}` "
                f"({v!r}): give it once."
            )
        setattr(opts, k, v)
        labels[k] = f"training.{k}"
    opts.training = None


def _check_numbers(opts: SearchOptions, labels: dict[str, str]) -> None:
    _need(_is_int(opts.budget, 1), "budget", opts.budget, "an int >= 1 (the number of candidates)")
    _need(
        _is_int(opts.max_epochs, 1),
        labels.get("max_epochs", "max_epochs"),
        opts.max_epochs,
        "an int >= 1",
    )
    _need(_is_int(opts.seed, 0), "seed", opts.seed, "an int >= 0")
    _need(_is_int(opts.max_failures, 0), "max_failures", opts.max_failures, "an int >= 0")
    _need(
        opts.max_concurrent is None or _is_int(opts.max_concurrent, 1),
        "max_concurrent",
        opts.max_concurrent,
        "an int >= 1 or None",
    )
    _need(
        _is_number(opts.train_fraction) and 0 < opts.train_fraction <= 1,
        labels.get("train_fraction", "train_fraction"),
        opts.train_fraction,
        "a number in (0, 1]",
    )
    opts.train_fraction = float(opts.train_fraction)
    _need(
        opts.time_budget_s is None or (_is_number(opts.time_budget_s) and opts.time_budget_s > 0),
        labels.get("time_budget_s", "time_budget_s"),
        opts.time_budget_s,
        "a positive number of seconds or None",
    )
    _need(opts.verbose in (0, 1, 2, 3), "verbose", opts.verbose, "one of [0, 1, 2, 3]")
    _need(isinstance(opts.reuse_actors, bool), "reuse_actors", opts.reuse_actors, "true or false")


def _check_resources(opts: SearchOptions) -> None:
    res = {"cpu": 1} if opts.resources_per_trial is None else opts.resources_per_trial
    _need(
        isinstance(res, Mapping) and all(isinstance(k, str) and k for k in res),
        "resources_per_trial",
        res,
        "a mapping such as {'cpu': 1, 'gpu': 0.5} (and custom Ray resources by name)",
    )
    out: dict[str, float] = {}
    for k, v in res.items():
        key = {"CPU": "cpu", "GPU": "gpu"}.get(k, k)
        _need(_is_number(v) and v >= 0, f"resources_per_trial.{k}", v, "a number >= 0")
        out[key] = float(v)
    out.setdefault("cpu", 1.0)
    out.setdefault("gpu", 0.0)
    if out["cpu"] == 0 and out["gpu"] == 0:
        raise ConfigError(
            f"`resources_per_trial` cannot give a trial 0 CPUs and 0 GPUs, but got {dict(res)!r}."
        )
    if out["gpu"] > 1 and out["gpu"] != int(out["gpu"]):
        raise ConfigError(
            f"`resources_per_trial.gpu` must be a fraction in (0, 1) (trials sharing a GPU) or a "
            f"whole number, but got {out['gpu']!r}."
        )
    opts.resources_per_trial = out


def _check_paths(opts: SearchOptions) -> None:
    _need(
        opts.name is None
        or (
            isinstance(opts.name, str)
            and bool(opts.name)
            and "/" not in opts.name
            and os.sep not in opts.name
        ),
        "name",
        opts.name,
        "a folder name without path separators (the folder goes under `storage_path`)",
    )
    _need(
        opts.storage_path is None or isinstance(opts.storage_path, (str, os.PathLike)),
        "storage_path",
        opts.storage_path,
        "a folder path",
    )
    if opts.storage_path is not None:
        opts.storage_path = os.path.abspath(os.path.expanduser(os.fspath(opts.storage_path)))
    warm = opts.warm_start
    if isinstance(warm, (str, os.PathLike)):
        _need(bool(os.fspath(warm)), "warm_start", warm, "the folder of an earlier raynas search")
        opts.warm_start = os.path.abspath(os.path.expanduser(os.fspath(warm)))


def _check_lists(opts: SearchOptions) -> None:
    points = opts.points_to_evaluate
    _need(
        points is None
        or (isinstance(points, Sequence) and all(isinstance(p, Mapping) for p in points)),
        "points_to_evaluate",
        points,
        "a list of configs of the space (mappings of decision to value; checked against the "
        "space when it is built)",
    )
    if points is not None:
        opts.points_to_evaluate = [dict(p) for p in points]
    if opts.hardware is None:
        opts.hardware = ()
    if isinstance(opts.hardware, (str, Mapping)) or not isinstance(opts.hardware, Sequence):
        opts.hardware = [opts.hardware]
    opts.hardware = list(opts.hardware)
    for i, h in enumerate(opts.hardware):
        _need(
            not isinstance(h, Mapping) or (isinstance(h.get("name"), str) and bool(h["name"])),
            f"hardware[{i}]",
            h,
            "a mapping with at least a `name` (and HardwareTarget's other fields)",
        )
    callbacks = opts.callbacks
    if callbacks is None:
        callbacks = ()
    if isinstance(callbacks, (str, Mapping)) or not isinstance(callbacks, Sequence):
        callbacks = [callbacks]
    opts.callbacks = list(callbacks)
    _need(
        opts.run_config is None or isinstance(opts.run_config, Mapping),
        "run_config",
        opts.run_config,
        "a mapping of further tune.RunConfig arguments",
    )
    _need(
        opts.trainable_kwargs is None or isinstance(opts.trainable_kwargs, Mapping),
        "trainable_kwargs",
        opts.trainable_kwargs,
        "a mapping of NASTrainable arguments",
    )
