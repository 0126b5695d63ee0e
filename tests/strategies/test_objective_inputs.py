"""PredictorGuided's per-objective inputs and regressors (``objective_inputs``, ``regressor={}``)."""

from __future__ import annotations

import numpy as np
import pytest

from raynas.search_spaces import Choice, SearchSpace
from raynas.strategies import PredictorGuided, StrategyError


class RoutedSpace(SearchSpace):
    """``a`` and ``b`` reach the output by two routes: the accuracy is their sum whatever the
    route, the latency depends on the route (and on ``route`` alone)."""

    def __init__(self) -> None:
        super().__init__(
            {
                "a": Choice(list(range(5))),
                "b": Choice(list(range(5))),
                "route": Choice(["x", "y", "z"], ordered=False),
            }
        )

    def computed(self, config):
        c = self.validate(config)
        return [float(c["a"] + c["b"])]


def metrics(config):
    lat = {"x": 1.0, "y": 2.0, "z": 4.0}[config["route"]] + 0.5 * config["a"]
    return {"acc": float(config["a"] + config["b"]), "latency": lat}


def searched(n, **kwargs):
    s = PredictorGuided(
        RoutedSpace(), objectives=["acc:max", "latency:min"], seed=0, num_initial=5, **kwargs
    )
    for _ in range(n):
        c = s.ask()
        s.tell(c, metrics(c))
    return s


def test_each_objective_is_fitted_on_its_own_inputs_with_its_own_regressor():
    s = searched(
        12,
        objective_inputs={"acc": "computed"},
        regressor={"acc": "ridge", "latency": "trees"},
        ensemble_size=2,
    )
    s._fit(len(s.observations), 0)
    acc_models, lat_models = s._models
    width = s._space.encode_len
    assert all(m.coef_.shape == (1,) for m, _, _ in acc_models)  # "computed" alone
    assert all(type(m).__name__ == "ExtraTreesRegressor" for m, _, _ in lat_models)
    assert all(m.n_features_in_ == width for m, _, _ in lat_models)  # space.features
    # acc is linear in its one input: predicted almost exactly for an unseen config
    seen = {o.key for o in s.observations}
    c = next(
        c
        for a in range(5)
        for b in range(5)
        for r in "xyz"
        if s._space.key(c := {"a": a, "b": b, "route": r}) not in seen
    )
    mean, _ = s._predict(np.array([s._encode(s._space.key(c), c)]))
    assert mean[0, 0] == pytest.approx(-(c["a"] + c["b"]), abs=0.3)  # losses: -acc


def test_a_callable_gives_inputs_too_and_the_state_round_trip_keeps_the_next_ask():
    def inputs(config):
        return [config["a"], config["b"]]

    a = searched(15, objective_inputs={"acc": inputs})
    b = PredictorGuided(
        RoutedSpace(),
        objectives=["acc:max", "latency:min"],
        seed=0,
        num_initial=5,
        objective_inputs={"acc": inputs},
    )
    b.load_state_dict(a.state_dict())
    assert a.ask() == b.ask()


def test_the_focus_search_models_the_first_objective_on_its_inputs():
    s = searched(
        8, objective_inputs={"acc": "computed"}, regressor={"acc": "trees"}, focus_first=20
    )
    focus = s._focus_search()
    assert focus is not None and focus.objective_inputs == {"acc": "computed"}
    assert focus.regressor == {"acc": "trees"}
    focus._fit(len(focus.observations), 0)
    assert all(m.n_features_in_ == 1 for m, _, _ in focus._models[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"objective_inputs": {"accuracy": "computed"}},
            r"`objective_inputs` names \['accuracy'\], which are not objectives of this "
            r"search; its objectives are \['acc', 'latency'\]",
        ),
        (
            {"regressor": {"lat": "trees"}},
            r"`regressor` names \['lat'\], which are not objectives",
        ),
        (
            {"objective_inputs": {"acc": "no_such_method"}},
            r"`objective_inputs\['acc'\]` must be the name of a method of the space that "
            r"maps a config to a list of floats \(such as \['features'\]\) or such a "
            r"callable, but RoutedSpace has no method 'no_such_method'",
        ),
        (
            {"objective_inputs": {"acc": 3}},
            r"`objective_inputs\['acc'\]` must be .* or such a callable, but got 3",
        ),
        ({"objective_inputs": ["acc"]}, r"`objective_inputs` must be a dict objective name"),
        (
            {"regressor": {"acc": "forest"}},
            r"`regressor\['acc'\]` must be one of \['ridge', .*but got 'forest'",
        ),
        ({"regressor": {"acc": 3}}, r"`regressor\['acc'\]` must be a str or a callable, got 3"),
    ],
)
def test_bad_per_objective_arguments_are_refused_before_any_ask(kwargs, message):
    with pytest.raises(StrategyError, match=message):
        PredictorGuided(RoutedSpace(), objectives=["acc:max", "latency:min"], **kwargs)


def test_names_are_checked_when_the_objectives_come_later():
    s = PredictorGuided(RoutedSpace(), objective_inputs={"accuracy": "computed"})
    with pytest.raises(StrategyError, match=r"`objective_inputs` names \['accuracy'\]"):
        s.set_objectives(["acc:max", "latency:min"])


def test_inputs_of_changing_length_are_refused():
    s = PredictorGuided(
        RoutedSpace(),
        objectives=["acc:max", "latency:min"],
        num_initial=2,
        objective_inputs={"acc": lambda c: [0.0] * (1 + c["a"] % 2)},
    )
    with pytest.raises(StrategyError, match="must return the same number of values"):
        for a in range(3):
            c = {"a": a, "b": 0, "route": "x"}
            s.tell(c, metrics(c))


def test_an_objective_can_be_named_by_its_position():
    by_name = searched(14, objective_inputs={"acc": "computed"}, regressor={"latency": "trees"})
    by_position = searched(14, objective_inputs={0: "computed"}, regressor={1: "trees"})
    assert [o.key for o in by_position.observations] == [o.key for o in by_name.observations]


def test_bad_objective_keys_are_refused():
    with pytest.raises(StrategyError, match=r"`regressor` names \[2\], which are not objectives"):
        searched(0, regressor={2: "trees"})
    with pytest.raises(StrategyError, match=r"names the objective 'acc' twice"):
        searched(0, objective_inputs={0: "computed", "acc": "computed"})
    with pytest.raises(StrategyError, match=r"`regressor` keys must be objective names or pos"):
        searched(0, regressor={1.5: "trees"})
