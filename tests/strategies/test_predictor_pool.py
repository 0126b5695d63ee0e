"""PredictorGuided's candidate pool: mutations of the best configs, crossovers, random configs."""

from __future__ import annotations

import pytest

from raynas.strategies import Crossover, Pool, PredictorGuided, StrategyError
from raynas.testing import small_space, synthetic_metrics


def told(n, **kwargs):
    space = small_space()
    s = PredictorGuided(space, objectives=["score:max"], seed=0, num_initial=4, **kwargs)
    for _ in range(n):
        c = s.ask()
        s.tell(c, synthetic_metrics(space, c))
    s._ensure_fitted()
    return s


def test_crossovers_draw_their_parents_from_their_own_best_configs(monkeypatch):
    s = told(12, pool=Pool(parents=6, crossover=Crossover(num=20, parents=3), num_random=0))
    assert s.num_crossover_parents == 3  # kept as given, not raised to num_parents
    parents = [p.config for p in s._parents()]
    assert len(parents) == 6  # the mutations still take the six best
    mates = []
    space = s.space
    real = type(space).crossover

    def crossover(self, a, b, rng=None):
        mates.extend([a, b])
        return real(self, a, b, rng)

    monkeypatch.setattr(type(space), "crossover", crossover)
    s._pool()
    assert len(mates) == 40 and all(m in parents[:3] for m in mates)


def test_no_crossovers_leaves_mutations_and_random_configs(monkeypatch):
    s = told(10, pool=Pool(crossover=Crossover(num=0)))
    monkeypatch.setattr(
        type(s.space), "crossover", lambda *a, **k: pytest.fail("no crossover was asked for")
    )
    assert s._pool()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"crossover": {"num": -1}}, r"`Crossover.num` must be an int >= 0, but got -1"),
        ({"crossover": {"num": 2.5}}, r"`Crossover.num` must be an int >= 0, but got 2.5"),
        ({"crossover": {"parents": 1}}, r"`Crossover.parents` must be an int >= 2, but got 1"),
        ({"crossover": {"parents": True}}, r"`Crossover.parents` must be an int >= 2"),
        ({"parents": 0}, r"`Pool.parents` must be an int >= 1, but got 0"),
        ({"mutations_per_parent": -1}, r"`Pool.mutations_per_parent` must be an int >= 0"),
        ({"num_random": "9"}, r"`Pool.num_random` must be an int >= 0, but got '9'"),
        ({"num_climbs": -2}, r"`Pool.num_climbs` must be an int >= 0, but got -2"),
        ({"num_clims": 2}, r"`pool` has no field 'num_clims'; the fields of Pool are \['parents'"),
    ],
)
def test_bad_pool_arguments_are_refused(kwargs, message):
    with pytest.raises(StrategyError, match=message):
        PredictorGuided(small_space(), pool=kwargs)
