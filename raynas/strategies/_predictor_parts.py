"""The parts a :class:`~raynas.strategies.PredictorGuided` search is built from.

Each part is a small frozen dataclass that checks itself when built, passed to the strategy as an
object (as Optuna passes ``NSGAIISampler`` its ``crossover``), or, from a YAML file, as a dict of
its fields:

| part | argument | decides |
| --- | --- | --- |
| :class:`Surrogate` | ``surrogate`` | how each objective is predicted: a regressor on some inputs |
| :class:`Acquisition` | ``acquisition`` | how predicted candidates are scored, with one and several objectives |
| :class:`Neighbourhood` | ``local`` | the local steps: one-decision neighbours (and equivalent twins) |
| :class:`Pool` | ``pool`` | the other candidates: mutations, :class:`Crossover`, random configs, climbs |
| :class:`Restarts` | ``restarts`` | when a stalled single-objective local search moves elsewhere |
| :class:`~raynas.strategies.Focus` | ``focus`` | a first phase on the first objective alone |
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from raynas.strategies._acquisition import ACQUISITIONS
from raynas.strategies.base import StrategyError

#: Built-in regressors of :class:`Surrogate` (see ``_predictor._make_regressor``).
REGRESSORS = ("ridge", "ridge2", "trees", "gbt", "mlp")
#: A regressor: a name of :data:`REGRESSORS` or a callable ``seed -> regressor``.
RegressorSpec = str | Callable[[int], Any]
#: Inputs of a regressor: the name of a method of the space or a callable ``config -> floats``.
InputSpec = str | Callable[[Mapping[str, Any]], Any]
#: Acquisitions with several objectives.
MULTI_OBJECTIVE = ("hvi", "parego", "pnd", "pfront", "eps")


def _int(owner: str, name: str, value: Any, low: int, none: bool = False) -> None:
    if none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        extra = " or None" if none else ""
        raise StrategyError(f"`{owner}.{name}` must be an int >= {low}{extra}, but got {value!r}.")


def _rate(owner: str, name: str, value: Any, none: bool = False) -> None:
    if none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        extra = " or None" if none else ""
        raise StrategyError(
            f"`{owner}.{name}` must be a number in [0, 1]{extra}, but got {value!r}."
        )


@dataclass(frozen=True)
class Surrogate:
    """How one objective is predicted: an ensemble of ``regressor`` on ``inputs``.

    Args:
        regressor: ``"ridge"``, ``"ridge2"`` (ridge on pairwise products), ``"trees"`` (extra
            trees), ``"gbt"`` (gradient boosting), ``"mlp"``, or a callable ``seed ->
            regressor`` with scikit-learn's ``fit``/``predict``.
        inputs: ``None`` for ``space.features(config)``, or the name of a method of the space
            that maps a config to floats (``"function_paths"`` of
            :class:`~raynas.search_spaces.NB201CellSpace`: what a cell computes), or such a
            callable. What a network computes decides its accuracy; what it runs, its latency.

    Example:
        >>> from raynas.strategies import PredictorGuided
        >>> from raynas.search_spaces import NB201CellSpace
        >>> space = NB201CellSpace(input_shape=(3, 8, 8), num_classes=10)
        >>> s = PredictorGuided(space, objectives=["acc", "latency:min"], surrogate={
        ...     "acc": Surrogate(regressor="trees", inputs="function_paths"),
        ...     "latency": Surrogate(regressor="ridge")})
    """

    regressor: RegressorSpec = "ridge"
    inputs: InputSpec | None = None

    def __post_init__(self) -> None:
        r = self.regressor
        if isinstance(r, str) and r not in REGRESSORS:
            raise StrategyError(
                f"`Surrogate.regressor` must be one of {list(REGRESSORS)} or a callable seed -> "
                f"regressor, but got {r!r}."
            )
        if not isinstance(r, str) and not callable(r):
            raise StrategyError(f"`Surrogate.regressor` must be a str or a callable, got {r!r}.")
        i = self.inputs
        if i is not None and not isinstance(i, str) and not callable(i):
            raise StrategyError(
                f"`Surrogate.inputs` must be None (space.features), the name of a method of the "
                f"space or a callable config -> list of floats, but got {i!r}."
            )


@dataclass(frozen=True)
class Acquisition:
    """How predicted candidates are scored.

    Args:
        kind: with one objective, ``"its"`` (independent Thompson sampling, BANANAS' choice),
            ``"ucb"`` (``mean - beta * std`` of the loss), ``"ei"`` (expected improvement) or
            ``"mean"``; with several it makes each candidate's losses optimistic for ``"hvi"``
            and ``"parego"``.
        beta: exploration weight of ``"ucb"``.
        multi_objective: with several objectives, ``"hvi"`` (predicted hypervolume improvement
            over the observed front), ``"parego"`` (a random Chebyshev scalarization per ask),
            ``"pnd"`` (probability that no observed config dominates the candidate),
            ``"pfront"`` (probability of lying on the front of the observed and the other
            candidates together, over joint draws of the predictions) or ``"eps"`` (two
            objectives: an epsilon-constraint walk along the observed front).

    Example:
        >>> Acquisition(kind="ucb", beta=2.0).multi_objective
        'hvi'
    """

    kind: str = "its"
    beta: float = 1.0
    multi_objective: str = "hvi"

    def __post_init__(self) -> None:
        if self.kind not in ACQUISITIONS:
            raise StrategyError(
                f"`Acquisition.kind` must be one of {list(ACQUISITIONS)}, but got {self.kind!r}."
            )
        b = self.beta
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 <= b < math.inf:
            raise StrategyError(f"`Acquisition.beta` must be a number >= 0, but got {b!r}.")
        if self.multi_objective not in MULTI_OBJECTIVE:
            raise StrategyError(
                f"`Acquisition.multi_objective` must be one of {list(MULTI_OBJECTIVE)}, but got "
                f"{self.multi_objective!r}."
            )


@dataclass(frozen=True)
class Neighbourhood:
    """The local steps: unseen one-decision neighbours ranked by their predicted mean.

    With one objective the neighbours of the incumbent (a predictor-ordered local search, which
    finishes off a good region quickly); with several, of every member of the observed front (a
    Pareto local search), plus with probability ``twins`` the unseen equivalents
    (``space.equivalents``: the same function at another cost, e.g. an isomorphic NAS-Bench-201
    cell with other dead operations) of the first two non-dominated ranks.

    Args:
        rate: probability that an ask takes a local step (else the :class:`Pool`); None: 0.5
            with one objective, 1.0 with several.
        twins: probability that a multi-objective local step also ranks the equivalents (True:
            1.0, False: 0.0).

    Example:
        >>> Neighbourhood(rate=0.8).twins
        0.0
    """

    rate: float | None = None
    twins: float = 0.0

    def __post_init__(self) -> None:
        _rate("Neighbourhood", "rate", self.rate, none=True)
        if isinstance(self.twins, bool):
            object.__setattr__(self, "twins", float(self.twins))
        _rate("Neighbourhood", "twins", self.twins)


@dataclass(frozen=True)
class Crossover:
    """Crossovers in the :class:`Pool`: children taking each decision from one of two parents.

    Args:
        num: crossovers per pool (0: none).
        parents: the best configs (with several objectives: by non-dominated rank, then
            crowding) the two distinct parents are drawn from.

    Example:
        >>> Crossover(num=50).parents
        10
    """

    num: int = 100
    parents: int = 10

    def __post_init__(self) -> None:
        _int("Crossover", "num", self.num, 0)
        _int("Crossover", "parents", self.parents, 2)


@dataclass(frozen=True)
class Pool:
    """The candidates of a step that is not a local one, ranked by the :class:`Acquisition`.

    Args:
        parents: best configs whose mutations (of one or two decisions) enter the pool.
        mutations_per_parent: mutations drawn from each of them.
        crossover: the pool's :class:`Crossover` (or a dict of its fields).
        num_random: random configs.
        num_climbs: greedy walks on the surrogate whose ends join the pool (with one objective):
            each starts at a random config and takes the one-decision change with the best
            predicted mean until none improves it (at most ``2 * decisions`` steps of ``8 *
            decisions`` predictions). They reach the surrogate's optima where the best config
            lies several decisions away from every good config seen.

    Example:
        >>> Pool(num_climbs=10, crossover=Crossover(num=0)).num_random
        100
    """

    parents: int = 5
    mutations_per_parent: int = 40
    crossover: Crossover = field(default_factory=Crossover)
    num_random: int = 100
    num_climbs: int = 0

    def __post_init__(self) -> None:
        _int("Pool", "parents", self.parents, 1)
        _int("Pool", "mutations_per_parent", self.mutations_per_parent, 0)
        _int("Pool", "num_random", self.num_random, 0)
        _int("Pool", "num_climbs", self.num_climbs, 0)
        object.__setattr__(self, "crossover", as_part("Pool.crossover", self.crossover, Crossover))


@dataclass(frozen=True)
class Restarts:
    """When a single-objective local search gives up on its region and restarts elsewhere.

    After ``patience`` results without improving on the region's best, the region (configs
    within ``radius`` changed decisions of its best) is abandoned and the next ask is the most
    promising random config far from every abandoned region.

    Args:
        patience: results without improvement before a restart.
        radius: changed decisions within which a config counts as near an abandoned region.

    Example:
        >>> Restarts(patience=40).radius
        2.0
    """

    patience: int = 20
    radius: float = 2.0

    def __post_init__(self) -> None:
        _int("Restarts", "patience", self.patience, 1)
        r = self.radius
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < math.inf:
            raise StrategyError(f"`Restarts.radius` must be a number >= 0, but got {r!r}.")
        object.__setattr__(self, "radius", float(r))


P = TypeVar("P")


def as_part(name: str, value: Any, cls: type[P]) -> P:
    """``value`` as a ``cls`` part: itself, or built from a dict of its fields (as a YAML file
    gives it)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise StrategyError(
                f"`{name}` has no field {unknown[0]!r}; the fields of {cls.__name__} are {fields}."
            )
        return cls(**value)
    raise StrategyError(
        f"`{name}` must be a {cls.__name__} or a dict of its fields, but got {value!r}."
    )


def as_surrogates(value: Any) -> Surrogate | dict[str | int, Surrogate]:
    """``surrogate`` as one :class:`Surrogate` for every objective, or a dict objective name
    (or position: 0 is the first) -> :class:`Surrogate` (others: ``Surrogate()``)."""
    if isinstance(value, Surrogate):
        return value
    if (
        isinstance(value, Mapping)
        and value
        and all(isinstance(v, (Surrogate, Mapping)) for v in value.values())
    ):
        bad = [k for k in value if isinstance(k, bool) or not isinstance(k, (str, int))]
        if bad:
            raise StrategyError(
                f"`surrogate` keys must be objective names or positions (0 for the first "
                f"objective), but got {bad[0]!r}."
            )
        return {k: as_part(f"surrogate[{k!r}]", v, Surrogate) for k, v in value.items()}
    if isinstance(value, Mapping) and value:
        return as_part("surrogate", value, Surrogate)
    raise StrategyError(
        f"`surrogate` must be a Surrogate (for every objective) or a dict objective name or "
        f"position -> Surrogate, but got {value!r}."
    )
