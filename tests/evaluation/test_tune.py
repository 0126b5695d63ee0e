"""NASTrainable inside real Tune runs: ASHA, failures as results, retry from a checkpoint."""

from __future__ import annotations

import pytest

from raynas import NASTrainable
from raynas.evaluation import EvaluationSettings, InMemoryReporter, reported_metrics, run_candidate
from tests.evaluation.helpers import DieOnceAfter, FaultySpace, TinyMLPSpace, threads_of

pytestmark = pytest.mark.ray


def _tuner(trainable, param_space, storage, recorder, *, samples=1, scheduler=None, **run_kwargs):
    from ray import tune

    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            num_samples=samples,
            metric="val_acc",
            mode="max",
            scheduler=scheduler,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            storage_path=storage, verbose=0, callbacks=[recorder], **run_kwargs
        ),
    )


def test_asha_over_8_candidates_stops_some_early_and_every_report_has_the_keys(
    ray_session, tmp_storage, recorder
):
    from ray import tune

    from raynas.search_spaces import MLPSpace

    space = MLPSpace(input_shape=(1, 8, 8), num_classes=10, max_layers=2)
    trainable = NASTrainable(space, "digits", max_epochs=4, train_fraction=0.5, seed=0)
    asha = tune.schedulers.ASHAScheduler(max_t=4, grace_period=1, reduction_factor=2)
    param_space = {**space.to_tune(), "seed": tune.randint(0, 1000)}
    results = _tuner(trainable, param_space, tmp_storage, recorder, samples=8, scheduler=asha).fit()

    assert len(results) == 8 and not results.errors
    epochs = {tid: [r["epoch"] for r in rs] for tid, rs in recorder.results.items()}
    assert len(epochs) == 8
    assert all(e == list(range(1, len(e) + 1)) for e in epochs.values())
    assert any(len(e) < 4 for e in epochs.values()), epochs  # stopped early
    assert any(len(e) == 4 for e in epochs.values()), epochs  # some ran to the end
    keys = set(reported_metrics("classification"))
    for reports in recorder.results.values():
        for r in reports:
            assert keys <= set(r), sorted(keys - set(r))
            assert r["feasible"] is True and 0.0 <= r["val_acc"] <= 1.0


def test_failing_candidates_end_as_infeasible_results_and_the_run_completes(
    ray_session, tmp_storage, recorder
):
    from ray import tune

    trainable = NASTrainable(
        FaultySpace(), "digits", max_epochs=2, train_fraction=0.3, objectives=[threads_of]
    )
    # a user's own resource request replaces the trainable's, and the trial uses what it got
    trainable = tune.with_resources(trainable, {"cpu": 2})
    param_space = {"mode": tune.grid_search(["ok", "nan", "build_error", "memory"]), "at_step": 3}
    results = _tuner(trainable, param_space, tmp_storage, recorder).fit()

    assert not results.errors
    last = {r.config["mode"]: r.metrics for r in results}
    assert last["ok"]["feasible"] is True and last["ok"]["epoch"] == 2
    assert last["ok"]["threads"] == 2
    assert last["nan"]["reason"] == "training loss became nan at epoch 1, step 3"
    assert last["build_error"]["reason"] == "build failed: ValueError: width 0 is not a layer"
    assert last["memory"]["reason"] == "out of memory: MemoryError: forced by the test"
    for mode in ("nan", "build_error", "memory"):
        assert last[mode]["feasible"] is False
        assert set(reported_metrics("classification")) <= set(last[mode])
    assert all(r.metrics["done"] for r in results)  # every trial ended normally


def test_killed_trial_is_retried_from_its_checkpoint_and_continues(
    ray_session, tmp_storage, tmp_path, recorder
):
    from ray import tune

    space = TinyMLPSpace()
    config = {**space.default_config(), "dropout": 0.2, "seed": 5}
    trainable = DieOnceAfter(
        space, "digits", max_epochs=4, marker=str(tmp_path / "died"), die_after=2
    )
    results = _tuner(
        trainable,
        config,
        tmp_storage,
        recorder,
        failure_config=tune.FailureConfig(max_failures=1),
    ).fit()

    assert (tmp_path / "died").exists() and not results.errors
    (reports,) = recorder.results.values()
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4]
    assert [r["training_iteration"] for r in reports] == [1, 2, 3, 4]
    assert reports[2]["pid"] != reports[1]["pid"]  # epoch 3 ran in a new worker

    # the same candidate without interruption: the restored weights, optimizer and random
    # streams make epochs 3 and 4 the same as if nothing had happened
    whole = InMemoryReporter()
    run_candidate(
        config,
        space=space,
        datamodule=trainable.datamodule,
        reporter=whole,
        settings=EvaluationSettings(max_epochs=4),
        num_threads=1,
    )
    for got, want in zip(reports, whole.reports, strict=True):
        for key in ("train_loss", "val_loss", "val_acc"):
            assert got[key] == pytest.approx(want[key], rel=1e-6), (got["epoch"], key)
