"""The measured settings a strategy built by name starts from (:func:`preset`).

``get_strategy("predictor", ...)`` (and so ``raynas.search(..., strategy="predictor")``, the
YAML and the Tune adapter, which all build strategies through it) takes the setting behind
the figures of ``benchmarks/README.md``, not the bare constructor defaults; the benchmark
scripts read their settings from here. Explicit arguments override a preset's, and
``preset=None`` builds the constructor's defaults.

One preset per strategy, a function ``(space, num_samples) -> constructor arguments``. Every
argument in it is inert where it does not apply (the multi-objective phases with one
objective), so a preset does not depend on the objectives, which the Tune adapter learns only
later, from ``metric`` and ``mode``; per-objective settings name the objective by position (0:
the first objective, the quality one of a hardware-aware search).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raynas.search_spaces import SearchSpace
from raynas.strategies._phases import Focus
from raynas.strategies._predictor_parts import Acquisition, Neighbourhood, Surrogate
from raynas.strategies.base import StrategyError

#: The focus phase when the search's number of trials is unknown: a third of the 300 trials
#: of the multi-objective benchmark it was measured on.
FOCUS_WITHOUT_NUM_SAMPLES = 100


def predictor_preset(space: SearchSpace, num_samples: int | None = None) -> dict[str, Any]:
    """``PredictorGuided``'s measured setting for ``space`` (a search of ``num_samples`` trials).

    * The first objective (accuracy) is modelled by extra trees on what a network computes,
      where the space says (a callable ``space.function_paths``, as
      :class:`~raynas.search_spaces.NB201CellSpace` has); other objectives, and every objective
      of a space without it, by ridge regression on ``space.features``.
    * With several objectives: a focus phase on the first objective for a third of the trials
      (:data:`FOCUS_WITHOUT_NUM_SAMPLES` when ``num_samples`` is unknown) with 10 greedy climbs
      in its pool, then the space's smallest config (``sandwich="smallest"``), then a Pareto
      local search ranked by the probability of lying on the joint front (``"pfront"``),
      a quarter of its steps also ranking the unseen equivalents (``twins=0.25``).

    On NAS-Bench-201 (``benchmarks/search_efficiency.py``, 30 seeds) this setting finds the
    CIFAR-10 optimum in 100 queries (single objective) and 32.6% of the true accuracy / Pixel 3
    latency front at a hypervolume ratio of 0.9977 in 300 queries.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> predictor_preset(SearchSpace({"op": Choice(["a", "b"])}), num_samples=90)["focus"]
        Focus(first=30, num_climbs=10)
    """
    check_num_samples(num_samples)
    out: dict[str, Any] = {}
    if callable(getattr(space, "function_paths", None)):
        out["surrogate"] = {0: Surrogate(regressor="trees", inputs="function_paths")}
    first = FOCUS_WITHOUT_NUM_SAMPLES if num_samples is None else num_samples // 3
    out.update(
        acquisition=Acquisition(multi_objective="pfront"),
        local=Neighbourhood(twins=0.25),
        focus=Focus(first=first, num_climbs=10),
        sandwich="smallest",
    )
    return out


#: Strategy name -> its preset, for the names of :data:`raynas.strategies.STRATEGIES` that
#: have one (the others' constructor defaults are their measured setting).
PRESETS: dict[str, Callable[[SearchSpace, int | None], dict[str, Any]]] = {
    "predictor": predictor_preset,
}
#: Values of ``get_strategy(preset=...)``.
PRESET_CHOICES = ("measured", None)


def check_num_samples(num_samples: Any) -> None:
    """Raise :class:`StrategyError` unless ``num_samples`` is an int >= 1 or None."""
    if num_samples is not None and (
        isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1
    ):
        raise StrategyError(f"`num_samples` must be an int >= 1 or None, but got {num_samples!r}.")


def preset(name: str, space: SearchSpace, num_samples: int | None = None) -> dict[str, Any]:
    """The constructor arguments of strategy ``name``'s measured setting for ``space`` ({} for a
    strategy whose constructor defaults are its measured setting).

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> preset("random", SearchSpace({"op": Choice(["a", "b"])}))
        {}
    """
    fn = PRESETS.get(name.lower())
    return {} if fn is None else fn(space, num_samples)
