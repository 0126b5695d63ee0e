"""Every strategy passes the shared contract (raynas.testing.StrategyContract)."""

from __future__ import annotations

from raynas.strategies import (
    TPE,
    Acquisition,
    MultiObjectiveEvolution,
    Pool,
    PredictorGuided,
    RandomSearch,
    RegularizedEvolution,
    ReinforceController,
    Surrogate,
)
from raynas.testing import StrategyContract


class TestRandomSearch(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return RandomSearch(space, objectives=objectives, seed=seed)


class TestRegularizedEvolution(StrategyContract):
    def make_strategy(self, space, *, seed, objectives):
        return RegularizedEvolution(
            space,
            objectives=objectives,
            seed=seed,
            population_size=5,
            sample_size=2,
            crossover_rate=0.3,
        )


class TestMultiObjectiveEvolution(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return MultiObjectiveEvolution(space, objectives=objectives, seed=seed, population_size=6)


class TestTPE(StrategyContract):
    def make_strategy(self, space, *, seed, objectives):
        return TPE(space, objectives=objectives, seed=seed, n_startup=5)


class TestReinforceController(StrategyContract):
    def make_strategy(self, space, *, seed, objectives):
        return ReinforceController(space, objectives=objectives, seed=seed, learning_rate=0.2)


# small ensembles and pools, so the contract runs quickly
SMALL_PREDICTOR = dict(
    num_initial=5, ensemble_size=3, pool=Pool(parents=3, mutations_per_parent=10, num_random=10)
)


class TestPredictorGuided(StrategyContract):
    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(space, objectives=objectives, seed=seed, **SMALL_PREDICTOR)


class TestPredictorGuidedMultiObjective(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(
            space,
            objectives=objectives,
            seed=seed,
            surrogate=Surrogate(regressor="trees"),
            **SMALL_PREDICTOR,
        )


class TestPredictorGuidedObjectiveInputs(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(
            space,
            objectives=objectives,
            seed=seed,
            surrogate={"score": Surrogate(regressor="trees", inputs="encode")},
            **SMALL_PREDICTOR,
        )


class TestPredictorGuidedParEGO(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(
            space,
            objectives=objectives,
            seed=seed,
            num_initial=5,
            ensemble_size=2,
            pool=Pool(parents=2, mutations_per_parent=8, num_random=8),
            acquisition=Acquisition(kind="ucb", multi_objective="parego"),
        )


class TestPredictorGuidedNonDominated(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(
            space,
            objectives=objectives,
            seed=seed,
            acquisition=Acquisition(multi_objective="pnd"),
            **SMALL_PREDICTOR,
        )


class TestPredictorGuidedJointFront(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(
            space,
            objectives=objectives,
            seed=seed,
            acquisition=Acquisition(multi_objective="pfront"),
            **SMALL_PREDICTOR,
        )


class TestPredictorGuidedEpsilonWalk(StrategyContract):
    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        return PredictorGuided(
            space,
            objectives=objectives,
            seed=seed,
            acquisition=Acquisition(multi_objective="eps"),
            focus=8,
            **SMALL_PREDICTOR,
        )


class TestPredictorGuidedPreset(StrategyContract):
    """The measured setting ``get_strategy("predictor")`` builds: focus, sandwich, pfront, twins."""

    multi_objective = True

    def make_strategy(self, space, *, seed, objectives):
        from raynas.strategies import get_strategy

        return get_strategy(
            "predictor",
            space=space,
            objectives=objectives,
            seed=seed,
            num_samples=24,
            **SMALL_PREDICTOR,
        )
