"""PredictorGuided's ``extra_features``: inputs of the surrogate beyond the space's encoding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raynas.search_spaces import Choice, SearchSpace
from raynas.strategies import Pool, PredictorGuided, StrategyError, Surrogate
from raynas.testing import StrategyContract, synthetic_metrics

SMALL = dict(
    num_initial=5, ensemble_size=3, pool=Pool(parents=3, mutations_per_parent=10, num_random=10)
)


def _proxy(config):
    """A stand-in proxy: a number per config that no one-hot encoding holds linearly."""
    return [float(len(str(sorted(config.items()))) % 7)]


class TestPredictorGuidedWithExtraFeatures(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(
            space, objectives=objectives, seed=seed, extra_features=_proxy, **SMALL
        )


def _xor_space() -> SearchSpace:
    return SearchSpace({f"b{i}": Choice([0, 1]) for i in range(10)})


def _parity_score(config) -> float:
    """Highest where the bits' parity is odd and more bits are set; parity is what no linear
    model over the bits sees."""
    bits = [config[f"b{i}"] for i in range(10)]
    return float(sum(bits) % 2) * 10 + 0.1 * sum(bits)


def _queries_to_optimum(extra, seed: int) -> int:
    space = _xor_space()
    s = PredictorGuided(
        space,
        objectives=["score:max"],
        seed=seed,
        num_initial=8,
        surrogate=Surrogate(regressor="ridge"),
        extra_features=extra,
        **{k: v for k, v in SMALL.items() if k != "num_initial"},
    )
    best = max(_parity_score({f"b{i}": int(i != j) for i in range(10)}) for j in range(10))
    for n in range(1, 200):
        c = s.ask()
        v = _parity_score(c)
        s.tell(c, {"score": v})
        if v >= best:
            return n
    return 200


def test_an_informative_extra_feature_finds_the_optimum_sooner():
    parity = lambda c: [sum(c.values()) % 2]  # noqa: E731 - what the proxy knows
    with_proxy = [_queries_to_optimum(parity, seed) for seed in range(4)]
    without = [_queries_to_optimum(None, seed) for seed in range(4)]
    assert np.mean(with_proxy) < 0.6 * np.mean(without), (with_proxy, without)


def test_non_finite_extra_values_are_unknown_not_fatal():
    space = _xor_space()
    calls = []

    def sometimes_nan(config):
        calls.append(1)
        return [math.nan if config["b0"] else 1.0, math.inf if config["b1"] else 2.0]

    s = PredictorGuided(
        space, objectives=["score:max"], seed=0, extra_features=sometimes_nan, **SMALL
    )
    for _ in range(30):
        c = s.ask()
        s.tell(c, {"score": _parity_score(c)})
    assert len(s.observations) == 30 and calls
    x = s._inputs(np.asarray(s._features))
    assert np.isfinite(x).all()


def test_extra_features_survive_the_state_round_trip():
    space = _xor_space()
    make = lambda: PredictorGuided(  # noqa: E731
        space, objectives=["score:max"], seed=3, extra_features=_proxy, **SMALL
    )
    a = make()
    for _ in range(20):
        c = a.ask()
        a.tell(c, {"score": _parity_score(c)})
    b = make()
    b.load_state_dict(a.state_dict())
    assert a.ask() == b.ask()


def test_the_focus_search_does_without_the_extra_features_and_the_walk_uses_them():
    seen = []

    def proxy(config):
        seen.append(dict(config))
        return [float(config["b"])]

    from raynas.testing import small_space

    space = small_space()
    s = PredictorGuided(
        space,
        objectives=["score:max", "cost:min"],
        seed=0,
        focus=8,
        extra_features=proxy,
        **SMALL,
    )
    for _ in range(8):
        c = s.ask()
        s.tell(c, synthetic_metrics(space, c))
    n = len(space.features(c))
    assert s._focus is not None and s._focus.extra_features is None
    assert {len(x) for x in s._focus._features} == {n}
    assert {len(x) for x in s._features} == {n + 1} and seen  # what the walk's models take


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"extra_features": 3}, "extra_features"),
        ({"extra_features": _proxy, "extra_weight": 0}, "extra_weight"),
        ({"extra_features": _proxy, "extra_weight": math.nan}, "extra_weight"),
        ({"extra_features": _proxy, "extra_weight": True}, "extra_weight"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, field):
    with pytest.raises(StrategyError, match=f"`{field}`"):
        PredictorGuided(_xor_space(), objectives=["score:max"], **kwargs)


def test_a_proxy_returning_a_changing_length_or_junk_is_refused_with_what_it_returned():
    space = _xor_space()
    s = PredictorGuided(
        space,
        objectives=["score:max"],
        seed=0,
        num_initial=2,
        extra_features=lambda c: [0.0] * (1 + c["b0"]),
    )
    with pytest.raises(StrategyError, match="same number"):
        for _ in range(40):
            c = s.ask()
            s.tell(c, {"score": _parity_score(c)})
    s = PredictorGuided(
        space, objectives=["score:max"], seed=0, num_initial=2, extra_features=lambda c: ["fast"]
    )
    with pytest.raises(StrategyError, match="'fast'"):
        c = s.ask()
        s.tell(c, {"score": 1.0})
