"""The candidate life cycle without Ray: train, report, checkpoint, resume, fail as a result."""

from __future__ import annotations

import math

import pytest
import torch

from raynas.evaluation import (
    REPORTED_METRICS,
    EvaluationSettings,
    InMemoryReporter,
    count_flops,
    count_params,
    reported_metrics,
    run_candidate,
)
from tests.evaluation.helpers import FaultySpace, TinyMLPSpace


def _run(space, dm, config, reporter=None, **settings):
    reporter = reporter or InMemoryReporter()
    last = run_candidate(
        config,
        space=space,
        datamodule=dm,
        reporter=reporter,
        settings=EvaluationSettings(**settings),
        num_threads=1,
    )
    return reporter, last


def test_default_mlp_reaches_90_percent_on_digits_in_5_epochs(digits):
    from raynas.search_spaces import MLPSpace

    space = MLPSpace(input_shape=(1, 8, 8), num_classes=10)
    reporter, last = _run(space, digits, space.default_config(), max_epochs=5)
    assert [r["epoch"] for r in reporter.reports] == [1, 2, 3, 4, 5]
    assert last["feasible"] is True
    assert last["val_acc"] >= 0.90
    # Keras's `accuracy`: on the training batches as they were trained, rising with the epochs
    train_acc = [r["train_acc"] for r in reporter.reports]
    assert 0.0 < train_acc[0] < train_acc[-1] <= 1.0


def test_every_report_carries_the_documented_keys_and_static_costs(digits):
    space = TinyMLPSpace()
    config = {**space.default_config(), "depth": 2}
    reporter, _ = _run(space, digits, config, max_epochs=3)
    model = space.build(config)
    for r in reporter.reports:
        assert set(reported_metrics("classification")) <= set(r)
        assert r["params"] == count_params(model)
        assert r["flops"] == count_flops(model, torch.zeros(1, 1, 8, 8)) > 0
        assert r["reason"] == ""
    times = [r["train_time_s"] for r in reporter.reports]
    assert times == sorted(times) and times[0] > 0
    assert len(reporter.checkpoints) == 3


def test_same_seed_same_metrics_other_seed_other_metrics(digits):
    space = TinyMLPSpace()
    config = {**space.default_config(), "dropout": 0.3}

    def metrics(seed):
        reporter, _ = _run(space, digits, {**config, "seed": seed}, max_epochs=2)
        return [(r["train_loss"], r["val_loss"], r["val_acc"]) for r in reporter.reports]

    assert metrics(7) == metrics(7)
    assert metrics(7) != metrics(8)


class _Killed(Exception):
    pass


class _KillAfter(InMemoryReporter):
    def __init__(self, n):
        super().__init__()
        self.n = n

    def report(self, metrics, checkpoint_dir):
        super().report(metrics, checkpoint_dir)
        if len(self.reports) == self.n:
            raise _Killed


def test_resumed_candidate_continues_where_the_checkpoint_left_off(digits):
    space = TinyMLPSpace()
    config = {**space.default_config(), "dropout": 0.2, "seed": 3}
    whole, _ = _run(space, digits, config, max_epochs=4)
    killed = _KillAfter(2)
    with pytest.raises(_Killed):
        _run(space, digits, config, killed, max_epochs=4)
    resumed, _ = _run(
        space, digits, config, InMemoryReporter(resume_from=killed.checkpoints[-1]), max_epochs=4
    )
    assert [r["epoch"] for r in resumed.reports] == [3, 4]
    for got, want in zip(resumed.reports, whole.reports[2:], strict=True):
        for key in ("train_loss", "val_loss", "val_acc"):
            assert got[key] == pytest.approx(want[key], rel=1e-6), key
    assert resumed.reports[0]["train_time_s"] > killed.reports[-1]["train_time_s"]


def test_restore_with_a_changed_learning_rate_uses_the_new_one(digits):
    space = TinyMLPSpace()
    config = {**space.default_config(), "learning_rate": 0.001}
    first, _ = _run(space, digits, config, max_epochs=1)
    second = InMemoryReporter(resume_from=first.checkpoints[-1])
    _run(space, digits, {**config, "learning_rate": 0.01}, second, max_epochs=2)
    state = torch.load(second.checkpoints[-1] + "/candidate.ckpt", weights_only=False)
    assert state["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(0.01)
    assert [r["epoch"] for r in second.reports] == [2]


@pytest.mark.parametrize(
    ("mode", "at_step", "expected"),
    [
        ("nan", 5, r"training loss became nan at epoch 1, step 5"),
        ("inf", 30, r"training loss became inf at epoch 2, step 7"),
        ("memory", 3, r"out of memory: MemoryError: forced by the test"),
        ("cuda_oom", 3, r"out of memory: RuntimeError: CUDA out of memory"),
        ("shape", 2, r"forward failed at epoch 1: RuntimeError: mat1 and mat2"),
        ("build_error", 1, r"build failed: ValueError: width 0 is not a layer"),
    ],
)
def test_failures_are_infeasible_results(digits, mode, at_step, expected):
    reporter, last = _run(FaultySpace(), digits, {"mode": mode, "at_step": at_step}, max_epochs=3)
    assert last["feasible"] is False
    assert last == reporter.reports[-1]
    assert set(REPORTED_METRICS + ("val_acc",)) <= set(last)
    import re

    assert re.search(expected, last["reason"]), last["reason"]
    assert last["val_acc"] == 0.0 and last["train_acc"] == 0.0 and math.isnan(last["val_loss"])
    assert all(r["feasible"] for r in reporter.reports[:-1])
    if mode == "inf":  # 23 steps per epoch: the first epoch was reported before it failed
        assert [r["epoch"] for r in reporter.reports] == [1, 1]


def test_invalid_configs_are_infeasible_and_name_the_field(digits):
    space = TinyMLPSpace()
    _, last = _run(space, digits, {**space.default_config(), "width": 17}, max_epochs=1)
    assert last["feasible"] is False
    assert last["reason"].startswith("invalid config: `width`")
    _, last = _run(space, digits, {**space.default_config(), "optimizer": "rmsprop"}, max_epochs=1)
    assert "invalid config: `optimizer` must be one of ['adam', 'adamw', 'sgd']" in last["reason"]
    _, last = _run(space, digits, {**space.default_config(), "max_epochs": 0}, max_epochs=1)
    assert "invalid config: `max_epochs` must be an int >= 1, but got 0" in last["reason"]


def test_time_budget_ends_training_after_the_epoch_that_crosses_it(digits):
    reporter, last = _run(
        FaultySpace(),
        digits,
        {"mode": "slow", "at_step": 1, "batch_size": 256},
        max_epochs=50,
        time_budget_s=0.5,
    )
    assert last["feasible"] is True
    assert 1 <= last["epoch"] < 50
    assert last["train_time_s"] >= 0.5
    assert reporter.reports[-2]["train_time_s"] < 0.5 if len(reporter.reports) > 1 else True


def test_train_fraction_trains_on_a_subset_and_config_overrides_settings(digits):
    def steps(model, config):
        return {"train_steps": model.calls}

    counts = {}
    for fraction in (1.0, 0.25):
        reporter = InMemoryReporter()
        run_candidate(
            {"mode": "ok", "at_step": 100, "batch_size": 64, "train_fraction": fraction},
            space=FaultySpace(),
            datamodule=digits,
            reporter=reporter,
            settings=EvaluationSettings(max_epochs=1),
            objectives=[steps],
            num_threads=1,
        )
        counts[fraction] = reporter.reports[-1]["train_steps"]
    assert counts == {1.0: 23, 0.25: 6}  # ceil(1437 / 64), ceil(359 / 64)


def test_objective_hooks_run_once_after_the_last_epoch(digits):
    from raynas.evaluation import FlopsObjective

    space = TinyMLPSpace()
    config = space.default_config()
    seen = []

    def record(model, cfg):
        seen.append((model.training, cfg))
        return {"hook_calls": len(seen)}

    reporter = InMemoryReporter()
    run_candidate(
        config,
        space=space,
        datamodule=digits,
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=3),
        objectives=[FlopsObjective(input_shape=(1, 8, 8), key="flops_hook"), record],
        num_threads=1,
    )
    final, earlier = reporter.reports[-1], reporter.reports[:-1]
    assert final["flops_hook"] == count_flops(space.build(config), torch.zeros(1, 1, 8, 8))
    assert final["hook_calls"] == 1 and seen == [(False, space.validate(config))]
    assert all("flops_hook" not in r for r in earlier)


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        (lambda m, c: 1 / 0, r"objective <lambda> failed: ZeroDivisionError: division by zero"),
        (lambda m, c: 3.0, r"objective <lambda> must return a dict, but returned float"),
        (lambda m, c: {"val_loss": 0.0}, r"reserved metric keys \['val_loss'\]"),
    ],
)
def test_a_failing_objective_hook_makes_the_candidate_infeasible(digits, hook, expected):
    import re

    space = TinyMLPSpace()
    reporter = InMemoryReporter()
    run_candidate(
        space.default_config(),
        space=space,
        datamodule=digits,
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=1),
        objectives=[hook],
        num_threads=1,
    )
    assert reporter.reports[-1]["feasible"] is False
    assert re.search(expected, reporter.reports[-1]["reason"])


def test_a_trial_restored_after_its_last_epoch_repeats_its_final_report(digits):
    space = TinyMLPSpace()
    config = space.default_config()
    done, _ = _run(space, digits, config, max_epochs=2)
    again, last = _run(
        space, digits, config, InMemoryReporter(resume_from=done.checkpoints[-1]), max_epochs=2
    )
    assert again.reports == [done.reports[-1]] and last == done.reports[-1]


def test_checkpoint_every_n_epochs_and_always_the_last(digits):
    space = TinyMLPSpace()
    reporter, _ = _run(space, digits, space.default_config(), max_epochs=5, checkpoint_every=2)
    saved = [
        torch.load(p + "/candidate.ckpt", weights_only=False)["epoch"] for p in reporter.checkpoints
    ]
    assert saved == [1, 3, 4]  # Lightning counts from 0: after epochs 2, 4 and the last (5)
    reporter, _ = _run(space, digits, space.default_config(), max_epochs=2, checkpoint_every=0)
    assert reporter.checkpoints == []


def test_start_objectives_are_in_every_report_and_can_end_a_candidate_before_training(digits):
    space = TinyMLPSpace()
    config = space.default_config()
    calls = []

    def latency(model, cfg):
        calls.append(model.training)
        return {"latency_p50_ms": 1.5}

    latency.measure_at = "start"  # type: ignore[attr-defined]
    reporter = InMemoryReporter()
    run_candidate(
        config,
        space=space,
        datamodule=digits,
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=3),
        objectives=[latency],
        num_threads=1,
    )
    assert [r["latency_p50_ms"] for r in reporter.reports] == [1.5, 1.5, 1.5]
    assert calls == [False]

    def unmeasurable(model, cfg):
        return {"feasible": False, "reason": "export failed: unsupported op"}

    unmeasurable.measure_at = "start"  # type: ignore[attr-defined]
    reporter = InMemoryReporter()
    run_candidate(
        config,
        space=space,
        datamodule=digits,
        reporter=reporter,
        settings=EvaluationSettings(max_epochs=3),
        objectives=[unmeasurable],
        num_threads=1,
    )
    assert len(reporter.reports) == 1
    assert reporter.reports[0]["feasible"] is False and reporter.reports[0]["epoch"] == 0
    assert "export failed: unsupported op" in reporter.reports[0]["reason"]
