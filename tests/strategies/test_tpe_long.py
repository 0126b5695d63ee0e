"""TPE on long histories: the cached posterior graph and the window of trials hyperopt sees."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raynas.strategies import TPE, StrategyError
from raynas.testing import conditional_space, synthetic_metrics

hyperopt = pytest.importorskip("hyperopt")


def _told(n: int, **kwargs) -> TPE:
    space = conditional_space()
    s = TPE(space, objectives=["score"], seed=0, n_startup=5, **kwargs)
    for _ in range(n):
        c = s.ask()
        s.tell(c, synthetic_metrics(space, c))
    return s


def _vals(doc):
    return {k: v for k, v in doc["misc"]["vals"].items() if v}


def _theirs(s: TPE, seed: int):
    from hyperopt import tpe

    gamma = s._window_gamma if s._window is not None else s.gamma
    return tpe.suggest(
        [s._next_tid],
        s._domain,
        s._trials,
        seed,
        prior_weight=s.prior_weight,
        n_startup_jobs=s.n_startup,
        n_EI_candidates=s.n_ei_candidates,
        gamma=gamma,
        verbose=False,
    )[0]


def test_each_suggestion_is_the_one_hyperopt_suggests():
    """Through startup, a growing history, pending trials, window redraws and a trial told
    after it left the window, TPE's own path gives tpe.suggest's suggestion and config."""
    from hyperopt import space_eval
    from hyperopt.base import miscs_to_idxs_vals

    space = conditional_space()
    s = TPE(space, objectives=["cost:min"], seed=0, n_startup=5, history=60, window=60)

    def check(seed: int) -> None:
        docs = sorted(s._trials.trials, key=lambda d: d["tid"])
        tids, idxs, vals = s._observed()  # kept up to date, not rebuilt per suggestion
        assert tids == [d["tid"] for d in docs]
        assert (idxs, vals) == miscs_to_idxs_vals([d["misc"] for d in docs], list(idxs))
        ours, theirs = s._suggest(seed), _theirs(s, seed)
        assert _vals(ours) == _vals(theirs)
        vals = {k: v[0] for k, v in _vals(ours).items()}
        assert s._config_of(ours) == space.validate(space_eval(s._expr, vals))

    late = s.ask()  # pending for a long time
    for step in range(130):
        a = s.ask()
        if step % 5 == 0:
            check(step)  # with `a` (and early on `late`) pending
        b = s.ask()
        s.tell(a, synthetic_metrics(space, a))
        s.tell(b, synthetic_metrics(space, b))
    s.tell(late, synthetic_metrics(space, late))
    check(0)
    # a result replaced after its trial left the window: the old trial joins the window again
    assert s._window is not None
    window = {d["tid"] for d in s._trials.trials}
    old = next(o for o in s.observations if s._tids[o.key] not in window)
    s.tell(old.config, {"cost": 0.5 * old.metrics["cost"]})
    assert s._tids[old.key] in {d["tid"] for d in s._trials.trials}
    for seed in range(5):
        check(seed)


def test_a_long_history_is_windowed_and_keeps_every_good_trial():
    s = _told(140, history=60, window=60)
    assert s._window is not None
    told = [t for t in s._docs if s._told_loss(t) is not None]
    assert len(told) == 140
    good = min(math.ceil(s.gamma * math.sqrt(len(told))), 25)
    best = sorted(told, key=lambda t: (s._told_loss(t), t))[:good]
    in_window = {d["tid"] for d in s._trials.trials}
    assert set(best) <= in_window  # the good density is the one of the whole history
    assert set(sorted(told)[-25:]) <= in_window  # so are the most recent trials
    assert len(in_window) < 0.8 * len(told)
    # hyperopt keeps exactly `good` trials as good ones with the window's gamma
    assert min(math.ceil(s._window_gamma * math.sqrt(len(in_window))), 25) == good


def test_results_told_without_asking_are_windowed_too():
    """A warm start of many results keeps hyperopt's trials at the window's size, so telling
    stays linear (each tell refreshes the trials)."""
    space = conditional_space()
    s = TPE(space, objectives=["score"], seed=0, n_startup=5, history=60, window=60)
    rng = np.random.default_rng(1)
    told = 0
    while told < 150:
        c = space.sample(rng)
        if s.is_new(space.key(c)):
            s.tell(c, synthetic_metrics(space, c))
            told += 1
    assert s._window is not None
    assert len(s._trials.trials) <= 1.05 * 60 + 1
    good = min(math.ceil(s.gamma * math.sqrt(told)), 25)
    best = sorted(s._losses, key=lambda t: (s._losses[t], t))[:good]
    assert set(best) <= {d["tid"] for d in s._trials.trials}
    assert space.key(s.ask()) not in {o.key for o in s.observations}


def test_a_windowed_search_survives_the_state_round_trip():
    s = _told(130, history=60, window=60)
    twin = TPE(
        conditional_space(), objectives=["score"], seed=5, n_startup=5, history=60, window=60
    )
    twin.load_state_dict(s.state_dict())
    for _ in range(3):
        a, b = s.ask(), twin.ask()
        assert a == b
        m = synthetic_metrics(conditional_space(), a)
        s.tell(a, m)
        twin.tell(b, m)
    assert len({o.key for o in s.observations}) == len(s.observations)


def test_the_window_must_leave_room_for_the_good_and_recent_trials():
    with pytest.raises(StrategyError, match=r"`window` must be an int >= 51, but got 10"):
        TPE(conditional_space(), window=10)
    with pytest.raises(
        StrategyError, match=r"`history` must be an int >= `window` \(120\) or None, but got 60"
    ):
        TPE(conditional_space(), history=60)
