"""MultiObjectiveASHA driven through the TrialScheduler API on synthetic learning curves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sched_fakes import FakeController, curve, drive, make_trials

from raynas.objectives import Objective
from raynas.schedulers import MultiObjectiveASHA, SchedulerError, rank_and_crowding

OBJECTIVES = ["val_acc", "params:min"]


def _sched(**kw) -> MultiObjectiveASHA:
    kw.setdefault("objectives", OBJECTIVES)
    kw.setdefault("max_t", 8)
    kw.setdefault("grace_period", 1)
    kw.setdefault("reduction_factor", 2)
    return MultiObjectiveASHA(**kw)


def _report(sched, trial, t, **metrics):
    return sched.on_trial_result(
        FakeController([trial]), trial, {"training_iteration": t, **metrics}
    )


def test_rungs_follow_grace_period_reduction_factor_and_max_t() -> None:
    assert _sched(max_t=8, reduction_factor=2).milestones == [1, 2, 4, 8]
    assert _sched(max_t=10, grace_period=1, reduction_factor=3).milestones == [1, 3, 9]
    assert _sched(max_t=100, grace_period=5, reduction_factor=4).milestones == [5, 20, 80]


def test_dominated_trial_stops_at_the_first_rung() -> None:
    sched = _sched()
    good, bad = make_trials(2)
    assert _report(sched, good, 1, val_acc=0.9, params=100) == "CONTINUE"
    # worse accuracy and more parameters: dominated, and only 1 of 2 may continue
    assert _report(sched, bad, 1, val_acc=0.5, params=200) == "STOP"
    d = sched.decisions[-1]
    assert (d["trial_id"], d["rung"], d["position"], d["size"], d["kept"]) == (
        bad.trial_id, 0, 1, 2, 1,
    )  # fmt: skip


def test_non_dominated_trials_continue_and_crowding_breaks_ties() -> None:
    sched = _sched()
    a, b, c, d, e = make_trials(5)
    assert _report(sched, a, 1, val_acc=0.90, params=100) == "CONTINUE"
    assert _report(sched, b, 1, val_acc=0.50, params=200) == "STOP"  # dominated by a
    # c trades accuracy for size: non-dominated, at a boundary of the front -> continues
    assert _report(sched, c, 1, val_acc=0.95, params=300) == "CONTINUE"
    # d: smallest model -> a new boundary of the front -> continues
    assert _report(sched, d, 1, val_acc=0.70, params=50) == "CONTINUE"
    # e is non-dominated but lies between a and c, where the front is crowded; the rung holds
    # 5 results and keeps ceil(5/2) = 3: the boundaries c and d and then a (crowding 1.28 vs
    # e's 1.0) come first
    assert _report(sched, e, 1, val_acc=0.92, params=150) == "STOP"
    last = sched.decisions[-1]
    assert (last["position"], last["size"], last["kept"]) == (3, 5, 3)


def test_synthetic_population_dominated_stop_front_continues_to_max_t() -> None:
    # 4 Pareto-optimal trials (accuracy grows with size) and 12 dominated ones, each dominated
    # by a Pareto-optimal trial at every epoch (same curve shape, lower final accuracy, more
    # parameters). The first rung is reached in this order: the optimal ones first.
    front = [(0.80, 1_000), (0.88, 4_000), (0.93, 16_000), (0.96, 64_000)]
    rng = np.random.default_rng(0)
    dominated = []
    for i in range(12):
        acc, params = front[i % 4]
        dominated.append((acc - rng.uniform(0.05, 0.3), params * rng.uniform(1.1, 3.0)))
    finals = front + dominated
    trials = make_trials(len(finals))
    sched = _sched(max_t=8, reduction_factor=2)
    stopped = drive(sched, trials, finals, max_t=8)
    for trial in trials[:4]:
        assert stopped[trial.trial_id] == 8, "Pareto-optimal trials must run to max_t"
    for trial in trials[4:]:
        assert stopped[trial.trial_id] < 8, "every dominated trial is stopped at a rung"
    # only ~1/rf of each rung continued
    rung0 = [d for d in sched.decisions if d["rung"] == 0]
    assert len(rung0) == 16
    assert sum(d["action"] == "CONTINUE" for d in rung0) <= 8
    assert {e.trial_id for e in sched.pareto_set()} == {t.trial_id for t in trials[:4]}


def test_single_objective_keeps_the_top_fraction_like_asha() -> None:
    sched = _sched(objectives=["val_loss:min"], reduction_factor=3, max_t=9)
    trials = make_trials(9)
    losses = [0.5, 0.9, 0.3, 0.8, 0.7, 0.2, 0.95, 0.6, 0.1]
    actions = [_report(sched, t, 1, val_loss=v) for t, v in zip(trials, losses, strict=True)]
    for i, (action, v) in enumerate(zip(actions, losses, strict=True)):
        seen = sorted(losses[: i + 1])
        kept = math.ceil((i + 1) / 3)
        assert action == ("CONTINUE" if v in seen[:kept] else "STOP"), (i, v)


def test_constraints_rank_infeasible_results_behind_feasible_ones() -> None:
    sched = _sched(objectives=["val_acc", Objective("latency_ms", "min", ("<=", 5.0))])
    fast, slow, slower, ok = make_trials(4)
    assert _report(sched, fast, 1, val_acc=0.6, latency_ms=2.0) == "CONTINUE"
    # far more accurate but over the latency budget: infeasible, behind the feasible one
    assert _report(sched, slow, 1, val_acc=0.99, latency_ms=7.0) == "STOP"
    # rung of 3 keeps 2: both infeasible ones are behind `fast`; the smaller violation first
    assert _report(sched, slower, 1, val_acc=0.99, latency_ms=6.0) == "CONTINUE"
    assert sched.decisions[-1]["position"] == 1
    assert _report(sched, ok, 1, val_acc=0.5, latency_ms=4.0) == "CONTINUE"  # feasible: ahead
    assert {e.trial_id for e in sched.pareto_set()} == {fast.trial_id}


def test_infeasible_report_stops_at_once_and_never_enters_the_pareto_set() -> None:
    sched = _sched(grace_period=2)
    broken, fine = make_trials(2)
    out = _report(sched, broken, 1, val_acc=0.0, params=10, feasible=False, reason="NaN loss")
    assert out == "STOP"
    assert sched.decisions[-1]["reason"] == "infeasible: NaN loss"
    failed = {"training_iteration": 1, "val_acc": 0.0, "params": 10, "feasible": False}
    sched.on_trial_complete(FakeController([broken]), broken, failed)  # Tune tells it again
    assert len(sched.decisions) == 1
    assert _report(sched, fine, 1, val_acc=0.3, params=10) == "CONTINUE"
    assert [e.trial_id for e in sched.pareto_set()] == [fine.trial_id]


def test_missing_objective_is_carried_forward_or_skipped() -> None:
    sched = _sched(objectives=["val_acc", "latency_ms:min"])
    a, b = make_trials(2)
    # no latency yet: no decision at rung 1, the trial continues
    assert _report(sched, a, 1, val_acc=0.5) == "CONTINUE"
    assert sched.decisions == []
    # latency measured once, later reports omit it: the last value is reused
    assert _report(sched, a, 2, val_acc=0.6, latency_ms=3.0) == "CONTINUE"
    assert _report(sched, b, 1, val_acc=0.1, latency_ms=9.0) == "CONTINUE"  # first at rung 1
    assert _report(sched, b, 2, val_acc=0.2) == "STOP"  # dominated by a (latency reused: 9)
    assert sched.decisions[-1]["rung"] == 1


def test_trials_stop_at_max_t_and_complete_records_the_rung() -> None:
    sched = _sched(max_t=4)
    (a,) = make_trials(1)
    assert [_report(sched, a, t, val_acc=0.1 * t, params=5) for t in (1, 2, 3, 4)] == [
        "CONTINUE", "CONTINUE", "CONTINUE", "STOP",
    ]  # fmt: skip
    (b,) = make_trials(1)
    sched.on_trial_complete(
        FakeController([b]), b, {"training_iteration": 2, "val_acc": 0.05, "params": 5}
    )
    assert sched.decisions[-1]["trial_id"] == b.trial_id and sched.decisions[-1]["rung"] == 1


def test_state_survives_save_and_restore(tmp_path) -> None:
    front = [(0.8, 1_000), (0.9, 8_000), (0.7, 500)]
    finals = front + [(0.6, 3_000), (0.85, 9_000), (0.5, 100), (0.75, 2_000), (0.65, 700)]
    trials = make_trials(len(finals))
    first = _sched(max_t=8, reduction_factor=2, reference_point={"val_acc": 0.0, "params": 1e4})
    stopped = drive(first, trials, finals, max_t=3)
    path = tmp_path / "moasha.json"
    first.save(str(path))
    json.loads(path.read_text())  # plain JSON

    second = _sched(max_t=8, reduction_factor=2, reference_point={"val_acc": 0.0, "params": 1e4})
    second.restore(str(path))
    assert second.decisions == first.decisions
    assert second.pareto_set() == first.pareto_set()
    assert second.hypervolume() == first.hypervolume()
    # both continue identically from epoch 4
    s1 = drive(first, trials, finals, max_t=8, start=4, stopped=dict(stopped))
    s2 = drive(second, trials, finals, max_t=8, start=4, stopped=dict(stopped))
    assert s1 == s2
    assert second.decisions == first.decisions
    assert second.debug_string() == first.debug_string()


def test_restore_refuses_a_state_of_other_rungs_or_objectives(tmp_path) -> None:
    path = tmp_path / "s.json"
    _sched(max_t=8).save(str(path))
    with pytest.raises(SchedulerError, match=r"rungs at \[1.0, 2.0, 4.0, 8.0\].*\[1.0, 3.0, 9.0\]"):
        _sched(max_t=9, reduction_factor=3).restore(str(path))
    with pytest.raises(SchedulerError, match=r"optimizes \['val_acc', 'params'\].*\['val_loss'\]"):
        _sched(objectives=["val_loss:min"]).restore(str(path))


def test_pareto_set_and_hypervolume() -> None:
    sched = _sched(max_t=8)
    trials = make_trials(4)
    pts = [(0.9, 400.0), (0.8, 100.0), (0.7, 300.0), (0.95, 1000.0)]  # third is dominated
    for trial, (acc, params) in zip(trials, pts, strict=True):
        _report(sched, trial, 8, val_acc=acc, params=params)
    got = sched.pareto_set()
    assert [e.trial_id for e in got] == [trials[i].trial_id for i in (3, 0, 1)]  # best acc first
    assert got[0].metrics == {"val_acc": 0.95, "params": 1000.0}
    # by hand: ref (acc 0, params 1000); boxes 0.8*900 + (0.9-0.8)*600 = 780 (the 1000-param point adds nothing)
    assert sched.hypervolume({"val_acc": 0.0, "params": 1000.0}) == pytest.approx(780.0)
    assert sched.hypervolume([0.0, 1000.0]) == pytest.approx(780.0)
    assert sched.pareto_set(min_time=9) == []
    assert sched.hypervolume([0.0, 1000.0], min_time=9) == 0.0


def test_rank_and_crowding() -> None:
    losses = np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [2.0, 2.0], [5.0, 5.0]])
    ranks, crowd = rank_and_crowding(losses, np.array([0, 0, 0, 0, 1.0]))
    assert ranks.tolist() == [0, 0, 0, 1, 2]
    assert crowd[1] == pytest.approx(2.0) and np.isinf(crowd[[0, 2]]).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_t": 0}, r"`max_t` must be a finite number > 0.0, but got 0"),
        ({"grace_period": -1}, r"`grace_period` must be a finite number > 0.0, but got -1"),
        ({"reduction_factor": 1}, r"`reduction_factor` must be a finite number > 1.0, but got 1"),
        ({"grace_period": 10, "max_t": 5}, r"`grace_period` must be <= `max_t`, but got "),
        ({"time_attr": ""}, r"`time_attr` must be a non-empty str, but got ''"),
        ({"objectives": ["acc", "acc"]}, r"objective names must be unique"),
        ({"objectives": ["acc:best"]}, r"`mode` of objective `acc` must be one of"),
        ({"reference_point": [0.0]}, r"reference point must have 2 values .* got 1: \[0.0\]"),
        ({"reference_point": {"val_acc": 0}}, r"misses \['params'\]"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        _sched(**kwargs)


def test_hypervolume_needs_a_reference_point() -> None:
    with pytest.raises(SchedulerError, match=r"`ref` must be given .*\['val_acc', 'params'\]"):
        _sched().hypervolume()


def test_search_properties_from_tune_config() -> None:
    sched = _sched()
    assert sched.set_search_properties(None, None)
    assert sched.set_search_properties("val_acc", "max")
    assert not sched.set_search_properties("val_acc", "min")  # conflicts with the objective
    assert not sched.set_search_properties("val_loss", "min")  # not an objective
    bare = MultiObjectiveASHA(max_t=4)
    with pytest.raises(SchedulerError, match=r"needs `objectives`"):
        bare.on_trial_add(FakeController(), make_trials(1)[0])
    assert bare.set_search_properties("val_loss", "min")
    assert [o.name for o in bare.objectives] == ["val_loss"]
    assert bare.metric is None  # no single metric for Tune's strict metric check


def test_curve_helper_is_increasing() -> None:
    assert curve(0.9, 1) < curve(0.9, 2) < 0.9


def test_budget_and_reached_fidelity_of_early_stopping_schedulers() -> None:
    from ray.tune.schedulers import (
        ASHAScheduler,
        HyperBandForBOHB,
        HyperBandScheduler,
        PopulationBasedTraining,
    )

    from raynas.schedulers import budget_of, reached_fidelity

    assert budget_of(_sched(max_t=8)) == ("training_iteration", 8.0)
    assert budget_of(ASHAScheduler(time_attr="epoch", max_t=20)) == ("epoch", 20.0)
    assert budget_of(HyperBandScheduler(max_t=81)) == ("training_iteration", 81.0)
    assert budget_of(HyperBandForBOHB(max_t=27)) == ("training_iteration", 27.0)
    pbt = PopulationBasedTraining(hyperparam_mutations={"lr": [0.1, 0.01]})
    assert budget_of(pbt) is None and budget_of(None) is None
    assert reached_fidelity({"training_iteration": 2}, "training_iteration", 8) == 0.25
    assert reached_fidelity({"training_iteration": 9}, "training_iteration", 8) == 1.0
    with pytest.raises(
        SchedulerError, match=r"the result has no `epoch` \(its keys are \['val_acc'\]\)"
    ):
        reached_fidelity({"val_acc": 0.5}, "epoch", 8)
    with pytest.raises(SchedulerError, match=r"`max_t` must be > 0, but got 0"):
        reached_fidelity({"epoch": 1}, "epoch", 0)
