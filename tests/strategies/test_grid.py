"""GridSearch proposes every config of the space's grid once, in order, and keeps its place."""

from __future__ import annotations

import json

import pytest

from raynas.search_spaces import Choice, Float, Int, Repeat, SearchSpace, Struct, When
from raynas.strategies import GridSearch, get_strategy
from raynas.strategies.base import SearchExhausted, StrategyError


def space() -> SearchSpace:
    return SearchSpace(
        {
            "layers": Int(1, 2),
            "units_2": When("layers", [2], Choice([8, 16])),
            "lr": Float(1e-3, 1e-1, log=True),
        }
    )


def test_every_combination_once_then_exhausted() -> None:
    s = GridSearch(space(), objectives=["acc"], continuous_points=2)
    assert s.size == (1 + 2) * 2  # units_2 only under layers=2
    seen = []
    for _ in range(s.size):
        config = s.ask()
        seen.append(json.dumps(config, sort_keys=True))
        s.tell(config, {"acc": 0.5})
    assert len(set(seen)) == s.size
    assert {json.loads(c)["layers"] for c in seen} == {1, 2}
    lrs = sorted({round(json.loads(c)["lr"], 6) for c in seen})
    assert lrs == [round(1e-3 * 100**0.25, 6), round(1e-3 * 100**0.75, 6)]  # quantiles, log
    with pytest.raises(SearchExhausted, match="every config of the grid"):
        s.ask()


def test_the_first_decision_varies_slowest_and_steps_make_floats_finite() -> None:
    s = GridSearch(SearchSpace({"a": Choice(["x", "y"]), "b": Float(0.0, 1.0, step=0.5)}))
    assert [tuple(s.ask().values()) for _ in range(6)] == [
        ("x", 0.0),
        ("x", 0.5),
        ("x", 1.0),
        ("y", 0.0),
        ("y", 0.5),
        ("y", 1.0),
    ]


def test_the_place_in_the_grid_survives_the_state_and_told_configs_are_skipped() -> None:
    s = GridSearch(space(), objectives=["acc"], continuous_points=2)
    first = s.ask()
    s.tell(first, {"acc": 1.0})
    restored = GridSearch(space(), objectives=["acc"], continuous_points=2)
    restored.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert restored.ask() == s.ask()
    other = GridSearch(space(), objectives=["acc"], continuous_points=2)
    grid = [other.ask() for _ in range(other.size)]
    fresh = GridSearch(space(), objectives=["acc"], continuous_points=2)
    fresh.tell(grid[0], {"acc": 0.1})  # a foreign result is never proposed again
    assert fresh.ask() == grid[1]


def test_by_name_and_refusals() -> None:
    assert type(get_strategy("grid", space=space(), seed=0)).__name__ == "GridSearch"
    with pytest.raises(StrategyError, match=r"`units`.*too many values"):
        GridSearch(SearchSpace({"units": Int(1, 10_000)}))
    with pytest.raises(StrategyError, match=r"cannot enumerate `blocks`, a variable-length"):
        GridSearch(SearchSpace({"blocks": Repeat(Struct({"k": Choice([3, 5])}), 1, 2)}))
    with pytest.raises(StrategyError, match=r"more than `max_configs` = 3"):
        GridSearch(SearchSpace({"a": Int(1, 4)}), max_configs=3)
    with pytest.raises(StrategyError, match=r"`continuous_points` must be an int >= 1"):
        GridSearch(space(), continuous_points=0)
