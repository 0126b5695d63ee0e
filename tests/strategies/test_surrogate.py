"""PredictorGuided's surrogates: each objective's regressor on its own inputs (``Surrogate``)."""

from __future__ import annotations

import numpy as np
import pytest

from raynas.search_spaces import Choice, SearchSpace
from raynas.strategies import PredictorGuided, StrategyError, Surrogate


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
        surrogate={
            "acc": Surrogate(regressor="ridge", inputs="computed"),
            "latency": Surrogate(regressor="trees"),
        },
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


def test_one_surrogate_serves_every_objective():
    s = searched(10, surrogate=Surrogate(regressor="trees", inputs="computed"), ensemble_size=2)
    s._fit(len(s.observations), 0)
    assert all(
        type(m).__name__ == "ExtraTreesRegressor" and m.n_features_in_ == 1
        for models in s._models
        for m, _, _ in models
    )
    # a dict of its fields, as a YAML file gives it, builds the same search
    d = searched(10, surrogate={"regressor": "trees", "inputs": "computed"}, ensemble_size=2)
    assert [o.key for o in d.observations] == [o.key for o in s.observations]


def test_a_callable_gives_inputs_too_and_the_state_round_trip_keeps_the_next_ask():
    def inputs(config):
        return [config["a"], config["b"]]

    a = searched(15, surrogate={"acc": Surrogate(inputs=inputs)})
    b = PredictorGuided(
        RoutedSpace(),
        objectives=["acc:max", "latency:min"],
        seed=0,
        num_initial=5,
        surrogate={"acc": Surrogate(inputs=inputs)},
    )
    b.load_state_dict(a.state_dict())
    assert a.ask() == b.ask()


def test_the_focus_search_models_the_first_objective_on_its_inputs():
    s = searched(8, surrogate={"acc": Surrogate(regressor="trees", inputs="computed")}, focus=20)
    focus = s._focus_search()
    assert focus is not None and focus.objective_inputs == {"acc": "computed"}
    assert focus.regressor == {"acc": "trees"}
    focus._fit(len(focus.observations), 0)
    assert all(m.n_features_in_ == 1 for m, _, _ in focus._models[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"surrogate": {"accuracy": Surrogate(inputs="computed")}},
            r"`surrogate` names \['accuracy'\], which are not objectives of this "
            r"search; its objectives are \['acc', 'latency'\]",
        ),
        (
            {"surrogate": {"acc": Surrogate(inputs="no_such_method")}},
            r"`surrogate\['acc'\].inputs` must be the name of a method of the space that "
            r"maps a config to a list of floats \(such as \['features'\]\) or such a "
            r"callable, but RoutedSpace has no method 'no_such_method'",
        ),
        (
            {"surrogate": {"acc": {"inputs": 3}}},
            r"`Surrogate.inputs` must be None \(space.features\), the name of a method",
        ),
        ({"surrogate": ["acc"]}, r"`surrogate` must be a Surrogate \(for every objective\)"),
        (
            {"surrogate": {"acc": {"regresor": "trees"}}},
            r"`surrogate\['acc'\]` has no field 'regresor'",
        ),
        (
            {"surrogate": {"regressor": "forest"}},
            r"`Surrogate.regressor` must be one of \['ridge', .*but got 'forest'",
        ),
        (
            {"surrogate": {"regressor": 3}},
            r"`Surrogate.regressor` must be a str or a callable, got 3",
        ),
    ],
)
def test_bad_surrogates_are_refused_before_any_ask(kwargs, message):
    with pytest.raises(StrategyError, match=message):
        PredictorGuided(RoutedSpace(), objectives=["acc:max", "latency:min"], **kwargs)


def test_names_are_checked_when_the_objectives_come_later():
    s = PredictorGuided(RoutedSpace(), surrogate={"accuracy": Surrogate(inputs="computed")})
    with pytest.raises(StrategyError, match=r"`surrogate` names \['accuracy'\]"):
        s.set_objectives(["acc:max", "latency:min"])


def test_inputs_of_changing_length_are_refused():
    s = PredictorGuided(
        RoutedSpace(),
        objectives=["acc:max", "latency:min"],
        num_initial=2,
        surrogate={"acc": Surrogate(inputs=lambda c: [0.0] * (1 + c["a"] % 2))},
    )
    with pytest.raises(StrategyError, match="must return the same number of values"):
        for a in range(3):
            c = {"a": a, "b": 0, "route": "x"}
            s.tell(c, metrics(c))


def test_an_objective_can_be_named_by_its_position():
    by_name = searched(
        14,
        surrogate={"acc": Surrogate(inputs="computed"), "latency": Surrogate(regressor="trees")},
    )
    by_position = searched(
        14, surrogate={0: Surrogate(inputs="computed"), 1: Surrogate(regressor="trees")}
    )
    assert [o.key for o in by_position.observations] == [o.key for o in by_name.observations]


def test_bad_objective_keys_are_refused():
    with pytest.raises(StrategyError, match=r"`surrogate` names \[2\], which are not objectives"):
        searched(0, surrogate={2: Surrogate()})
    with pytest.raises(StrategyError, match=r"names the objective 'acc' twice"):
        searched(0, surrogate={0: Surrogate(), "acc": Surrogate()})
    with pytest.raises(StrategyError, match=r"`surrogate` keys must be objective names or pos"):
        searched(0, surrogate={1.5: Surrogate()})
