"""Results of trials a scheduler stopped early: told with their fidelity, ranked after full ones.

The documented treatment lives in :mod:`raynas.strategies.base`; these tests check each strategy's
part of it, the Tune adapter's ``budget``, and real ASHA / HyperBandForBOHB / MultiObjectiveASHA
runs in which every stopped trial reaches its strategy with the fidelity it reached.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from raynas.pareto import non_dominated_ranks
from raynas.strategies import (
    TPE,
    MultiObjectiveEvolution,
    PredictorGuided,
    RegularizedEvolution,
    ReinforceController,
    StrategyError,
)
from raynas.testing import conditional_space, small_space, synthetic_metrics
from raynas.tune import Searcher


def _tell_pair(strategy, space):
    """A complete result with a modest score and a truncated one with a far better score."""
    full, short = strategy.ask(), strategy.ask()
    strategy.tell(full, {"score": 1.0, "cost": 5.0})
    strategy.tell(short, {"score": 9.0, "cost": 1.0}, fidelity=0.25)
    return full, short


def test_non_dominated_ranks_sort_one_fidelity_level_after_another():
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [-5.0, -5.0], [2.0, 2.0]])  # losses
    viol = np.array([0.0, 0.0, 0.0, 3.0])
    fid = np.array([1.0, 1.0, 1 / 3, 1.0])
    ranks = non_dominated_ranks(pts, viol, fid)
    # the truncated point dominates everything, yet ranks after both complete feasible points;
    # the infeasible point ranks last whatever its fidelity
    assert ranks.tolist() == [0, 1, 2, 3]
    assert non_dominated_ranks(pts, viol).tolist() == [1, 2, 0, 3]


def test_evolution_tournament_prefers_the_complete_result():
    space = small_space()
    s = RegularizedEvolution(space, objectives=["score"], seed=0, population_size=2, sample_size=2)
    full, _ = _tell_pair(s, space)
    for _ in range(5):
        assert s._tournament() == full
    assert s.best().config == full


def test_nsga2_population_ranks_truncated_results_last():
    space = conditional_space()
    s = MultiObjectiveEvolution(space, objectives=["score", "cost:min"], seed=0, population_size=4)
    full, short = _tell_pair(s, space)
    ranks = dict(zip([s.observations[i].key for i in s._population], s._rank.tolist(), strict=True))
    assert ranks[space.key(full)] < ranks[space.key(short)]
    assert [o.config for o in s.pareto_front()] == [full]


def test_tpe_splits_good_and_bad_by_violation_then_fidelity_then_loss():
    space = conditional_space()
    s = TPE(space, objectives=["score"], seed=0, n_startup=3)
    configs = [s.ask() for _ in range(4)]
    s.tell(configs[0], {"score": 1.0})
    s.tell(configs[1], {"score": 50.0}, fidelity=0.5)  # best-looking, but truncated
    s.tell(configs[2], None)  # errored
    s.tell(configs[3], {"score": 2.0})
    loss = {
        s.observations[i].key: s._docs[s._tids[s.observations[i].key]]["result"]["loss"]
        for i in range(4)
    }
    order = sorted(loss, key=loss.get)
    assert order == [space.key(c) for c in (configs[3], configs[0], configs[1], configs[2])]
    assert space.validate(s.ask())  # hyperopt suggests from the ranked losses


def test_reinforce_rewards_a_truncated_result_at_most_like_the_worst_complete_one():
    space = conditional_space()
    s = ReinforceController(space, objectives=["score"], seed=0, learning_rate=0.5)
    first = s.ask()
    s.tell(first, {"score": 3.0}, fidelity=0.5)  # nothing complete to compare with: no update
    assert s._baseline is None and s._steps == 0
    a, b = s.ask(), s.ask()
    s.tell(a, {"score": 2.0})
    s.tell(b, {"score": 1.0})
    baseline = s._baseline
    s.tell(s.ask(), {"score": 100.0}, fidelity=0.1)
    # rewarded as -(-1.0) = 1.0 (the worst complete reward), never as 100
    d = s.baseline_decay
    assert s._baseline == pytest.approx(d * baseline + (1 - d) * 1.0)


def test_predictor_takes_the_fidelity_as_input_and_predicts_at_full_fidelity():
    space = conditional_space()
    s = PredictorGuided(space, objectives=["score"], seed=0, num_initial=4, ensemble_size=2)
    for _ in range(8):
        c = s.ask()
        s.tell(c, synthetic_metrics(space, c))
    s.ask()
    assert s._fidelity_input is False  # all complete: the surrogate is unchanged
    for _ in range(4):
        c = s.ask()
        s.tell(c, synthetic_metrics(space, c), fidelity=0.5)
    s._fit(len(s.observations), 0)
    assert s._fidelity_input is True
    features = np.array([s._encode(o.key, o.config) for o in s.observations[:3]])
    mean, std = s._predict(features)
    assert mean.shape == (3, 1) and np.isfinite(mean).all()


# -- the Tune adapter -----------------------------------------------------------------------------
def test_searcher_budget_from_a_scheduler_or_a_pair():
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, HyperBandForBOHB

    from raynas.schedulers import MultiObjectiveASHA

    space = small_space()

    def budget(b):
        return Searcher("random", space=space, metric="score", mode="max", budget=b).budget

    assert budget(ASHAScheduler(max_t=9)) == ("training_iteration", 9.0)
    assert budget(HyperBandForBOHB(max_t=27, time_attr="epoch")) == ("epoch", 27.0)
    assert budget(MultiObjectiveASHA(objectives=["score"], max_t=5)) == ("training_iteration", 5.0)
    assert budget(FIFOScheduler()) is None
    assert budget(("epoch", 10)) == ("epoch", 10.0)
    for bad in (("epoch",), ("epoch", 0), (3, 10), "asha", 27):
        with pytest.raises(StrategyError, match="`budget` must be a Tune scheduler"):
            budget(bad)


def test_searcher_tells_the_fidelity_a_result_reached():
    space = small_space()
    s = Searcher(
        "evolution",
        space=space,
        metric="score",
        mode="max",
        seed=0,
        budget=("training_iteration", 9),
    )
    for t, it in (("a", 1), ("b", 9), ("c", 3)):
        s.suggest(t)
        s.on_trial_complete(t, {"score": 1.0, "training_iteration": it})
    s.suggest("d")
    s.on_trial_complete("d", {"score": 1.0})  # no time value reported: full fidelity
    assert [o.fidelity for o in s.strategy.observations] == [1 / 9, 1.0, 1 / 3, 1.0]
    restored = Searcher("evolution", space=space, metric="score", mode="max", seed=1)
    restored.set_state(s.get_state())
    assert [o.fidelity for o in restored.strategy.observations] == [1 / 9, 1.0, 1 / 3, 1.0]


def test_a_trial_ended_while_paused_is_told_its_latest_result():
    """HyperBandForBOHB stops paused trials with no final result: not an error."""
    space = small_space()
    s = Searcher(
        "random", space=space, metric="score", mode="max", seed=0, budget=("training_iteration", 9)
    )
    s.suggest("t")
    s.on_pause("t")
    s.on_trial_result("t", {"score": 0.5, "training_iteration": 3})
    s.on_trial_complete("t", None)
    (obs,) = s.strategy.observations
    assert obs.ok and obs.metrics["score"] == 0.5 and obs.fidelity == pytest.approx(1 / 3)
    s.suggest("u")
    s.on_trial_result("u", {"score": 0.9, "training_iteration": 1})
    s.on_trial_complete("u", None, error=True)  # a crash stays a failure
    assert not s.strategy.observations[1].ok


# -- real Tune runs with early stopping --------------------------------------------------------------
import ray.cloudpickle  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

MAX_T = 9


def _curve(config):
    """A learning curve per config: ``score`` rises to the config's synthetic score."""
    from ray import tune

    from raynas.testing import small_space, synthetic_metrics

    final = synthetic_metrics(small_space(), config)
    for t in range(1, MAX_T + 1):
        frac = 1.0 - 0.5**t
        tune.report({"score": final["score"] * frac, "cost": final["cost"]})


def _run(scheduler, searcher, tmp_path, name, samples=12):
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    tuner = tune.Tuner(
        _curve,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(searcher, max_concurrent=2),
            scheduler=scheduler,
            num_samples=samples,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0),
    )
    return tuner.fit()


def _check_fidelities(results, searcher):
    space = searcher.strategy.space
    reached = {
        space.key({k: r.config[k] for k in ("a", "b", "c")}): r.metrics["training_iteration"]
        for r in results
    }
    obs = searcher.strategy.observations
    assert len(obs) == len(reached)
    for o in obs:
        assert o.fidelity == pytest.approx(reached[o.key] / MAX_T)
    fids = sorted(o.fidelity for o in obs)
    assert fids[0] < 1.0, "the scheduler stopped no trial: nothing was tested"
    assert fids[-1] == 1.0
    assert searcher.strategy.best().fidelity == 1.0


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize("scheduler_name", ["asha", "bohb"])
def test_stopped_trials_reach_the_strategy_with_their_fidelity(
    ray_session, tmp_path, scheduler_name
):
    from ray.tune.schedulers import ASHAScheduler, HyperBandForBOHB

    if scheduler_name == "asha":
        sched = ASHAScheduler(
            metric="score", mode="max", max_t=MAX_T, grace_period=1, reduction_factor=3
        )
    else:
        sched = HyperBandForBOHB(metric="score", mode="max", max_t=MAX_T, reduction_factor=3)
    searcher = Searcher(
        "evolution",
        space=small_space(),
        metric="score",
        mode="max",
        seed=0,
        population_size=4,
        budget=sched,
    )
    results = _run(sched, searcher, tmp_path, scheduler_name)
    _check_fidelities(results, searcher)


@pytest.mark.ray
@pytest.mark.slow
def test_multi_objective_asha_with_nsga2_tells_fidelities(ray_session, tmp_path):
    from raynas.schedulers import MultiObjectiveASHA

    sched = MultiObjectiveASHA(
        objectives=["score:max", "cost:min"], max_t=MAX_T, reduction_factor=3
    )
    searcher = Searcher(
        "nsga2",
        space=small_space(),
        objectives=["score:max", "cost:min"],
        seed=0,
        population_size=4,
        budget=sched,
    )
    results = _run(sched, searcher, tmp_path, "moasha")
    _check_fidelities(results, searcher)
    assert {o.fidelity for o in searcher.strategy.pareto_front()} == {1.0}
