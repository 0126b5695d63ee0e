"""The front door with Ray up: the cluster's resources checked before the first trial, every
space through the door, Tune callbacks passed through, data through the object store."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
import torch
from door_models import build_model
from ray import tune

import raynas
from raynas.frontdoor import ConfigError
from raynas.frontdoor.checks import check_cluster
from raynas.hardware import HardwareTarget
from raynas.search_spaces import Choice, DefineByRunSpace, MLPSpace

pytestmark = pytest.mark.ray

FAST = dict(min_runs=10, min_seconds=0.05, warmup_runs=2, energy="off")


def test_a_gpu_request_on_a_cpu_only_ray_is_refused_in_seconds(ray_session, tmp_path) -> None:
    t0 = time.time()
    with pytest.raises(
        ConfigError,
        match=r"`resources_per_trial` asks each trial for \{'CPU': 1.0, 'GPU': 0.3\}, but no node "
        r"of the Ray cluster has that; its nodes have \[\{.*'CPU': 2.0",
    ):
        raynas.search(
            "mlp",
            "digits",
            resources_per_trial={"gpu": 0.3, "cpu": 1},
            budget=1,
            storage_path=str(tmp_path),
            verbose=0,
        )
    assert time.time() - t0 < 60
    assert not os.path.exists(tmp_path / "raynas_search.pkl")


def test_a_target_whose_device_no_node_has_is_refused(ray_session, tmp_path) -> None:
    jetson = HardwareTarget(name="jetson", **FAST)
    with pytest.raises(
        ConfigError,
        match=r"`hardware` target `jetson` is measured on the node advertising 'hw:jetson', but "
        r"no node does \(device resources advertised: \['hw:cpu'\]\).*local_fallback=True",
    ):
        raynas.search(
            "mlp",
            "digits",
            objectives=["val_acc", "latency_p50_ms:min"],
            hardware=[jetson],
            storage_path=str(tmp_path),
            verbose=0,
        )
    check_cluster({"CPU": 1}, [HardwareTarget(name="jetson", local_fallback=True)])  # opted in
    check_cluster({"CPU": 1}, [HardwareTarget(name="cpu")])  # the fixture's node has hw:cpu
    with pytest.raises(ConfigError, match=r"asks each trial for \{'CPU': 1, 'tpu': 1\}"):
        check_cluster({"CPU": 1, "tpu": 1}, [], autoscaling=False)
    check_cluster({"CPU": 1, "tpu": 1}, [], autoscaling=True)  # a node may come: a warning


class _Seen(tune.Callback):
    """Writes every trial result it is given to a file (a user's Tune callback)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"trial": trial.trial_id, "val_acc": result.get("val_acc")}) + "\n")


def test_a_define_by_run_space_with_a_latency_objective_and_callbacks(
    ray_session, tmp_path
) -> None:
    seen = tmp_path / "seen.jsonl"
    results = raynas.search(
        DefineByRunSpace(build_model),
        "digits",
        objectives=["val_acc:max", "latency_p50_ms:min"],
        strategy="nsga2",
        hardware=[HardwareTarget(name="cpu", **FAST)],
        budget=2,
        max_epochs=3,
        storage_path=str(tmp_path / "runs"),
        name="dbr",
        callbacks=["tensorboard", _Seen(str(seen))],
        run_config={"stop": {"training_iteration": 1}},  # a RunConfig option passed through
        verbose=0,
    )
    assert len(results) == 2 and results.feasible()
    for c in results.feasible():
        assert c.metrics["latency_p50_ms"] > 0 and 0 <= c.metrics["val_acc"] <= 1
    lines = [json.loads(x) for x in seen.read_text().splitlines()]
    assert {x["trial"] for x in lines} == {c.trial_id for c in results.candidates}
    events = [
        f
        for c in results.candidates
        for f in os.listdir(c.trial_path)
        if f.startswith("events.out.tfevents")
    ]
    assert len(events) >= 2  # TensorBoard's files, one per trial
    assert [c.metrics["epoch"] for c in results.candidates] == [1, 1]  # stopped by `stop`
    model = results.load_model()  # a define-by-run network back, with its trained weights
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


@pytest.mark.slow
def test_a_200_mb_array_reaches_the_workers_through_the_object_store(ray_session, tmp_path):
    rng = np.random.default_rng(0)
    n = 52_000  # 52,000 x 1 x 32 x 32 float32 = 213 MB
    x = rng.normal(size=(n, 1, 32, 32)).astype("float32")
    y = (x[:, 0, 0, :4].sum(axis=1) > 0).astype("int64")
    assert x.nbytes > 200e6
    space = MLPSpace(
        input_shape=(1, 32, 32),
        num_classes=2,
        max_layers=1,
        width=Choice([16, 32]),
        batch_size=512,
        learning_rate=1e-3,
    )
    results = raynas.search(
        space,
        (x, y),
        budget=2,
        max_epochs=1,
        train_fraction=0.1,
        storage_path=str(tmp_path),
        name="big",
        verbose=0,
    )
    assert len(results.feasible()) == 2
    plan_file = os.path.join(results.path, "raynas_search.pkl")
    assert os.path.getsize(plan_file) < 1e6  # the plan holds no array
    # ...the data lies beside it, for resume
    assert os.path.getsize(os.path.join(results.path, "raynas_data.pkl")) > 200e6
