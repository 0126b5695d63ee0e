"""Checks of the options that reach the engine's other paths (data-parallel candidates, latency
screening), declared in :class:`~raynas.frontdoor.options.SearchOptions` and checked here for
names, types and ranges when the options are built (nothing imports Ray or torch).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from raynas.frontdoor.names import ConfigError

#: Keys of ``latency_screening`` (see :mod:`raynas.frontdoor.screening`).
SCREENING_KEYS = ("metric", "min_measurements", "estimator", "z", "max_skips")
#: Keys of ``data_parallel`` (the :class:`~raynas.evaluation.DataParallelTrainable` arguments).
DATA_PARALLEL_KEYS = ("num_workers", "cpus_per_worker", "use_gpu", "driver_cpus", "worker_retries")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _count(v: Any, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def refuse_keys(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> None:
    """Refuse a key of the option ``key`` that is not in ``allowed``, naming the closest."""
    for k in raw:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), allowed, n=1)
            hint = f" (did you mean `{key}.{close[0]}`?)" if close else ""
            raise ConfigError(
                f"`{key}.{k}` is not a known key{hint}; the keys of `{key}` are {list(allowed)}."
            )


def check_data_parallel(dp: Any, resources: Mapping[str, float]) -> dict[str, Any] | None:
    """``data_parallel`` as DataParallelTrainable's arguments; each worker gets
    ``resources_per_trial`` (its CPUs, and one whole GPU where it asks for a GPU) unless the
    mapping says otherwise."""
    if dp is None:
        return None
    if _count(dp, 1):
        dp = {"num_workers": dp}
    if not isinstance(dp, Mapping):
        raise ConfigError(
            f"`data_parallel` must be a number of workers or a mapping with keys among "
            f"{list(DATA_PARALLEL_KEYS)}, but got {dp!r}."
        )
    refuse_keys(dp, "data_parallel", DATA_PARALLEL_KEYS)
    custom = sorted(k for k, v in resources.items() if k not in ("cpu", "gpu") and v)
    if custom:
        raise ConfigError(
            f"`data_parallel` workers take CPUs and GPUs only, but `resources_per_trial` asks "
            f"for {custom}."
        )
    gpu = resources.get("gpu", 0.0)
    out = {
        "num_workers": 2,
        "cpus_per_worker": resources.get("cpu", 1.0),
        "use_gpu": gpu > 0,
        "driver_cpus": 0.1,
        "worker_retries": 0,
        **dp,
    }
    rules = {
        "num_workers": (_count(out["num_workers"], 1), "an int >= 1"),
        "cpus_per_worker": (
            _number(out["cpus_per_worker"]) and out["cpus_per_worker"] >= 0,
            "a number >= 0 (> 0 for CPU workers)",
        ),
        "use_gpu": (isinstance(out["use_gpu"], bool), "true or false"),
        "driver_cpus": (
            _number(out["driver_cpus"]) and out["driver_cpus"] > 0,
            "a number > 0 (the trial's driver while the workers train; 0.1 is enough)",
        ),
        "worker_retries": (_count(out["worker_retries"], 0), "an int >= 0"),
    }
    for k, (ok, allowed) in rules.items():
        if not ok:
            raise ConfigError(f"`data_parallel.{k}` must be {allowed}, but got {out[k]!r}.")
    if not out["use_gpu"] and out["cpus_per_worker"] == 0:
        raise ConfigError("`data_parallel.cpus_per_worker` must be > 0 for CPU workers.")
    if out["use_gpu"] and gpu not in (0.0, 1.0):
        raise ConfigError(
            f"`data_parallel` gives each worker one whole GPU, but `resources_per_trial.gpu` is "
            f"{gpu!r}; set it to 1 (or leave it out and set `data_parallel.use_gpu`)."
        )
    out["cpus_per_worker"] = float(out["cpus_per_worker"])
    out["driver_cpus"] = float(out["driver_cpus"])
    return out


def check_screening(raw: Any, objectives: Sequence[Any]) -> dict[str, Any] | None:
    """``latency_screening`` (``True`` or a mapping of :data:`SCREENING_KEYS`) with the bound
    taken from the constrained latency objective it names (default: the first one)."""
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"`latency_screening` must be true or a mapping with keys among "
            f"{list(SCREENING_KEYS)}, but got {raw!r}."
        )
    refuse_keys(raw, "latency_screening", SCREENING_KEYS)
    bounded = [o for o in objectives if "latency_" in o.name and o.constraint is not None]
    names = [o.name for o in bounded]
    metric = raw.get("metric", names[0] if names else None)
    if metric not in names:
        raise ConfigError(
            f"`latency_screening` screens against a latency bound, but "
            f"`latency_screening.metric` = {metric!r} is not a bounded latency objective; the "
            f"bounded ones are {names} (add one with constraints=['latency_p50_ms <= 5'])."
        )
    (objective,) = [o for o in bounded if o.name == metric]
    out = {
        "metric": metric,
        "op": objective.constraint[0],
        "bound": float(objective.constraint[1]),
        "min_measurements": raw.get("min_measurements", 8),
        "estimator": raw.get("estimator", "gp"),
        "z": raw.get("z", 1.0),
        "max_skips": raw.get("max_skips", 20),
    }
    for key, low in (("min_measurements", 2), ("max_skips", 1)):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(f"`latency_screening.{key}` must be an int >= {low}, but got {v!r}.")
    z = out["z"]
    if isinstance(z, bool) or not isinstance(z, (int, float)) or not math.isfinite(z) or z < 0:
        raise ConfigError(f"`latency_screening.z` must be a number >= 0, but got {z!r}.")
    from hardware._predictor import ESTIMATORS

    if out["estimator"] not in ESTIMATORS:
        raise ConfigError(
            f"`latency_screening.estimator` must be one of {list(ESTIMATORS)}, but got "
            f"{out['estimator']!r}."
        )
    return out
