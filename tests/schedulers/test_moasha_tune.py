"""MultiObjectiveASHA inside a real ``tune.Tuner`` run (tiny function trainable, local Ray)."""

from __future__ import annotations

import math

import pytest
from ray import tune

from raynas.schedulers import MultiObjectiveASHA

pytestmark = pytest.mark.ray

MAX_T = 9


def _trainable(config):
    # accuracy saturates at `quality`; bigger models are more accurate but cost parameters
    for t in range(1, MAX_T + 1):
        acc = config["quality"] * (1 - math.exp(-t / 2))
        tune.report({"val_acc": acc, "params": config["params"], "feasible": True})


def test_tuner_run_stops_dominated_trials_and_reports_the_front(ray_session, tmp_storage) -> None:
    # (quality, params): four Pareto-optimal candidates and four dominated ones
    grid = [
        (0.8, 10),
        (0.9, 40),
        (0.95, 160),
        (0.97, 640),
        (0.6, 50),
        (0.7, 200),
        (0.5, 30),
        (0.85, 700),
    ]
    sched = MultiObjectiveASHA(
        objectives=["val_acc", "params:min"],
        max_t=MAX_T,
        grace_period=1,
        reduction_factor=3,
        reference_point={"val_acc": 0.0, "params": 1000},
    )
    tuner = tune.Tuner(
        _trainable,
        param_space={
            "pair": tune.grid_search(grid),
            "quality": tune.sample_from(lambda s: s.config["pair"][0]),
            "params": tune.sample_from(lambda s: s.config["pair"][1]),
        },
        tune_config=tune.TuneConfig(scheduler=sched, max_concurrent_trials=2, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=tmp_storage, verbose=0),
    )
    results = tuner.fit()
    assert not results.errors
    iters = {tuple(r.config["pair"]): r.metrics["training_iteration"] for r in results}
    assert len(iters) == 8
    assert any(t < MAX_T for t in iters.values()), "some trial must be stopped early"
    assert iters[(0.97, 640)] == MAX_T or iters[(0.95, 160)] == MAX_T
    for dominated in [(0.6, 50), (0.7, 200), (0.5, 30), (0.85, 700)]:
        assert iters[dominated] < MAX_T, dominated
    front = sched.pareto_set(min_time=MAX_T)
    assert front, "the scheduler the Tuner used is the one we hold"
    assert {e.config["params"] for e in front} <= {10, 40, 160, 640}
    assert sched.hypervolume() > 0
