"""Lazy name tables for the front door: schedulers by name (strategies live in ``raynas.strategies``).

Nothing here imports Ray until a scheduler is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from raynas.objectives import Objective
from raynas.search_spaces.errors import RaynasError

#: Scheduler names and what they build. ``fifo`` runs every candidate to ``max_epochs``.
SCHEDULERS: dict[str, str] = {
    "fifo": "no early stopping",
    "asha": "ray.tune.schedulers:ASHAScheduler on the first objective",
    "hyperband": "ray.tune.schedulers:HyperBandScheduler on the first objective",
    "moasha": "raynas.schedulers:MultiObjectiveASHA over all objectives",
    "pbt": "ray.tune.schedulers:PopulationBasedTraining over the training hyperparameters",
    "architecture_pbt": "raynas.schedulers:ArchitecturePBT (mutates the architecture too)",
}


class RegistryError(RaynasError, ValueError):
    """An unknown name was given for a scheduler."""


def make_scheduler(
    name: str | Any,
    *,
    objectives: Sequence[Objective],
    max_epochs: int,
    space: Any = None,
    seed: int = 0,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Build a Tune scheduler from a name (or return a scheduler object as it is)."""
    kwargs = dict(kwargs or {})
    if name is None or name == "fifo":
        if kwargs:
            raise RegistryError(
                f"the `fifo` scheduler takes no arguments, but got {sorted(kwargs)}."
            )
        return None
    if not isinstance(name, str):
        if kwargs:
            raise RegistryError(
                f"`scheduler_kwargs` go to a scheduler built by name; `scheduler` is already "
                f"built ({type(name).__name__}), but got {sorted(kwargs)}."
            )
        return name
    if name not in SCHEDULERS:
        raise RegistryError(
            f"The `scheduler` argument must be one of {sorted(SCHEDULERS)}. Got: {name!r}."
        )
    try:
        return _build(name, objectives, max_epochs, space, seed, dict(kwargs))
    except RegistryError:
        raise
    except (TypeError, ValueError, AssertionError) as e:  # Ray's own checks are asserts
        if not kwargs:  # the search itself does not fit (its space, objectives or epochs)
            raise RegistryError(f"the {name!r} scheduler cannot run this search: {e}") from e
        import inspect

        factory, fixed = _factory(name)
        known = [
            k
            for k, p in inspect.signature(factory).parameters.items()
            if k not in fixed and k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        raise RegistryError(
            f"`scheduler_kwargs` {kwargs!r} do not fit the {name!r} scheduler: {e} (its "
            f"arguments are {known})."
        ) from e


def _factory(name: str) -> tuple[Any, tuple[str, ...]]:
    """What a scheduler name builds, and the arguments the front door sets itself."""
    if name == "asha":
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler, ("metric", "mode", "time_attr", "max_t")
    if name == "hyperband":
        from ray.tune.schedulers import HyperBandScheduler

        return HyperBandScheduler, ("metric", "mode", "time_attr", "max_t")
    if name == "moasha":
        from raynas.schedulers import MultiObjectiveASHA

        return MultiObjectiveASHA, ("objectives", "time_attr", "max_t")
    if name == "pbt":
        from raynas.schedulers import joint_pbt

        return joint_pbt, ("space", "metric", "mode")
    from raynas.schedulers import ArchitecturePBT

    return ArchitecturePBT, ("space", "metric", "mode", "seed")


def _build(
    name: str,
    objectives: Sequence[Objective],
    max_epochs: int,
    space: Any,
    seed: int,
    kwargs: dict[str, Any],
) -> Any:
    factory, _ = _factory(name)
    first = objectives[0]
    if name in ("asha", "moasha"):
        kwargs.setdefault("grace_period", 1)
        kwargs.setdefault("reduction_factor", 2)
    if name in ("asha", "hyperband"):
        return factory(
            metric=first.name,
            mode=first.mode,
            time_attr="training_iteration",
            max_t=max_epochs,
            **kwargs,
        )
    if name == "moasha":
        return factory(
            objectives=list(objectives), time_attr="training_iteration", max_t=max_epochs, **kwargs
        )
    if name == "pbt":
        return factory(space, metric=first.name, mode=first.mode, **kwargs)
    return factory(space=space, metric=first.name, mode=first.mode, seed=seed, **kwargs)
