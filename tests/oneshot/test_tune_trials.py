"""Supernet training and weight-sharing scoring as Tune trials; resume after a failure."""

from __future__ import annotations

import json

import pytest
from oneshot_helpers import tiny_digits, tiny_nb201

torch = pytest.importorskip("torch")
pl = pytest.importorskip("pytorch_lightning")
tune = pytest.importorskip("ray.tune")

from raynas.oneshot import (  # noqa: E402
    OneShotError,
    make_search,
    supernet_trainable,
    weight_sharing_trainable,
)


class FailOnceAtEpoch3(pl.Callback):
    """Logs alpha at each epoch start to a file; fails the first attempt at epoch 3's start
    (after epoch 2 was reported with its checkpoint), like a lost node."""

    def __init__(self, log_path):
        self.log_path = str(log_path)

    def on_train_epoch_start(self, trainer, module):
        resumed = trainer.ckpt_path is not None
        with open(self.log_path, "a") as f:
            row = {"epoch": trainer.current_epoch + 1, "resumed": resumed}
            row["alpha"] = module.alpha.detach().flatten().tolist()
            f.write(json.dumps(row) + "\n")
        if trainer.current_epoch == 2 and not resumed:
            raise RuntimeError("simulated node failure")


@pytest.mark.ray
@pytest.mark.slow
def test_supernet_trial_resumes_from_its_checkpoint_after_a_failure(ray_session, tmp_path):
    log = tmp_path / "epochs.jsonl"
    trainable = tune.with_parameters(
        supernet_trainable,
        space=tiny_nb201(),
        data=tiny_digits(),
        callbacks=[FailOnceAtEpoch3(log)],
    )
    grid = tune.Tuner(
        trainable,
        param_space={
            "method": "darts",
            "epochs": 4,
            "arch_learning_rate": 0.05,
            "eigen_iterations": 2,
        },
        run_config=tune.RunConfig(
            storage_path=str(tmp_path / "ray"),
            failure_config=tune.FailureConfig(max_failures=1),
            verbose=0,
        ),
    ).fit()
    result = grid[0]
    assert result.error is None
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["epoch"], r["resumed"]) for r in rows] == [
        (1, False),
        (2, False),
        (3, False),
        (3, True),
        (4, True),
    ]
    # epoch 3 after the restore starts from the arch params the failed attempt had saved
    assert rows[3]["alpha"] == rows[2]["alpha"]
    assert rows[3]["alpha"] != rows[0]["alpha"]
    assert result.metrics["epoch"] == 4  # (the suite turns Tune's result loggers off)
    assert {"val_acc", "arch_str", "skip_share", "collapsed", "eigenvalue"} <= set(result.metrics)
    # the trial's checkpoint scores candidates by weight sharing, as a second Tune run
    space = tiny_nb201()
    score = tune.with_parameters(
        weight_sharing_trainable, supernet=result.checkpoint, data=tiny_digits()
    )
    scored = tune.Tuner(
        score,
        param_space=space.to_tune(),  # the same param_space as training from scratch
        tune_config=tune.TuneConfig(metric="val_acc", mode="max", num_samples=3),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray2"), verbose=0),
    ).fit()
    assert len(scored) == 3
    for r in scored:
        assert r.error is None and r.metrics["feasible"] is True
        assert 0.0 <= r.metrics["val_acc"] <= 1.0 and r.metrics["epoch"] == 1
        space.validate({k: v for k, v in r.config.items()})


def test_make_search_lists_the_methods():
    with pytest.raises(OneShotError, match=r"The `method` argument must be one of \['darts'"):
        make_search("enas", tiny_nb201())
