"""PredictorGuided's candidate pool: mutations of the best configs, crossovers, random configs."""

from __future__ import annotations

import pytest

from raynas.strategies import PredictorGuided, StrategyError
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
    s = told(12, num_parents=6, num_crossover_parents=3, num_crossovers=20, num_random=0)
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
    s = told(10, num_crossovers=0)
    monkeypatch.setattr(
        type(s.space), "crossover", lambda *a, **k: pytest.fail("no crossover was asked for")
    )
    assert s._pool()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_crossovers": -1}, r"`num_crossovers` must be an int >= 0, but got -1"),
        ({"num_crossovers": 2.5}, r"`num_crossovers` must be an int >= 0, but got 2.5"),
        ({"num_crossover_parents": 1}, r"`num_crossover_parents` must be an int >= 2, but got 1"),
        ({"num_crossover_parents": True}, r"`num_crossover_parents` must be an int >= 2"),
    ],
)
def test_bad_pool_arguments_are_refused(kwargs, message):
    with pytest.raises(StrategyError, match=message):
        PredictorGuided(small_space(), **kwargs)
