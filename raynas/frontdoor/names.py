"""The front door's name tables and grammars: spaces, Tune callbacks, YAML domain shorthand,
``module:attribute``, and the error every door raises for bad input.

The strategy, scheduler and dataset tables live with what they build
(:data:`raynas.strategies.STRATEGIES`, :data:`raynas._registry.SCHEDULERS`,
:data:`raynas.data.DATAMODULES`); this module only reads them, lazily.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from raynas.search_spaces.errors import RaynasError

#: Built-in spaces by name.
SPACES: dict[str, str] = {
    "mlp": "raynas.search_spaces:MLPSpace",
    "nb201": "raynas.search_spaces:NB201CellSpace",
    "mobile": "raynas.search_spaces:MobileBlockSpace",
    "transformer": "raynas.search_spaces:TransformerSpace",
}

#: Tune callbacks by short name (``callbacks: [tensorboard]`` in the YAML).
CALLBACKS: dict[str, str] = {
    "tensorboard": "ray.tune.logger:TBXLoggerCallback",
    "csv": "ray.tune.logger:CSVLoggerCallback",
    "json": "ray.tune.logger:JsonLoggerCallback",
    "mlflow": "ray.air.integrations.mlflow:MLflowLoggerCallback",
    "wandb": "ray.air.integrations.wandb:WandbLoggerCallback",
}


class ConfigError(RaynasError, ValueError):
    """A search option (keyword argument, YAML key, CLI flag) is invalid."""


def strategies_table() -> Mapping[str, Any]:
    from raynas.strategies import STRATEGIES

    return STRATEGIES


def schedulers_table() -> Mapping[str, Any]:
    from raynas._registry import SCHEDULERS

    return {"fifo": None, **SCHEDULERS}


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


def parse_domain(value: Any, key: str) -> Any:
    """YAML shorthand for domains: ``{int: [lo, hi], step: s, log: b}``, ``{float: [lo, hi],
    log: b}``, ``{choice: [...]}``; anything else is returned as it is (lists stay lists:
    spaces read them as choices)."""
    if not isinstance(value, Mapping) or not ({"int", "float", "choice"} & set(value)):
        return value
    from raynas.search_spaces import Choice, Float, Int

    kinds = [k for k in ("int", "float", "choice") if k in value]
    _need(
        len(kinds) == 1,
        key,
        dict(value),
        "one of {int: [lo, hi]}, {float: [lo, hi]}, {choice: [...]}",
    )
    kind = kinds[0]
    opts = {k: v for k, v in value.items() if k != kind}
    allowed = [] if kind == "choice" else ["step", "log"]
    for k in opts:
        if k not in allowed:
            raise ConfigError(f"`{key}.{k}` is not a known key; the keys of `{key}` are {allowed}.")
    try:
        if kind == "choice":
            return Choice(list(value["choice"]))
        bounds = value[kind]
        _need(
            isinstance(bounds, (list, tuple)) and len(bounds) == 2,
            f"{key}.{kind}",
            bounds,
            "a list [low, high]",
        )
        if kind == "int":
            return Int(bounds[0], bounds[1], step=opts.get("step", 1), log=opts.get("log", False))
        return Float(bounds[0], bounds[1], step=opts.get("step"), log=opts.get("log", False))
    except ConfigError:
        raise
    except RaynasError as e:
        raise ConfigError(f"`{key}`: {e}") from e


def build_callback(spec: Any, key: str) -> Any:
    """A Tune callback from an object, a short name, ``module:attribute`` or ``{name, **kw}``."""
    kwargs: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        _need("name" in spec, key, dict(spec), "a mapping with a `name` key")
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        spec = spec["name"]
    if isinstance(spec, str):
        if spec not in CALLBACKS and ":" not in spec:
            raise ConfigError(
                f"`{key}` must be one of {sorted(CALLBACKS)}, 'module:attribute' or a Tune "
                f"Callback, but got {spec!r}."
            )
        factory = load_object(CALLBACKS.get(spec, spec), key)
        try:
            spec = factory(**kwargs)
        except (TypeError, ValueError, ImportError) as e:
            raise ConfigError(f"`{key}` = {spec!r}: {e}") from e
    elif kwargs:
        raise ConfigError(f"`{key}`: arguments go with a callback given by name, not an object.")
    from ray.tune import Callback

    if not isinstance(spec, Callback):
        raise ConfigError(
            f"`{key}` must be a ray.tune.Callback (or a name of one), but got "
            f"{type(spec).__name__}: {spec!r}."
        )
    return spec
