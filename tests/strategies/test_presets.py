"""Presets: the measured setting a strategy built by name starts from (raynas.strategies.preset)."""

from __future__ import annotations

import pytest

from raynas.search_spaces import NB201CellSpace
from raynas.strategies import (
    PRESETS,
    STRATEGIES,
    Acquisition,
    Focus,
    Neighbourhood,
    Pool,
    PredictorGuided,
    StrategyError,
    Surrogate,
    get_strategy,
    preset,
)
from raynas.strategies._presets import FOCUS_WITHOUT_NUM_SAMPLES, predictor_preset
from raynas.testing import small_space, synthetic_metrics

SO = ["score:max"]
MO = ["score:max", "cost:min"]


def nb201():
    return NB201CellSpace(input_shape=(3, 8, 8), num_classes=10)


def settings(s: PredictorGuided) -> dict:
    """What the preset decides, as the strategy holds it."""
    return {
        "surrogate": s.surrogate,
        "acquisition": s.acquisition,
        "local": s.local,
        "pool": s.pool,
        "focus": s.focus,
        "sandwich": s.sandwich,
    }


def drive(s, space, n):
    asked = []
    for _ in range(n):
        c = s.ask()
        s.tell(c, synthetic_metrics(space, c))
        asked.append(space.key(c))
    return asked


def test_every_preset_names_a_strategy():
    assert set(PRESETS) <= set(STRATEGIES)
    assert preset("random", small_space()) == {}


@pytest.mark.parametrize("objectives", [SO, MO], ids=["single", "multi"])
def test_the_preset_for_a_space_with_function_paths(objectives):
    space = nb201()
    s = get_strategy("predictor", space=space, objectives=objectives, seed=0, num_samples=300)
    assert settings(s) == {
        "surrogate": {0: Surrogate(regressor="trees", inputs="function_paths")},
        "acquisition": Acquisition(multi_objective="pfront"),
        "local": Neighbourhood(twins=0.25),
        "pool": Pool(),
        "focus": Focus(first=100, num_climbs=10),
        "sandwich": "smallest",
    }
    # accuracy by extra trees on what a cell computes, any other objective by ridge on features
    assert type(s._new_model(0, 0)).__name__ == "ExtraTreesRegressor"
    if objectives == MO:
        assert type(s._new_model(1, 0)).__name__ == "Ridge"
        assert s._focus_search() is not None  # the phases run with several objectives only
    else:
        assert s._focus_search() is None


@pytest.mark.parametrize("objectives", [SO, MO], ids=["single", "multi"])
def test_the_preset_for_a_space_without_function_paths(objectives):
    space = small_space()
    s = get_strategy("predictor", space=space, objectives=objectives, seed=0)
    assert s.surrogate == Surrogate()  # ridge on space.features
    assert s.focus == Focus(first=FOCUS_WITHOUT_NUM_SAMPLES, num_climbs=10)
    assert s.sandwich == "smallest" and s.acquisition == Acquisition(multi_objective="pfront")


def test_the_focus_phase_is_a_third_of_the_trials():
    assert predictor_preset(small_space(), 90)["focus"] == Focus(first=30, num_climbs=10)
    assert predictor_preset(small_space())["focus"].first == FOCUS_WITHOUT_NUM_SAMPLES


def test_the_focus_search_climbs_but_the_single_objective_search_does_not():
    space = small_space()
    s = get_strategy("predictor", space=space, objectives=MO, seed=0, num_samples=30)
    drive(s, space, 2)
    assert s._focus is not None and s._focus.num_climbs == 10
    assert get_strategy("predictor", space=space, objectives=SO, seed=0).pool.num_climbs == 0


def test_explicit_arguments_override_the_preset():
    space = nb201()
    s = get_strategy("predictor", space=space, objectives=MO, surrogate=Surrogate(), local={})
    assert s.surrogate == Surrogate() and s.local == Neighbourhood()
    assert s.focus == Focus(first=100, num_climbs=10)  # the rest of the preset stays
    bare = get_strategy("predictor", space=space, objectives=MO, preset=None)
    assert settings(bare) == settings(PredictorGuided(space, objectives=MO))
    # a class is built with its own defaults: presets go with names
    assert settings(get_strategy(PredictorGuided, space=space)) == settings(bare)


def test_a_name_builds_the_same_search_as_the_preset_passed_by_hand():
    space = small_space()
    by_name = get_strategy("predictor", space=space, objectives=MO, seed=3, num_samples=12)
    by_hand = PredictorGuided(space, objectives=MO, seed=3, **predictor_preset(space, 12))
    assert drive(by_name, space, 16) == drive(by_hand, space, 16)


def test_the_tune_adapter_and_the_front_door_build_the_same_strategy():
    from raynas.tune import Searcher

    space = nb201()
    searcher = Searcher("predictor", space=space, metric=["score", "cost"], mode=["max", "min"])
    # how raynas.search and the YAML build it: get_strategy(name, space, objectives, seed, ...)
    door = get_strategy("predictor", space=space, objectives=MO, seed=None)
    assert settings(searcher.strategy) == settings(door)
    # the adapter learns its objectives late; the preset does not depend on them
    late = Searcher("predictor", space=space, seed=0)
    late.set_search_properties("score", "max", {})
    assert settings(late.strategy) == settings(door)


def test_bad_preset_arguments_are_refused():
    with pytest.raises(
        StrategyError, match=r"`preset` must be one of \['measured', None\].*'fast'"
    ):
        get_strategy("predictor", space=small_space(), preset="fast")
    with pytest.raises(StrategyError, match=r"`num_samples` must be an int >= 1 or None.*0"):
        get_strategy("predictor", space=small_space(), num_samples=0)
    with pytest.raises(StrategyError, match=r"`num_samples` must be an int >= 1 or None.*True"):
        predictor_preset(small_space(), True)
