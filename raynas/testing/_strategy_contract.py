"""The contract every raynas search strategy passes, as a pytest class to subclass."""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from raynas.search_spaces import Choice, Float, Int, Repeat, SearchSpace, Struct, When
from raynas.strategies.base import SearchExhausted, Strategy, StrategyError


class SymmetricSpace(SearchSpace):
    """Two ops whose order does not matter: ``key`` treats ``(a, b)`` and ``(b, a)`` as one.

    A stand-in for isomorphism-aware keys (such as the NAS-Bench-201 cell space's).
    """

    def __init__(self) -> None:
        ops = ["conv", "pool", "skip", "none"]
        super().__init__({"left": Choice(ops), "right": Choice(ops), "width": Choice([8, 16])})

    def key(self, config: Mapping[str, Any]) -> str:
        c = self.validate(config)
        return json.dumps([sorted([c["left"], c["right"]]), c["width"]])


def small_space() -> SearchSpace:
    """Three categorical decisions: 2 * 3 * 4 = 24 configs."""
    return SearchSpace(
        {
            "a": Choice(["x", "y"]),
            "b": Choice([1, 2, 3]),
            "c": Choice(["p", "q", "r", "s"]),
        }
    )


def conditional_space() -> SearchSpace:
    """Conditionals (chained), log floats, stepped ints and a variable-length repeat."""
    return SearchSpace(
        {
            "optimizer": Choice(["sgd", "adam"]),
            "momentum": When("optimizer", ["sgd"], Float(0.5, 0.99)),
            "nesterov": When("optimizer", ["sgd"], Choice([False, True])),
            "learning_rate": Float(1e-4, 1e-1, log=True),
            "num_layers": Int(1, 3),
            "width_2": When("num_layers", [2, 3], Int(16, 128, step=16)),
            "width_3": When("num_layers", [3], Int(16, 128, step=16)),
            "blocks": Repeat(Struct({"kernel": Choice([3, 5]), "expand": Int(1, 6)}), 1, 3),
        }
    )


def synthetic_metrics(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, float]:
    """A deterministic toy result for any config: ``score`` (max) and ``cost`` (min)."""
    x = space.encode(config)
    w = np.cos(np.arange(1, len(x) + 1) * 1.7)
    score = float(x @ w)
    return {"score": score, "cost": float(np.sum(x * np.abs(w))) + 0.1 * abs(score)}


class StrategyContract:
    """Behaviour every strategy must show; subclass it in a test module.

    Implement :meth:`make_strategy`; set ``multi_objective = True`` for strategies that
    optimize several objectives. Each test drives the strategy with a deterministic toy
    objective (:func:`synthetic_metrics`), without Ray.

    Example::

        from raynas.strategies import RegularizedEvolution
        from raynas.testing import StrategyContract

        class TestRegularizedEvolution(StrategyContract):
            def make_strategy(self, space, *, seed, objectives):
                return RegularizedEvolution(space, objectives=objectives, seed=seed,
                                            population_size=4, sample_size=2)
    """

    #: Whether the strategy takes several unconstrained objectives.
    multi_objective: ClassVar[bool] = False
    #: Results told in the sequence tests (enough to get past any warm-up phase).
    steps: ClassVar[int] = 16

    def make_strategy(
        self, space: SearchSpace, *, seed: int | None, objectives: Sequence[Any] | None
    ) -> Strategy:
        raise NotImplementedError("subclasses of StrategyContract implement make_strategy")

    # -- helpers ------------------------------------------------------------------------------
    def _objectives(self) -> list[str]:
        return ["score:max", "cost:min"] if self.multi_objective else ["score:max"]

    def _make(self, space: SearchSpace, seed: int | None) -> Strategy:
        return self.make_strategy(space, seed=seed, objectives=self._objectives())

    def _drive(self, strategy: Strategy, steps: int) -> list[dict[str, Any]]:
        asked = []
        for _ in range(steps):
            config = strategy.ask()
            asked.append(config)
            strategy.tell(config, synthetic_metrics(strategy.space, config))
        return asked

    # -- the contract -------------------------------------------------------------------------
    def test_asks_valid_configs(self) -> None:
        space = conditional_space()
        strategy = self._make(space, 0)
        for config in self._drive(strategy, self.steps + 4):
            assert space.validate(config) == config

    def test_same_seed_same_sequence(self) -> None:
        space = conditional_space()
        first = self._drive(self._make(space, 7), self.steps + 4)
        second = self._drive(self._make(space, 7), self.steps + 4)
        assert first == second

    def test_different_seeds_differ(self) -> None:
        space = conditional_space()
        first = self._drive(self._make(space, 1), self.steps)
        second = self._drive(self._make(space, 2), self.steps)
        assert first != second

    def test_state_round_trip_gives_same_next_suggestion(self) -> None:
        space = conditional_space()
        original = self._make(space, 3)
        self._drive(original, self.steps)
        pending = original.ask()  # a pending config travels with the state too
        state = json.loads(json.dumps(original.state_dict()))  # plain data survives JSON
        restored = self._make(space, 99)
        restored.load_state_dict(state)
        assert restored.pending == [pending]
        for _ in range(3):
            a, b = original.ask(), restored.ask()
            assert a == b
            original.tell(a, synthetic_metrics(space, a))
            restored.tell(b, synthetic_metrics(space, b))
        pickled = pickle.loads(pickle.dumps(original))
        assert pickled.ask() == original.ask()

    def test_enqueued_configs_are_asked_first_once_and_survive_the_state(self) -> None:
        space = conditional_space()
        strategy = self._make(space, 8)
        self._drive(strategy, self.steps)
        told = strategy.observations[0].config
        fresh: dict[str, dict[str, Any]] = {}
        for sample_seed in range(200):
            config = space.sample(sample_seed)
            if strategy.is_new(space.key(config)):
                fresh.setdefault(space.key(config), config)
        first, second = list(fresh.values())[:2]
        strategy.enqueue([first, told, second, first])  # a told one and a repeat are skipped
        restored = self._make(space, 99)
        restored.load_state_dict(json.loads(json.dumps(strategy.state_dict())))
        assert restored.queued == strategy.queued == [space.validate(first), space.validate(second)]
        for s in (strategy, restored):
            assert s.ask() == space.validate(first)
            assert s.ask() == space.validate(second)
            assert s.queued == []
        after = strategy.ask()  # asking queued configs drew nothing from the strategy's RNG
        assert restored.ask() == after
        assert space.key(after) not in {space.key(first), space.key(second), space.key(told)}

    def test_state_of_another_strategy_is_refused(self) -> None:
        from raynas.strategies import RandomSearch

        space = small_space()
        strategy = self._make(space, 0)
        other = RandomSearch(space, objectives=self._objectives(), seed=0)
        if type(strategy) is RandomSearch:
            pytest.skip("the other strategy is this one")
        with pytest.raises(StrategyError, match="cannot be loaded into"):
            strategy.load_state_dict(other.state_dict())

    def test_infeasible_errored_and_nan_results_are_handled(self) -> None:
        space = conditional_space()
        strategy = self._make(space, 4)
        bad = [
            (None, True),  # errored trial
            ({"score": 1.0, "cost": 1.0}, False),  # reported infeasible
            ({"score": math.nan, "cost": 1.0}, True),
            ({"score": math.inf, "cost": math.nan}, True),
            ({"cost": 1.0}, True),  # objective missing
            ({"score": "oops", "cost": 1.0}, True),  # not a number
        ]
        for i in range(self.steps + len(bad)):
            config = strategy.ask()
            if i % 3 == 0 and bad:
                metrics, feasible = bad.pop()
                obs = strategy.tell(config, metrics, feasible=feasible)
                assert not obs.ok
            else:
                assert strategy.tell(config, synthetic_metrics(space, config)).ok
        assert not bad
        for _ in range(4):
            config = strategy.ask()
            assert space.validate(config) == config
            strategy.tell(config, synthetic_metrics(space, config))
        best = strategy.best()
        assert best is not None and best.ok
        assert all(o.ok for o in strategy.pareto_front())

    def test_only_failures_still_ask(self) -> None:
        space = conditional_space()
        strategy = self._make(space, 5)
        for _ in range(self.steps):
            strategy.tell(strategy.ask(), None)
        assert space.validate(strategy.ask())
        best = strategy.best()
        assert best is not None and not best.ok

    def test_no_duplicates_until_the_space_is_exhausted(self) -> None:
        space = small_space()
        strategy = self._make(space, 6)
        keys = [space.key(c) for c in self._drive(strategy, 24)]
        assert len(set(keys)) == 24
        with pytest.raises(SearchExhausted, match="proposed"):
            strategy.ask()

    def test_no_duplicates_among_pending_configs(self) -> None:
        space = small_space()
        strategy = self._make(space, 8)
        self._drive(strategy, 6)
        keys = [space.key(strategy.ask()) for _ in range(18)]  # asked, none told
        assert len(set(keys)) == 18

    def test_isomorphic_configs_count_as_duplicates(self) -> None:
        space = SymmetricSpace()  # 20 distinct keys out of 32 configs
        strategy = self._make(space, 9)
        keys = [space.key(c) for c in self._drive(strategy, 20)]
        assert len(set(keys)) == 20
        with pytest.raises(SearchExhausted):
            strategy.ask()

    def test_foreign_results_are_never_proposed_again(self) -> None:
        space = small_space()
        strategy = self._make(space, 10)
        told = [space.sample(i) for i in range(30)]
        for config in told:
            strategy.tell(config, synthetic_metrics(space, config))
        keys_told = {space.key(c) for c in told}
        for _ in range(24 - len(keys_told)):
            assert space.key(strategy.ask()) not in keys_told

    def test_telling_twice_keeps_the_latest_result(self) -> None:
        space = small_space()
        strategy = self._make(space, 11)
        config = strategy.ask()
        strategy.tell(config, {"score": 0.0, "cost": 1.0})
        strategy.tell(config, {"score": 5.0, "cost": 1.0})
        assert len(strategy.observations) == 1
        assert strategy.observations[0].metrics["score"] == 5.0

    def test_tell_without_objectives_is_refused(self) -> None:
        space = small_space()
        strategy = self.make_strategy(space, seed=0, objectives=None)
        config = strategy.ask()
        with pytest.raises(StrategyError, match="objectives.*not set"):
            strategy.tell(config, {"score": 1.0})
        strategy.set_objectives(self._objectives())
        strategy.tell(config, synthetic_metrics(space, config))

    def test_constraints_rank_feasible_first(self) -> None:
        space = small_space()
        objectives = ["score:max", "cost <= 2.0"]  # one objective and one constraint
        strategy = self.make_strategy(space, seed=12, objectives=objectives)
        for _ in range(self.steps):
            config = strategy.ask()
            strategy.tell(config, synthetic_metrics(space, config))
        ok = [o for o in strategy.observations if o.metrics["cost"] <= 2.0]
        best = strategy.best()
        if ok:
            assert best is not None and best.ok and best.metrics["cost"] <= 2.0
        front = strategy.pareto_front()
        assert all(o.ok for o in front) or not ok

    def test_low_fidelity_results_rank_after_full_fidelity_ones(self) -> None:
        """Early-stopped results (fidelity < 1) count, but after every complete result, even
        when their objective looks better; the fidelity survives save/restore."""
        space = conditional_space()
        strategy = self._make(space, 5)
        for i in range(self.steps):
            config = strategy.ask()
            metrics = synthetic_metrics(space, config)
            if i % 2:
                # a truncated training that happens to look excellent
                metrics = {"score": metrics["score"] + 100.0, "cost": metrics["cost"] - 100.0}
                strategy.tell(config, metrics, fidelity=1 / 3)
            else:
                strategy.tell(config, metrics)
        assert sorted({o.fidelity for o in strategy.observations}) == [1 / 3, 1.0]
        best = strategy.best()
        assert best is not None and best.fidelity == 1.0
        assert {o.fidelity for o in strategy.pareto_front()} == {1.0}
        strategy.ask()  # the strategy keeps proposing with mixed fidelities
        state = json.loads(json.dumps(strategy.state_dict()))
        restored = self._make(space, 99)
        restored.load_state_dict(state)
        assert [o.fidelity for o in restored.observations] == [
            o.fidelity for o in strategy.observations
        ]
        a, b = strategy.ask(), restored.ask()
        assert a == b

    def test_a_bad_fidelity_is_refused_with_its_value(self) -> None:
        space = small_space()
        strategy = self._make(space, 0)
        config = strategy.ask()
        bad_values: tuple[Any, ...] = (0.0, 1.5, -1, "half", True, None)
        for bad in bad_values:
            with pytest.raises(StrategyError, match=r"`fidelity` must be a number in \(0, 1\]"):
                strategy.tell(config, synthetic_metrics(space, config), fidelity=bad)
        assert len(strategy) == 0
