"""The phases of a multi-objective PredictorGuided search (raynas.strategies.Focus)."""

from __future__ import annotations

import pytest

from raynas.strategies import Focus, Pool, PredictorGuided, StrategyError
from raynas.testing import small_space, synthetic_metrics

MO = ["score:max", "cost:min"]


def test_focus_is_the_int_form_with_its_own_climbs():
    space = small_space()
    plain = PredictorGuided(space, objectives=MO, seed=0, num_initial=3, focus=6)
    phase = PredictorGuided(space, objectives=MO, seed=0, num_initial=3, focus=Focus(first=6))
    assert plain.focus == phase.focus == Focus(first=6)
    for s in (plain, phase):
        for _ in range(4):
            c = s.ask()
            s.tell(c, synthetic_metrics(space, c))
    assert [o.key for o in plain.observations] == [o.key for o in phase.observations]
    climbing = PredictorGuided(
        space, objectives=MO, seed=0, pool=Pool(num_climbs=2), focus=Focus(first=6, num_climbs=5)
    )
    climbing.ask()
    assert climbing._focus.num_climbs == 5 and climbing.num_climbs == 2
    inherit = PredictorGuided(space, objectives=MO, seed=0, pool=Pool(num_climbs=2), focus=6)
    inherit.ask()
    assert inherit._focus.num_climbs == 2


def test_bad_focus_is_refused():
    with pytest.raises(StrategyError, match=r"`Focus.first` must be an int >= 0, but got -1"):
        Focus(first=-1)
    with pytest.raises(StrategyError, match=r"`Focus.num_climbs` must be an int >= 0 or None"):
        Focus(first=3, num_climbs=1.5)
    with pytest.raises(
        StrategyError, match=r"`focus` must be a Focus or a dict of its fields.*'x'"
    ):
        PredictorGuided(small_space(), focus="x")
    with pytest.raises(StrategyError, match=r"`focus` must be a Focus, a dict .* but got -2"):
        PredictorGuided(small_space(), focus=-2)
    with pytest.raises(StrategyError, match=r"`focus` has no field 'frist'"):
        PredictorGuided(small_space(), focus={"frist": 3})
