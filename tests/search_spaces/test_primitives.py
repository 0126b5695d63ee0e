"""Space primitives: every verb on hand-built spaces with conditionals and repeats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raynas.search_spaces import (
    Boolean,
    Choice,
    Fixed,
    Float,
    Int,
    InvalidConfigError,
    Repeat,
    SearchSpace,
    SpaceDefinitionError,
    Struct,
    When,
)


def make_space() -> SearchSpace:
    """Conditionals (two levels), a variable repeat with nested structs, logs and steps."""
    return SearchSpace(
        {
            "num_layers": Int(1, 3),
            "units_0": Int(32, 512, step=32),
            "units_1": When("num_layers", [2, 3], Int(32, 512, step=32)),
            "units_2": When("num_layers", [3], Int(32, 512, step=32)),
            "optimizer": Choice(["adam", "sgd"]),
            "momentum": When("optimizer", ["sgd"], Float(0.0, 0.99)),
            "nesterov": When("optimizer", ["sgd"], Boolean()),
            "blocks": Repeat(
                Struct(
                    {"kernel_size": Choice([3, 5, 7]), "expand": Choice([3, 4, 6]), "se": Boolean()}
                ),
                1,
                4,
            ),
            "learning_rate": Float(1e-4, 1e-1, log=True),
            "width": Int(8, 1024, log=True),
            "dropout": Float(0.0, 0.5, step=0.1),
            "task": Fixed("classification"),
        }
    )


SPACE = make_space()
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(seed=seeds)
def test_sample_mutate_crossover_validate(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = SPACE.sample(rng), SPACE.sample(rng)
    assert SPACE.validate(a) == a
    child = SPACE.mutate(a, rng)
    assert SPACE.validate(child) == child
    assert child != a, "a mutation must change at least one decision"
    mixed = SPACE.crossover(a, b, rng)
    assert SPACE.validate(mixed) == mixed
    assert len(SPACE.encode(a)) == len(SPACE.encode(child)) == SPACE.encode_len


@settings(max_examples=30, deadline=None)
@given(seed=seeds)
def test_crossover_takes_every_decision_from_a_parent(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = SPACE.sample(rng), SPACE.sample(rng)
    child = SPACE.crossover(a, b, rng)
    for name in ("num_layers", "units_0", "optimizer", "learning_rate", "width", "dropout"):
        assert child[name] in (a[name], b[name])


def test_same_seed_same_samples_different_seeds_differ() -> None:
    first = [SPACE.sample(np.random.default_rng(7)) for _ in range(3)]
    again = [SPACE.sample(np.random.default_rng(7)) for _ in range(3)]
    assert first == again
    others = [SPACE.sample(s) for s in range(20)]
    assert len({SPACE.key(c) for c in others}) == 20


def test_int_grid_log_and_float_step() -> None:
    rng = np.random.default_rng(0)
    grid = Int(32, 512, step=32)
    assert grid.finite_values() == list(range(32, 513, 32))
    assert all(grid.sample(rng) % 32 == 0 for _ in range(200))
    log_int = Int(1, 1000, log=True)
    draws = np.array([log_int.sample(rng) for _ in range(4000)])
    assert (draws < 32).mean() > 0.4  # log-uniform puts half the mass below sqrt(1000)
    stepped = Float(0.0, 0.5, step=0.1)
    assert all(round(stepped.sample(rng) * 10, 6).is_integer() for _ in range(100))


def test_key_is_canonical() -> None:
    a = SPACE.sample(3)
    shuffled = dict(reversed(list(a.items())))
    assert SPACE.key(a) == SPACE.key(shuffled)
    tune_style = {**a, "units_2": None} if a["num_layers"] < 3 else a
    assert SPACE.key(tune_style) == SPACE.key(a)


def test_encode_marks_inactive_conditionals() -> None:
    space = SearchSpace({"n": Int(1, 2), "u": When("n", [2], Int(1, 5))})
    assert space.encode({"n": 1}).tolist() == [0.0, 0.0, 0.0]
    assert space.encode({"n": 2, "u": 5}).tolist() == [1.0, 1.0, 1.0]


def test_mutation_of_a_gate_adds_and_removes_children() -> None:
    space = SearchSpace({"n": Int(1, 2), "u": When("n", [2], Int(1, 5))})
    seen = {len(space.mutate({"n": 1}, s)) for s in range(10)}
    assert seen == {2}
    assert space.mutate({"n": 2, "u": 3}, 0) in (
        {"n": 1},
        *({"n": 2, "u": v} for v in (1, 2, 4, 5)),
    )


def test_default_config_is_valid() -> None:
    default = SPACE.default_config()
    assert SPACE.validate(default) == default


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Choice([]), r"`values` of a Choice must not be empty"),
        (lambda: Choice([1, 1]), r"has 1 twice"),
        (lambda: Choice([[1]]), r"must be bool, int, float, str or None"),
        (lambda: Int(5, 1), r"`low` must be less than or equal to `high`, but got low=5 > high=1"),
        (lambda: Float(1.0, 0.5), r"low=1.0 > high=0.5"),
        (lambda: Float(0.0, 1.0, log=True), r"`low` must be greater than 0 when `log=True`"),
        (lambda: Int(0, 10, step=3), r"`high - low` must be a multiple of `step`"),
        (lambda: Int(0, 10, step=0), r"`step` of Int must be at least 1"),
        (lambda: Int(0.5, 3), r"`low` of Int must be an int, but got 0.5"),
        (lambda: Repeat(Int(0, 1), 3, 1), r"`min_count` must be less than or equal to `max_count`"),
        (lambda: SearchSpace({}), r"needs at least one parameter"),
        (lambda: SearchSpace({"a": 3}), r"`a` must be a Domain"),
        (
            lambda: SearchSpace({"u": When("n", [1], Int(0, 1)), "n": Int(1, 2)}),
            r"`u` is conditional on `n`, which must be defined before it",
        ),
        (
            lambda: SearchSpace({"n": Float(0, 1), "u": When("n", [1], Int(0, 1))}),
            r"which must be a Choice, Boolean, Fixed or a small Int",
        ),
        (
            lambda: SearchSpace({"n": Int(1, 3), "u": When("n", [4], Int(0, 1))}),
            r"4 is not a value of `n`",
        ),
    ],
)
def test_bad_definitions_are_refused(make, message: str) -> None:
    with pytest.raises(SpaceDefinitionError, match=message):
        make()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {
                "blocks": [{"kernel_size": 3, "expand": 3, "se": True}] * 2
                + [{"kernel_size": 4, "expand": 3, "se": True}]
            },
            r"`blocks\[2\].kernel_size` must be one of \[3, 5, 7\], but got 4\.",
        ),
        ({"blocks": []}, r"`blocks` must have 1 to 4 items, but got 0"),
        ({"num_layers": 5}, r"`num_layers` must be an integer in \[1, 3\], but got 5"),
        ({"units_0": 33}, r"`units_0` must be an integer in \[32, 512\] on a grid of step 32"),
        (
            {"learning_rate": 1.0},
            r"`learning_rate` must be a number in \[0.0001, 0.1\], but got 1.0",
        ),
        ({"task": "regression"}, r"`task` is fixed to 'classification', but got 'regression'"),
        ({"bogus": 1}, r"`bogus` is not a parameter of this space; the parameters are \["),
        (
            {"optimizer": "adam", "momentum": 0.9},
            r"`momentum` is set, but it only exists when "
            r"`optimizer` is one of \['sgd'\], and `optimizer` = 'adam'",
        ),
    ],
)
def test_validate_names_path_value_and_allowed(config: dict, message: str) -> None:
    base = SPACE.sample(0)
    base.update({"optimizer": "adam"})
    base.pop("momentum", None)
    base.pop("nesterov", None)
    with pytest.raises(InvalidConfigError, match=message):
        SPACE.validate({**base, **config})


def test_missing_active_conditional_is_named() -> None:
    config = {**SPACE.sample(0), "num_layers": 3}
    config.pop("units_2", None)
    config.pop("units_1", None)
    with pytest.raises(
        InvalidConfigError,
        match=r"`units_1` is missing \(it is active because "
        r"`num_layers` = 3\)",
    ):
        SPACE.validate(config)


def test_extremes_take_every_ordered_decision_at_its_ends() -> None:
    small, large = SPACE.extremes()
    assert small["num_layers"] == 1 and large["num_layers"] == 3
    assert small["units_0"] == 32 and large["units_2"] == 512  # conditionals follow their gate
    assert "units_1" not in small
    assert len(small["blocks"]) == 1 and len(large["blocks"]) == 4
    assert large["blocks"][0] == {"kernel_size": 7, "expand": 6, "se": False}  # Boolean: default
    assert small["width"] == 8 and large["width"] == 1024
    assert small["learning_rate"] == pytest.approx(1e-4) and large["dropout"] == pytest.approx(0.5)
    assert small["optimizer"] == large["optimizer"] == "adam"  # unordered: the default
    assert SPACE.validate(small) == small and SPACE.validate(large) == large


def test_a_space_without_ordered_decisions_has_no_extremes() -> None:
    space = SearchSpace({"op": Choice(["conv", "pool"]), "act": Choice(["relu", "gelu"])})
    assert space.extremes() == []
    ordered = SearchSpace({"op": Choice(["a", "b", "c"], ordered=True), "k": Choice([5, 3, 7])})
    assert ordered.extremes() == [{"op": "a", "k": 3}, {"op": "c", "k": 7}]
