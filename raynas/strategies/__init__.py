"""Search strategies as ask/tell cores: no Ray, no torch.

Every strategy subclasses :class:`Strategy` (``ask() -> config``, ``tell(config, metrics)``,
``state_dict()``/``load_state_dict()``). :func:`get_strategy` builds one by name; the Tune
adapter :class:`raynas.tune.Searcher` wraps any of them.

| name | class | objectives |
| --- | --- | --- |
| ``"random"`` | :class:`RandomSearch` | any |
| ``"evolution"`` | :class:`RegularizedEvolution` | one (+ constraints) |
| ``"nsga2"`` | :class:`MultiObjectiveEvolution` | several, with constraints |
| ``"tpe"`` | :class:`TPE` (hyperopt) | one (+ constraints) |
| ``"reinforce"`` | :class:`ReinforceController` | one (+ constraints) |
| ``"predictor"`` | :class:`PredictorGuided` (BANANAS-style) | one or several |
| ``"grid"`` | :class:`GridSearch` (every combination, in order) | any |

A strategy built by name starts from its measured setting (:func:`preset`: for ``"predictor"``
the one behind ``benchmarks/README.md``'s figures, chosen by what the space offers); explicit
arguments override it, and ``preset=None`` builds the constructor's defaults.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from raynas.search_spaces import SearchSpace
from raynas.strategies._phases import Focus
from raynas.strategies._predictor_parts import (
    Acquisition,
    Crossover,
    Neighbourhood,
    Pool,
    Restarts,
    Surrogate,
)
from raynas.strategies._presets import PRESET_CHOICES, PRESETS, check_num_samples, preset
from raynas.strategies._presets import preset as _preset
from raynas.strategies.base import (
    Observation,
    SearchExhausted,
    Strategy,
    StrategyError,
)

#: Strategy names accepted by :func:`get_strategy`: name -> (module, class).
STRATEGIES: dict[str, tuple[str, str]] = {
    "random": ("raynas.strategies._random", "RandomSearch"),
    "evolution": ("raynas.strategies._evolution", "RegularizedEvolution"),
    "nsga2": ("raynas.strategies._nsga2", "MultiObjectiveEvolution"),
    "tpe": ("raynas.strategies._tpe", "TPE"),
    "reinforce": ("raynas.strategies._reinforce", "ReinforceController"),
    "predictor": ("raynas.strategies._predictor", "PredictorGuided"),
    "grid": ("raynas.strategies._grid", "GridSearch"),
}

_CLASSES = {cls: module for module, cls in STRATEGIES.values()}

__all__ = [
    "STRATEGIES",
    "GridSearch",
    "MultiObjectiveEvolution",
    "Observation",
    "PredictorGuided",
    "RandomSearch",
    "RegularizedEvolution",
    "ReinforceController",
    "SearchExhausted",
    "Strategy",
    "StrategyError",
    "TPE",
    "Acquisition",
    "Crossover",
    "Focus",
    "Neighbourhood",
    "Pool",
    "Restarts",
    "Surrogate",
    "PRESETS",
    "get_strategy",
    "preset",
    "strategy_class",
]


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under ``name`` (imported on first use).

    Raises:
        StrategyError: ``name`` is not a registered strategy.
    """
    if not isinstance(name, str) or name.lower() not in STRATEGIES:
        raise StrategyError(
            f"The `strategy` argument must be one of {sorted(STRATEGIES)}. Got: {name}"
        )
    module, cls = STRATEGIES[name.lower()]
    return getattr(importlib.import_module(module), cls)


def get_strategy(
    name: str | type[Strategy] | Strategy,
    *,
    space: SearchSpace,
    preset: str | None = "measured",
    num_samples: int | None = None,
    **kwargs: Any,
) -> Strategy:
    """Build a strategy by name, e.g. ``get_strategy("evolution", space=s, seed=0)``.

    A name starts from the strategy's measured setting (:func:`raynas.strategies.preset`),
    which ``kwargs`` override. A :class:`Strategy` subclass is built with ``kwargs`` alone; an
    instance is returned as is (then ``kwargs`` must be empty).

    Args:
        name: a name of :data:`STRATEGIES`, a :class:`Strategy` subclass or an instance.
        space: the search space.
        preset: ``"measured"`` (default): a name starts from its measured setting; ``None``:
            from the constructor's defaults.
        num_samples: the number of trials of the search, where known: presets scale their
            phases to it (``"predictor"``'s focus phase is a third of it).
        **kwargs: the strategy's constructor arguments (``objectives``, ``seed``, ...).

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> s = get_strategy("random", space=SearchSpace({"op": Choice(["a", "b"])}), seed=0)
        >>> type(s).__name__
        'RandomSearch'
    """
    check_num_samples(num_samples)
    if preset not in PRESET_CHOICES:
        raise StrategyError(f"`preset` must be one of {list(PRESET_CHOICES)}, but got {preset!r}.")
    if isinstance(name, Strategy):
        if kwargs:
            raise StrategyError(
                f"`strategy` is already built ({type(name).__name__}); it takes no further "
                f"arguments, but got {sorted(kwargs)}."
            )
        return name
    cls = name if isinstance(name, type) and issubclass(name, Strategy) else strategy_class(name)
    allowed = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise StrategyError(
            f"`{unknown[0]}` is not an argument of {cls.__name__}; its arguments are {allowed}."
        )
    if isinstance(name, str) and preset is not None:
        kwargs = {**_preset(name, space, num_samples), **kwargs}  # explicit arguments win
    return cls(space, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
