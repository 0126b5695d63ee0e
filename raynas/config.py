"""The YAML search config: loaded safely, validated whole before any trial starts.

Every error names the key (``strategy.name``), the value and what is allowed. Spaces, datasets,
strategies and schedulers are chosen by name from lazy tables, or a user's own by
``module:attribute``.

Example config::

    name: hardware-aware-digits
    seed: 0
    space: {type: mlp, max_layers: 3, width: [32, 64, 128, 256]}
    data: {name: digits}
    objectives: [val_acc:max, latency_p50_ms:min]
    constraints: ["latency_p50_ms <= 5"]
    strategy: {name: nsga2, population_size: 8}
    scheduler: {name: moasha, grace_period: 1}
    hardware: [{name: cpu, provider: CPUExecutionProvider, threads: 1}]
    budget: 24
    training: {max_epochs: 5, train_fraction: 1.0}
    resources_per_trial: {cpu: 1}
    storage_path: ./runs

Optional: ``points_to_evaluate``, a list of configs of the space to train first (a baseline,
known good architectures), checked against the space when the search is built; ``warm_start``,
the folder of an earlier search over the same space whose candidates the strategy is told first
(their hardware metrics measured again on this config's targets; see :func:`raynas.search`);
``reuse_actors`` (default true), false to give every candidate a fresh worker process.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raynas.objectives import Objective, ObjectiveError
from raynas.search_spaces.errors import RaynasError

#: Built-in spaces by name.
SPACES: dict[str, str] = {
    "mlp": "raynas.search_spaces:MLPSpace",
    "nb201": "raynas.search_spaces:NB201CellSpace",
    "mobile": "raynas.search_spaces:MobileBlockSpace",
    "transformer": "raynas.search_spaces:TransformerSpace",
}

TOP_KEYS = (
    "name",
    "seed",
    "space",
    "data",
    "objectives",
    "constraints",
    "strategy",
    "scheduler",
    "hardware",
    "budget",
    "training",
    "resources_per_trial",
    "max_concurrent",
    "storage_path",
    "max_failures",
    "verbose",
    "points_to_evaluate",
    "warm_start",
    "reuse_actors",
)
TRAINING_KEYS = ("max_epochs", "train_fraction", "time_budget_s")
RESOURCE_KEYS = ("cpu", "gpu")


class ConfigError(RaynasError, ValueError):
    """A search config (YAML or keyword arguments) is invalid."""


def load_object(spec: str, what: str) -> Any:
    """Import ``module:attribute`` (for a user's own space, dataset, strategy...)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"`{what}` must be a known name or 'module:attribute', but got {spec!r}.")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(
            f"`{what}` = {spec!r}: cannot import module {module_name!r} ({e})."
        ) from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(
                f"`{what}` = {spec!r}: module {module_name!r} has no attribute {attr!r}."
            )
        obj = getattr(obj, part)
    return obj


def _need(cond: bool, key: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ConfigError(f"`{key}` must be {allowed}, but got {value!r}.")


def _check_keys(d: Mapping[str, Any], allowed: tuple[str, ...] | list[str], where: str) -> None:
    for k in d:
        if k not in allowed:
            prefix = f"{where}." if where else ""
            raise ConfigError(
                f"`{prefix}{k}` is not a known key; the keys{' of `' + where + '`' if where else ''} "
                f"are {list(allowed)}."
            )


def _named(section: Any, key: str, table: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """Split ``{name: x, **kwargs}`` (or a bare name) into the name and its keyword arguments."""
    if isinstance(section, str):
        section = {"name": section}
    _need(isinstance(section, Mapping), key, section, "a name or a mapping with a `name` key")
    name_key = "type" if "type" in section and "name" not in section else "name"
    name = section.get(name_key)
    _need(isinstance(name, str) and bool(name), f"{key}.{name_key}", name, "a non-empty string")
    if table is not None and name not in table and ":" not in name:
        raise ConfigError(
            f"`{key}.{name_key}` must be one of {sorted(table)} or 'module:attribute', "
            f"but got {name!r}."
        )
    kwargs = {k: v for k, v in section.items() if k != name_key}
    return name, kwargs


def parse_domain(value: Any, key: str) -> Any:
    """YAML shorthand for domains: ``{int: [lo, hi], step: s, log: b}``, ``{float: [lo, hi],
    log: b}``, ``{choice: [...]}``; lists stay lists (spaces read them as choices)."""
    from raynas.search_spaces import Choice, Float, Int

    if not isinstance(value, Mapping) or not ({"int", "float", "choice"} & set(value)):
        return value
    kinds = [k for k in ("int", "float", "choice") if k in value]
    _need(
        len(kinds) == 1,
        key,
        dict(value),
        "one of {int: [lo, hi]}, {float: [lo, hi]}, {choice: [...]}",
    )
    kind = kinds[0]
    opts = {k: v for k, v in value.items() if k != kind}
    try:
        if kind == "choice":
            _check_keys(opts, [], key)
            return Choice(list(value["choice"]))
        bounds = value[kind]
        _need(
            isinstance(bounds, (list, tuple)) and len(bounds) == 2,
            f"{key}.{kind}",
            bounds,
            "a list [low, high]",
        )
        _check_keys(opts, ["step", "log"], key)
        if kind == "int":
            return Int(bounds[0], bounds[1], step=opts.get("step", 1), log=opts.get("log", False))
        return Float(bounds[0], bounds[1], step=opts.get("step"), log=opts.get("log", False))
    except ConfigError:
        raise
    except RaynasError as e:
        raise ConfigError(f"`{key}`: {e}") from e


@dataclass
class SearchConfig:
    """A validated search config; :meth:`to_search_kwargs` feeds :func:`raynas.search`."""

    space: tuple[str, dict[str, Any]]
    data: tuple[str, dict[str, Any]] = ("digits", {})
    objectives: list[Objective] = field(default_factory=lambda: [Objective("val_acc", "max")])
    strategy: tuple[str, dict[str, Any]] = ("random", {})
    scheduler: tuple[str, dict[str, Any]] | None = None
    hardware: list[dict[str, Any]] = field(default_factory=list)
    budget: int = 20
    training: dict[str, Any] = field(default_factory=dict)
    resources_per_trial: dict[str, float] = field(default_factory=lambda: {"cpu": 1.0})
    max_concurrent: int | None = None
    storage_path: str | None = None
    name: str | None = None
    seed: int = 0
    max_failures: int = 1
    verbose: int = 1
    points_to_evaluate: list[dict[str, Any]] | None = None
    warm_start: str | None = None
    reuse_actors: bool = True
    raw: dict[str, Any] = field(default_factory=dict)

    def to_search_kwargs(self) -> dict[str, Any]:
        return {
            "space": self.space[0],
            "space_kwargs": self.space[1],
            "data": self.data[0],
            "data_kwargs": self.data[1],
            "objectives": self.objectives,
            "strategy": self.strategy[0],
            "strategy_kwargs": self.strategy[1],
            "scheduler": None if self.scheduler is None else self.scheduler[0],
            "scheduler_kwargs": {} if self.scheduler is None else self.scheduler[1],
            "hardware": self.hardware,
            "budget": self.budget,
            **self.training,
            "resources_per_trial": self.resources_per_trial,
            "max_concurrent": self.max_concurrent,
            "storage_path": self.storage_path,
            "name": self.name,
            "seed": self.seed,
            "max_failures": self.max_failures,
            "verbose": self.verbose,
            "points_to_evaluate": self.points_to_evaluate,
            "warm_start": self.warm_start,
            "reuse_actors": self.reuse_actors,
        }


def _tables() -> dict[str, Mapping[str, Any]]:
    """The lazy name tables of datasets, strategies and schedulers (imported on demand)."""
    from raynas._registry import SCHEDULERS
    from raynas.data import DATAMODULES
    from raynas.strategies import STRATEGIES

    return {"data": DATAMODULES, "strategy": STRATEGIES, "scheduler": SCHEDULERS}


def validate_config(raw: Any, *, source: str = "config") -> SearchConfig:
    """Check a config mapping (from YAML or code) and return a :class:`SearchConfig`."""
    _need(isinstance(raw, Mapping), source, raw, "a mapping of keys to values")
    _check_keys(raw, TOP_KEYS, "")
    if "space" not in raw:
        raise ConfigError(
            f"`space` is missing; give one of {sorted(SPACES)} or 'module:attribute'."
        )
    tables = _tables()
    space_name, space_kwargs = _named(raw["space"], "space", SPACES)
    space_kwargs = {k: parse_domain(v, f"space.{k}") for k, v in space_kwargs.items()}
    data = _named(raw.get("data", "digits"), "data", tables["data"])
    strategy = _named(raw.get("strategy", "random"), "strategy", tables["strategy"])
    scheduler = None
    if raw.get("scheduler") not in (None, "none", "fifo"):
        scheduler = _named(raw["scheduler"], "scheduler", tables["scheduler"])

    objectives: list[Objective] = []
    specs = raw.get("objectives", ["val_acc:max"])
    _need(
        isinstance(specs, list) and len(specs) > 0,
        "objectives",
        specs,
        "a non-empty list such as [val_acc:max, latency_p50_ms:min]",
    )
    for i, s in enumerate(specs):
        try:
            objectives.append(Objective.parse(s))
        except ObjectiveError as e:
            raise ConfigError(f"`objectives[{i}]`: {e}") from e
    constraints = raw.get("constraints", [])
    _need(
        isinstance(constraints, list),
        "constraints",
        constraints,
        "a list such as ['latency_p50_ms <= 5']",
    )
    for i, c in enumerate(constraints):
        try:
            parsed = Objective.parse(c)
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
    names = [o.name for o in objectives]
    _need(len(set(names)) == len(names), "objectives", names, "a list of distinct metric names")

    hardware = raw.get("hardware", [])
    if isinstance(hardware, Mapping):
        hardware = [hardware]
    _need(
        isinstance(hardware, list),
        "hardware",
        hardware,
        "a list of targets ({name, provider, threads, ...})",
    )
    for i, h in enumerate(hardware):
        _need(
            isinstance(h, Mapping) and isinstance(h.get("name"), str),
            f"hardware[{i}]",
            h,
            "a mapping with at least a `name`",
        )

    budget = raw.get("budget", 20)
    _need(
        isinstance(budget, int) and not isinstance(budget, bool) and budget >= 1,
        "budget",
        budget,
        "an int >= 1 (the number of candidates)",
    )
    training = dict(raw.get("training", {}) or {})
    _need(
        isinstance(raw.get("training", {}) or {}, Mapping),
        "training",
        raw.get("training"),
        f"a mapping with keys among {list(TRAINING_KEYS)}",
    )
    _check_keys(training, TRAINING_KEYS, "training")
    if "max_epochs" in training:
        v = training["max_epochs"]
        _need(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1,
            "training.max_epochs",
            v,
            "an int >= 1",
        )
    if "train_fraction" in training:
        v = training["train_fraction"]
        _need(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1,
            "training.train_fraction",
            v,
            "a number in (0, 1]",
        )
    if training.get("time_budget_s") is not None:
        v = training["time_budget_s"]
        _need(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 and math.isfinite(v),
            "training.time_budget_s",
            v,
            "a positive number of seconds",
        )

    resources = dict(raw.get("resources_per_trial", {"cpu": 1}) or {})
    _check_keys(resources, RESOURCE_KEYS, "resources_per_trial")
    for k, v in resources.items():
        _need(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
            f"resources_per_trial.{k}",
            v,
            "a number >= 0",
        )
    resources = {k: float(v) for k, v in resources.items()}

    max_concurrent = raw.get("max_concurrent")
    if max_concurrent is not None:
        _need(
            isinstance(max_concurrent, int)
            and not isinstance(max_concurrent, bool)
            and max_concurrent >= 1,
            "max_concurrent",
            max_concurrent,
            "an int >= 1 or null",
        )
    seed = raw.get("seed", 0)
    _need(
        isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0,
        "seed",
        seed,
        "an int >= 0",
    )
    name = raw.get("name")
    _need(
        name is None or (isinstance(name, str) and bool(name) and os.sep not in name),
        "name",
        name,
        "a folder name without path separators",
    )
    storage = raw.get("storage_path")
    _need(storage is None or isinstance(storage, str), "storage_path", storage, "a folder path")
    max_failures = raw.get("max_failures", 1)
    _need(
        isinstance(max_failures, int) and not isinstance(max_failures, bool) and max_failures >= 0,
        "max_failures",
        max_failures,
        "an int >= 0",
    )
    verbose = raw.get("verbose", 1)
    _need(verbose in (0, 1, 2, 3), "verbose", verbose, "one of [0, 1, 2, 3]")
    points = raw.get("points_to_evaluate")
    _need(
        points is None
        or (isinstance(points, list) and all(isinstance(p, Mapping) for p in points)),
        "points_to_evaluate",
        points,
        "a list of configs of the space (mappings of decision to value; checked against the "
        "space when it is built)",
    )
    warm = raw.get("warm_start")
    _need(
        warm is None or (isinstance(warm, str) and bool(warm)),
        "warm_start",
        warm,
        "the folder of an earlier raynas search over the same space",
    )
    reuse = raw.get("reuse_actors", True)
    _need(isinstance(reuse, bool), "reuse_actors", reuse, "true or false")
    return SearchConfig(
        space=(space_name, space_kwargs),
        data=data,
        objectives=objectives,
        strategy=strategy,
        scheduler=scheduler,
        hardware=[dict(h) for h in hardware],
        budget=budget,
        training=training,
        resources_per_trial=resources,
        max_concurrent=max_concurrent,
        storage_path=None if storage is None else os.path.abspath(os.path.expanduser(storage)),
        name=name,
        seed=seed,
        max_failures=max_failures,
        verbose=verbose,
        points_to_evaluate=None if points is None else [dict(p) for p in points],
        warm_start=None if warm is None else os.path.abspath(os.path.expanduser(warm)),
        reuse_actors=reuse,
        raw=dict(raw),
    )


def load_config(path: str) -> SearchConfig:
    """Read a YAML file with ``yaml.safe_load`` and validate it."""
    import yaml

    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist.")
    with open(path) as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if raw is None:
        raise ConfigError(f"{path}: the config file is empty.")
    return validate_config(raw, source=path)
