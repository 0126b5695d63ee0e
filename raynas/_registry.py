"""Lazy name tables for the front door: schedulers by name (strategies live in ``raynas.search``).

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
        return name
    if name not in SCHEDULERS:
        raise RegistryError(
            f"The `scheduler` argument must be one of {sorted(SCHEDULERS)}. Got: {name!r}."
        )
    first = objectives[0]
    if name == "asha":
        from ray.tune.schedulers import ASHAScheduler

        kwargs.setdefault("grace_period", 1)
        kwargs.setdefault("reduction_factor", 2)
        return ASHAScheduler(
            metric=first.name,
            mode=first.mode,
            time_attr="training_iteration",
            max_t=max_epochs,
            **kwargs,
        )
    if name == "hyperband":
        from ray.tune.schedulers import HyperBandScheduler

        return HyperBandScheduler(
            metric=first.name,
            mode=first.mode,
            time_attr="training_iteration",
            max_t=max_epochs,
            **kwargs,
        )
    if name == "moasha":
        from raynas.schedulers import MultiObjectiveASHA

        kwargs.setdefault("grace_period", 1)
        kwargs.setdefault("reduction_factor", 2)
        return MultiObjectiveASHA(
            objectives=list(objectives), time_attr="training_iteration", max_t=max_epochs, **kwargs
        )
    if name == "pbt":
        from raynas.schedulers import joint_pbt

        return joint_pbt(space, metric=first.name, mode=first.mode, **kwargs)
    from raynas.schedulers import ArchitecturePBT

    return ArchitecturePBT(space=space, metric=first.name, mode=first.mode, seed=seed, **kwargs)
