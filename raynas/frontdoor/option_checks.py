"""The checks of :class:`~raynas.frontdoor.options.SearchOptions`: names, types and ranges,
each refused naming the option as the user wrote it (``training.max_epochs``), the value and
what is allowed. Values are normalized in place (``{name: x, **kw}`` split, constraints merged
into the objectives, the ``training`` group spread). Nothing here imports Ray or torch.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from raynas.frontdoor.engine_options import check_data_parallel, check_screening
from raynas.frontdoor.names import ConfigError, parse_domain
from raynas.objectives import Objective, ObjectiveError, as_objectives

if TYPE_CHECKING:  # pragma: no cover
    from raynas.frontdoor.options import SearchOptions

#: Option groups a YAML config may nest: ``training: {max_epochs: 5}``.
GROUPS: dict[str, tuple[str, ...]] = {
    "training": ("max_epochs", "train_fraction", "time_budget_s"),
}


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


def check_options(opts: SearchOptions) -> None:
    """Check and normalize ``opts`` in place."""
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
    defaults = {f.name: f.default for f in dataclasses.fields(type(opts))}
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
