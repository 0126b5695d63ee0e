"""PredictorGuided's ``Pool(num_climbs=...)``: greedy walks on the surrogate join the candidate pool."""

from __future__ import annotations

import numpy as np
import pytest

from raynas.search_spaces import Choice, SearchSpace
from raynas.strategies import Pool, PredictorGuided
from raynas.testing import StrategyContract

POOL = dict(parents=3, mutations_per_parent=10, num_random=10)
SMALL = dict(num_initial=5, ensemble_size=3)


class TestPredictorGuidedWithClimbs(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(
            space, objectives=objectives, seed=seed, pool=Pool(num_climbs=2, **POOL), **SMALL
        )


def _space() -> SearchSpace:
    return SearchSpace({f"e{i}": Choice(["a", "b", "c", "d"]) for i in range(6)})


def _acc(config) -> float:
    """Additive: every decision that is "a" adds one, "b" a half (a ridge fits it exactly)."""
    return sum({"a": 1.0, "b": 0.5}.get(v, 0.0) for v in config.values())


def test_climbs_end_at_the_surrogates_optimum_far_from_the_configs_seen():
    space = _space()
    s = PredictorGuided(
        space,
        objectives=["acc:max"],
        seed=0,
        num_initial=30,
        pool=Pool(num_climbs=4),
        clip_quantile=None,
    )
    rng = np.random.default_rng(0)
    for _ in range(30):
        c = space.sample(rng)
        s.tell(c, {"acc": _acc(c)})
    best_seen = max(o.metrics["acc"] for o in s.observations)
    assert best_seen < 6  # the optimum (every decision "a") is not among them
    s._ensure_fitted()
    ends = s._climbs()
    assert len(ends) == 4
    assert all(end == {f"e{i}": "a" for i in range(6)} for end in ends)
    # ... and the pool offers it: no mutation of the seen configs needs to reach it by chance
    assert space.key({f"e{i}": "a" for i in range(6)}) in dict(s._pool())


def test_climbs_are_off_by_default_and_with_several_objectives():
    space = _space()
    for kwargs, objectives in (
        ({}, ["acc:max"]),
        ({"pool": Pool(num_climbs=3)}, ["acc:max", "lat:min"]),
    ):
        s = PredictorGuided(space, objectives=objectives, seed=0, num_initial=10, **kwargs)
        for _ in range(12):
            c = s.ask()
            s.tell(c, {"acc": _acc(c), "lat": float(len(set(c.values())))})
        s._ensure_fitted()
        assert s._climbs() == []


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_bad_num_climbs_is_refused(value):
    with pytest.raises(ValueError, match=r"`Pool.num_climbs` must be an int >= 0"):
        PredictorGuided(_space(), pool={"num_climbs": value})
