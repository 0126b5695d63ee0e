"""The Tune adapter: unit behaviour without a Ray runtime, then real Tuner runs."""

from __future__ import annotations

import math
import os
import re
import sys

import pytest

from raynas.strategies import RegularizedEvolution, StrategyError
from raynas.testing import small_space, synthetic_metrics
from raynas.tune import STRATEGIES, Searcher, get_strategy


def test_name_table_lists_the_strategies():
    assert {"random", "evolution", "nsga2", "tpe", "reinforce", "predictor"} <= set(STRATEGIES)
    for name in STRATEGIES:
        objectives = ["score:max", "cost:min"] if name in ("nsga2",) else ["score:max"]
        s = get_strategy(name, space=small_space(), objectives=objectives, seed=0)
        assert small_space().validate(s.ask())


def test_unknown_strategy_name_is_refused_with_the_valid_ones():
    with pytest.raises(
        StrategyError,
        match=r"The `strategy` argument must be one of \[.*'evolution'.*\]\. Got: bayes",
    ):
        get_strategy("bayes", space=small_space())
    with pytest.raises(StrategyError, match="must be one of"):
        Searcher("bayes", space=small_space(), metric="score", mode="max")


def test_unknown_strategy_argument_is_refused():
    with pytest.raises(
        StrategyError, match=r"`populaton_size` is not an argument of Regular.*population_size"
    ):
        get_strategy("evolution", space=small_space(), populaton_size=3)


def test_constructor_errors_name_the_argument():
    space = small_space()
    with pytest.raises(StrategyError, match="`space` is required"):
        Searcher("random", metric="score", mode="max")
    with pytest.raises(StrategyError, match="`mode` is required"):
        Searcher("random", space=space, metric="score")
    with pytest.raises(StrategyError, match="one entry per metric"):
        Searcher("random", space=space, metric=["a", "b"], mode=["max"])
    with pytest.raises(StrategyError, match="either `objectives` or `metric`"):
        Searcher("random", space=space, metric="a", mode="max", objectives=["a"])
    built = RegularizedEvolution(space, seed=0)
    with pytest.raises(StrategyError, match="already built"):
        Searcher(built, seed=1)
    with pytest.raises(StrategyError, match="no objective"):
        Searcher("random", space=space).suggest("t1")


def test_suggest_and_complete_tell_the_strategy():
    space = small_space()
    s = Searcher("evolution", space=space, metric="score", mode="max", seed=0, population_size=4)
    configs = {f"t{i}": s.suggest(f"t{i}") for i in range(3)}
    assert len({space.key(c) for c in configs.values()}) == 3
    s.on_trial_complete("t0", synthetic_metrics(space, configs["t0"]))
    s.on_trial_complete("t1", None, error=True)
    s.on_trial_complete("t2", {"score": math.nan, "feasible": True})
    s.on_trial_complete("t2", {"score": 1.0})  # a second completion of the same trial is ignored
    s.on_trial_complete("unknown", {"score": 1.0})
    obs = s.strategy.observations
    assert [o.ok for o in obs] == [True, False, False]
    assert s.strategy.best().key == space.key(configs["t0"])


def test_feasible_false_in_the_result_is_told_as_infeasible():
    space = small_space()
    s = Searcher("random", space=space, metric="score", mode="max", seed=0)
    cfg = s.suggest("t")
    s.on_trial_complete("t", {"score": 100.0, "feasible": False, "reason": "out of memory"})
    (obs,) = s.strategy.observations
    assert not obs.feasible and not obs.ok and obs.metrics["score"] == 100.0
    assert obs.config == cfg


def test_metric_and_mode_from_tune_config():
    space = small_space()
    s = Searcher("random", space=space, seed=0)
    assert s.set_search_properties("score", "min", {})
    assert s.metric == "score" and s.mode == "min"
    assert s.set_search_properties(None, None, {})
    assert s.set_search_properties("score", "min", {})
    with pytest.raises(StrategyError, match="disagree"):
        s.set_search_properties("score", "max", {})


def test_several_metrics_with_modes():
    space = small_space()
    s = Searcher("nsga2", space=space, metric=["score", "cost"], mode=["max", "min"], seed=0)
    # Tune sees the primary objective (its strict check reads every intermediate result);
    # the strategy optimizes all of them
    assert s.metric == "score" and s.mode == "max"
    assert [(o.name, o.mode) for o in s.strategy.objectives] == [("score", "max"), ("cost", "min")]
    cfg = s.suggest("t")
    s.on_trial_complete("t", synthetic_metrics(space, cfg))
    assert s.strategy.observations[0].ok


def test_per_objective_predictor_arguments_are_checked_against_the_metrics():
    space = small_space()
    s = Searcher(
        "predictor",
        space=space,
        metric=["score", "cost"],
        mode=["max", "min"],
        seed=0,
        surrogate={"score": {"regressor": "trees", "inputs": "encode"}},
    )
    assert s.strategy.objective_inputs == {"score": "encode"}
    # named after a metric Tune sets later, checked when it does, before any suggestion
    late = Searcher("predictor", space=space, seed=0, surrogate={"accuracy": {"inputs": "encode"}})
    with pytest.raises(StrategyError, match=r"`surrogate` names \['accuracy'\]"):
        late.set_search_properties("score", "max", {})


def test_objectives_with_constraints():
    space = small_space()
    s = Searcher("evolution", space=space, objectives=["score", "cost <= 0.5"], seed=0)
    cfg = s.suggest("t")
    s.on_trial_complete("t", {"score": 1.0, "cost": 2.0})
    assert s.strategy.observations[0].violation == pytest.approx(1.5)
    assert cfg


def test_exhausted_space_finishes_the_search():
    space = small_space()
    s = Searcher("random", space=space, metric="score", mode="max", seed=0)
    for i in range(24):
        assert isinstance(s.suggest(str(i)), dict)
    assert s.suggest("24") == Searcher.FINISHED


def test_save_and_restore_resume_the_same_search(tmp_path):
    space = small_space()
    a = Searcher("evolution", space=space, metric="score", mode="max", seed=3, population_size=4)
    for i in range(6):
        cfg = a.suggest(str(i))
        a.on_trial_complete(str(i), synthetic_metrics(space, cfg))
    running = a.suggest("running")
    path = os.path.join(tmp_path, "searcher.pkl")
    a.save(path)
    b = Searcher("evolution", space=space, metric="score", mode="max", seed=99, population_size=4)
    b.restore(path)
    assert b.suggest("next") == a.suggest("next")
    b.on_trial_complete("running", synthetic_metrics(space, running))  # resumed trial completes
    assert len(b.strategy.observations) == 7


def test_adopted_trials_are_never_suggested_again_and_complete_like_suggested_ones():
    # raynas.resume rebuilds a lost searcher state this way from the trials Tune restores
    space = small_space()
    s = Searcher("evolution", space=space, metric="score", mode="max", seed=0, population_size=4)
    done, running = {"a": "x", "b": 2.0, "c": "p"}, {"a": "y", "b": 1, "c": "q"}
    s.adopt("done", done)  # 2.0 as Tune may hand it back for Choice([1, 2, 3])
    s.on_trial_complete("done", {"score": 1.0})
    s.adopt("running", running)
    assert [o.config for o in s.strategy.observations] == [space.validate(done)]
    assert s.strategy.pending == [space.validate(running)]
    suggested = []
    while (cfg := s.suggest(f"t{len(suggested)}")) != Searcher.FINISHED:
        suggested.append(space.key(cfg))
    assert len(suggested) == 22 == len(set(suggested))  # 24 configs, less the two adopted
    assert not {space.key(done), space.key(running)} & set(suggested)
    s.on_trial_complete("running", {"score": 2.0})
    assert s.strategy.best().config == space.validate(running)
    with pytest.raises(StrategyError, match=r"`config` is not a config of the space"):
        s.adopt("bad", {"a": "z", "b": 1, "c": "p"})


def test_sync_trials_agrees_with_the_trials_tune_restores():
    # Tune's state files copied at different moments: the searcher's is older for some trials
    # and newer for others than Tune's list of trials
    space = small_space()
    s = Searcher("evolution", space=space, metric="score", mode="max", seed=0, population_size=4)
    told, ended, lost = (s.suggest(t) for t in ("told", "ended", "lost"))
    s.on_trial_complete("told", {"score": 1.0})
    unknown = {"a": "y", "b": 3, "c": "r"}
    unknown_running = {"a": "x", "b": 3, "c": "r"}
    assert space.key(unknown) not in {space.key(c) for c in (told, ended, lost)}
    counts = s.sync_trials(
        [
            ("told", {**told, "marks": "/tmp"}, "done", {"score": 1.0}),  # known: nothing to do
            ("ended", ended, "done", {"score": 3.0}),  # finished after the searcher's save
            ("new", unknown, "error", None),  # made after the searcher's save, then failed
            ("later", unknown_running, "running", {"score": 0.5}),
            ("alien", {"a": "q"}, "done", {"score": 9.0}),  # not of this space: skipped
        ]
    )
    assert counts == {"told": 2, "adopted": 1, "dropped": 1}
    observed = {o.key: o.ok for o in s.strategy.observations}
    assert observed == {space.key(told): True, space.key(ended): True, space.key(unknown): False}
    # "lost" never ran (Tune's list lacks it): its config may come again; "later" may not
    assert s.strategy.pending == [space.validate(unknown_running)]
    again = s.sync_trials([])
    assert again == {"told": 0, "adopted": 0, "dropped": 1}  # "later" is gone from the list
    assert s.strategy.is_new(space.key(lost)) and s.strategy.pending == []


def test_add_evaluated_point_normalizes_the_config():
    space = small_space()
    s = Searcher("random", space=space, metric="score", mode="max", seed=0)
    s.add_evaluated_point({"a": "x", "b": 2.0, "c": "p"}, 3.0)  # 2.0 from Tune for Choice([1,2,3])
    s.add_evaluated_point({"a": "y", "b": 1, "c": "q"}, None, error=True)
    assert [o.ok for o in s.strategy.observations] == [True, False]
    assert s.strategy.observations[0].config["b"] == 2
    two = Searcher("nsga2", space=space, metric=["score", "cost"], mode=["max", "min"], seed=0)
    with pytest.raises(StrategyError, match=r"`value` is one number \(3.0\) but the search has 2"):
        two.add_evaluated_point({"a": "x", "b": 1, "c": "p"}, 3.0)
    two.add_evaluated_point({"a": "x", "b": 1, "c": "p"}, [3.0, 1.0])
    assert two.strategy.observations[0].metrics == {"score": 3.0, "cost": 1.0}


def test_enqueue_validates_every_config_before_anything_is_asked():
    space = small_space()
    s = RegularizedEvolution(space, objectives=["score:max"], seed=0)
    with pytest.raises(
        StrategyError,
        match=r"`configs\[1\]` is not a config of the space \(\{'a': 'z'.*\}\): .*'z'",
    ):
        s.enqueue([{"a": "x", "b": 1, "c": "p"}, {"a": "z", "b": 1, "c": "p"}])
    with pytest.raises(StrategyError, match=r"`configs` must be a list of configs.*dict"):
        s.enqueue({"a": "x", "b": 1, "c": "p"})
    with pytest.raises(StrategyError, match=r"`configs\[0\]` must be a config \(a dict\)"):
        s.enqueue(["a=x"])
    assert s.queued == []  # nothing of a refused call was queued


def test_a_queued_config_told_before_its_turn_is_not_asked():
    space = small_space()
    s = RegularizedEvolution(space, objectives=["score:max"], seed=0)
    first, second = {"a": "x", "b": 1, "c": "p"}, {"a": "y", "b": 2, "c": "q"}
    s.enqueue([first, second])
    s.tell(first, {"score": 1.0})  # measured elsewhere meanwhile
    assert s.ask() == second
    assert space.key(s.ask()) not in {space.key(first), space.key(second)}


def test_points_to_evaluate_are_suggested_first_and_survive_save_and_restore(tmp_path):
    space = small_space()
    points = [
        {"a": "y", "b": 3, "c": "s"},
        {"a": "x", "b": 2.0, "c": "q"},
        {"a": "x", "b": 1, "c": "r"},
    ]
    kwargs = dict(space=space, metric="score", mode="max", population_size=4)
    s = Searcher("evolution", seed=0, points_to_evaluate=points, **kwargs)
    assert s.suggest("t0") == points[0]
    path = os.path.join(tmp_path, "searcher.pkl")
    s.save(path)
    restored = Searcher("evolution", seed=5, **kwargs)
    restored.restore(path)
    for searcher in (s, restored):
        assert searcher.suggest("t1") == {"a": "x", "b": 2, "c": "q"}  # normalized by the space
        assert searcher.suggest("t2") == points[2]
    after = s.suggest("t3")
    assert after == restored.suggest("t3") and after not in points
    with pytest.raises(
        StrategyError, match=r"`points_to_evaluate\[1\]` is not a config .*`b` is missing"
    ):
        Searcher(
            "random",
            space=space,
            metric="score",
            mode="max",
            points_to_evaluate=[points[0], {"a": "x", "c": "p"}],
        )


def test_evaluated_rewards_warm_start_the_strategy_without_running_the_points():
    space = small_space()
    points = [
        {"a": "x", "b": 1, "c": "p"},
        {"a": "x", "b": 2, "c": "p"},
        {"a": "y", "b": 1, "c": "p"},
        {"a": "y", "b": 2, "c": "p"},
    ]
    rewards = [
        {"score": 2.0, "cost": 1.0},
        [3.0, 0.5],  # one value per objective, in their order
        None,  # it failed
        {"score": 9.0, "cost": 0.1, "feasible": False},
    ]
    s = Searcher(
        "nsga2",
        space=space,
        metric=["score", "cost"],
        mode=["max", "min"],
        seed=0,
        points_to_evaluate=points,
        evaluated_rewards=rewards,
    )
    obs = s.strategy.observations
    assert [o.ok for o in obs] == [True, True, False, False]
    assert obs[1].metrics == {"score": 3.0, "cost": 0.5}
    asked = [s.suggest(f"t{i}") for i in range(20)]
    assert not {space.key(c) for c in asked} & {space.key(p) for p in points}
    # a single objective may come from TuneConfig later: the rewards wait for it
    late = Searcher(
        "random", space=space, seed=0, points_to_evaluate=points[:2], evaluated_rewards=[1.0, 2.5]
    )
    assert late.strategy.observations == ()
    late.set_search_properties("score", "max", {})
    assert [o.metrics for o in late.strategy.observations] == [{"score": 1.0}, {"score": 2.5}]
    assert late.strategy.best().config == points[1]


def test_evaluated_rewards_errors_name_the_entry():
    space = small_space()
    points = [{"a": "x", "b": 1, "c": "p"}, {"a": "x", "b": 2, "c": "p"}]
    two = dict(
        space=space, metric=["score", "cost"], mode=["max", "min"], points_to_evaluate=points
    )
    with pytest.raises(StrategyError, match="2 points but 1 rewards"):
        Searcher("nsga2", evaluated_rewards=[1.0], **two)
    with pytest.raises(
        StrategyError, match=r"`evaluated_rewards\[1\]` is one number \(4.0\) but the search has 2"
    ):
        Searcher("nsga2", evaluated_rewards=[[1.0, 2.0], 4.0], **two)
    with pytest.raises(StrategyError, match=r"`evaluated_rewards\[0\]` has 3 values"):
        Searcher("nsga2", evaluated_rewards=[[1.0, 2.0, 3.0], None], **two)
    with pytest.raises(
        StrategyError,
        match=r"`evaluated_rewards\[1\]` names none of the objectives \['score', 'cost'\]",
    ):
        Searcher("nsga2", evaluated_rewards=[None, {"acc": 0.9}], **two)
    with pytest.raises(
        StrategyError, match=r"`evaluated_rewards\[0\]` must be a dict of metrics.*str"
    ):
        Searcher("nsga2", evaluated_rewards=["0.9", None], **two)
    with pytest.raises(StrategyError, match="without `points_to_evaluate`"):
        Searcher("random", space=space, metric="score", mode="max", evaluated_rewards=[1.0])
    late = Searcher(
        "random",
        space=space,
        seed=0,
        points_to_evaluate=points,
        evaluated_rewards=[1.0, [2.0, 3.0]],
    )
    with pytest.raises(StrategyError, match=r"`evaluated_rewards\[1\]` has 2 values"):
        late.set_search_properties("score", "max", {})
    assert late.strategy.observations == ()  # checked all before telling any


# -- real Tune runs -------------------------------------------------------------------------------
# Ray workers cannot import this test module: ship its functions by value.
import ray.cloudpickle  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _objective(config):
    from ray import tune

    from raynas.testing import small_space, synthetic_metrics

    config = {k: v for k, v in config.items() if k != "tag"}
    metrics = synthetic_metrics(small_space(), config)
    if config["c"] == "s":
        raise RuntimeError("this candidate crashes")
    if config["c"] == "r":
        metrics["score"] = float("nan")
    metrics["feasible"] = config["a"] != "y" or config["b"] != 3
    tune.report(metrics)


@pytest.mark.ray
@pytest.mark.slow
def test_tuner_with_concurrency_limiter_survives_failures(ray_session, tmp_path):
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    space = small_space()
    points = [{"a": "x", "b": 2, "c": "s"}, {"a": "y", "b": 1, "c": "q"}]  # the first one crashes
    searcher = Searcher(
        "evolution", space=space, seed=0, population_size=4, points_to_evaluate=points
    )
    tuner = tune.Tuner(
        _objective,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(searcher, max_concurrent=2),
            metric="score",
            mode="max",
            num_samples=10,
        ),
        param_space={"tag": "constant"},  # Tune passes metric/mode on only with a param_space
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="limiter", verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 10
    configs = [{k: v for k, v in r.config.items() if k != "tag"} for r in results]
    assert len({space.key(c) for c in configs}) == 10
    crashed = sum(c["c"] == "s" for c in configs)
    assert sum(r.error is not None for r in results) == crashed
    # a trial's directory is named <trainable>_<id>_<n>_<config>, n counting suggestions from 1
    order = {int(re.search(r"_(\d+)_a=", os.path.basename(r.path)).group(1)): r for r in results}
    first = [order[1], order[2]]
    assert [{k: v for k, v in r.config.items() if k != "tag"} for r in first] == points


from ray.tune import Callback  # noqa: E402


class _InterruptAfter(Callback):
    """Presses Ctrl+C once $RAYNAS_TEST_INTERRUPT_AFTER trials have completed."""

    def __init__(self):
        self.completed = 0

    def on_trial_complete(self, iteration, trials, trial, **info):
        import signal

        self.completed += 1
        if self.completed == int(os.environ["RAYNAS_TEST_INTERRUPT_AFTER"]):
            os.kill(os.getpid(), signal.SIGINT)


def _marking_objective(config):
    import uuid
    from pathlib import Path

    from ray import tune

    from raynas.testing import small_space, synthetic_metrics

    config = dict(config)
    Path(config.pop("marks"), uuid.uuid4().hex).touch()
    tune.report(synthetic_metrics(small_space(), config))


@pytest.mark.ray
@pytest.mark.slow
def test_tuner_restore_resumes_the_search_state(ray_session, tmp_path, monkeypatch):
    from ray import tune

    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("RAYNAS_TEST_INTERRUPT_AFTER", "5")
    space = small_space()
    searcher = Searcher(
        "evolution", space=space, metric="score", mode="max", seed=0, population_size=4
    )
    tuner = tune.Tuner(
        _marking_objective,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            num_samples=12,
            max_concurrent_trials=1,
        ),
        param_space={"marks": str(marks)},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            name="resume",
            verbose=0,
            callbacks=[_InterruptAfter()],
        ),
    )
    tuner.fit()  # interrupted: Tune saves the experiment state and returns
    assert 5 <= len(list(marks.iterdir())) < 12
    monkeypatch.setenv("RAYNAS_TEST_INTERRUPT_AFTER", "1000")
    restored = tune.Tuner.restore(str(tmp_path / "resume"), trainable=_marking_objective)
    assert tune.Tuner.can_restore(str(tmp_path / "resume"))
    results = restored.fit()
    assert len(list(marks.iterdir())) >= 12
    configs = [{k: v for k, v in r.config.items() if k != "marks"} for r in results]
    assert len(results) == 12
    assert len({space.key(c) for c in configs}) == 12  # the restored searcher remembered them
