"""The tuners on Ray: every tuner runs the ported intro example, Hyperband continues promoted
candidates from their weights and gives a front with a latency objective, the best models
predict as reported, and a project is reloaded or continued instead of retrained."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tuner_models import accuracy, build_model, digits

from raynas import ConfigError
from raynas.tuners import Hyperband, RandomSearch

pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def _rows(exp: Path) -> dict[str, list[dict]]:
    out = {}
    for result in exp.glob("NASTrainable_*/result.json"):
        lines = result.read_text().split("\n")[:-1]  # complete lines only
        out[result.parent.name.split("_")[1]] = [json.loads(x) for x in lines if x.strip()]
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tuner", "trials"), [("random", 2), ("grid", 2), ("bayesian", 2), ("hyperband", 4)]
)
def test_the_ported_intro_example_runs_through_every_tuner(
    ray_session, tmp_path, tuner, trials
) -> None:
    spec = importlib.util.spec_from_file_location("kt_port", ROOT / "examples/kerastuner_port.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--tuner", tuner, "--max-trials", "2", "--epochs", "1", "--max-epochs", "2"]
    argv += ["--factor", "2", "--directory", str(tmp_path), "--quiet"]
    result = module.main(argv)
    assert len(result.results) == trials and all(t.status != "FAILED" for t in result.trials)
    best = result.get_best_hyperparameters(1)[0]
    assert set(best.values) >= {"units", "learning_rate"}
    assert 32 <= best.get("units") <= 512
    model = result.hypermodel.build(best)  # untrained, of the best's shape
    assert model[1].out_features == best.get("units")
    if tuner == "grid":  # the grid's first two configs, in order
        assert [t.hyperparameters.get("units") for t in result.trials] == [32, 32]


def test_hyperband_continues_a_promoted_candidate_from_its_weights(ray_session, tmp_path) -> None:
    good = {"units": 64, "learning_rate": 1e-2, "batch_size": 32}
    bad = {"units": 16, "learning_rate": 1e-3, "batch_size": 32}
    data = digits()
    tuner = Hyperband(
        build_model,
        objective="val_accuracy",
        max_epochs=2,
        factor=2,  # brackets: 2 candidates for 1 epoch, the best on to 2; then 2 for 2
        directory=str(tmp_path),
        project_name="hb",
        resources_per_trial={"cpu": 2},  # one trial at a time: `good` is paused, then resumed
        verbose=0,
        options={"points_to_evaluate": [good, bad]},
    )
    tuner.search(*data["train"], validation_data=data["val"])
    rows = _rows(tmp_path / "hb")
    assert len(rows) == 4
    by_units = {}
    for trial in tuner.trials:
        by_units.setdefault(trial.hyperparameters.get("units"), trial)
    promoted = rows[by_units[64].trial_id]
    assert [r["epoch"] for r in promoted] == [1, 2]
    # resumed from its checkpoint: Tune restarted it (iterations since restore count anew),
    # the epoch count and the weights carried on (the loss keeps falling)
    assert promoted[1]["iterations_since_restore"] == 1
    assert promoted[1]["train_loss"] < promoted[0]["train_loss"]
    assert by_units[16].status == "STOPPED" and by_units[16].best_step == 1


def test_a_multi_objective_hyperband_with_latency_returns_a_front(ray_session, tmp_path) -> None:
    from raynas.hardware import HardwareTarget

    data = digits()
    tuner = Hyperband(
        build_model,
        objective=["val_accuracy", "latency_p50_ms"],
        max_epochs=2,
        factor=2,
        hardware=[HardwareTarget(name="cpu", warmup_runs=2, min_runs=10, min_seconds=0.05)],
        directory=str(tmp_path),
        project_name="mo",
        verbose=0,
    )
    results = tuner.search(*data["train"], validation_data=data["val"])
    front = results.pareto_front()
    assert front and len(results) == 4
    assert all(c.metrics["latency_p50_ms"] > 0 and 0 < c.metrics["val_acc"] <= 1 for c in front)
    best = tuner.get_best_hyperparameters(len(front))
    assert [h.values for h in best] == [c.config for c in front]  # the front, best accuracy first


def test_best_models_predict_as_reported_and_a_project_is_reloaded(ray_session, tmp_path) -> None:
    data = digits()
    args = dict(objective="val_accuracy", max_trials=2, directory=str(tmp_path), verbose=0)
    tuner = RandomSearch(build_model, project_name="rs", **args)
    tuner.search(*data["train"], epochs=1, validation_data=data["val"], test_data=data["test"])
    best_trial = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    assert accuracy(model, *data["val"]) == pytest.approx(best_trial.metrics["val_acc"], abs=1e-9)
    test_acc = tuner.results.evaluate(best_trial.candidate, split="test")["test_acc"]
    assert accuracy(model, *data["test"]) == pytest.approx(test_acc, abs=1e-9)
    assert best_trial.metrics["train_acc"] > 0  # Keras's `accuracy` is reported too

    again = RandomSearch(build_model, project_name="rs", **args)  # KerasTuner's reload
    assert again.get_best_hyperparameters(1)[0].values == best_trial.hyperparameters.values
    before = sorted(_rows(tmp_path / "rs"))
    again.search(*data["train"], epochs=1, validation_data=data["val"])
    assert sorted(_rows(tmp_path / "rs")) == before and len(again.results) == 2
    with pytest.raises(ConfigError, match=r"was searched with `max_trials` = 2, not 3"):
        RandomSearch(build_model, project_name="rs", **{**args, "max_trials": 3}).search(
            *data["train"], epochs=1
        )


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from tuner_models import build_model, digits
from raynas.tuners import RandomSearch
data = digits()
tuner = RandomSearch(build_model, objective="val_accuracy", max_trials=3, directory={dir!r},
                     project_name="killed", verbose=0, options={{"max_concurrent": 1}})
tuner.search(*data["train"], epochs={epochs}, validation_data=data["val"])
"""


@pytest.mark.slow
def test_overwrite_false_continues_a_killed_search_without_retraining(
    ray_session, tmp_path
) -> None:
    epochs = 30
    script = tmp_path / "search.py"
    script.write_text(
        textwrap.dedent(
            SCRIPT.format(tests=str(Path(__file__).parent), dir=str(tmp_path), epochs=epochs)
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["TUNE_GLOBAL_CHECKPOINT_S"] = "0"
    log = tmp_path / "driver.log"
    exp = tmp_path / "killed"
    with open(log, "wb") as out:
        driver = subprocess.Popen(
            [sys.executable, str(script)],
            env=env,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def finished() -> dict[str, list[dict]]:
        return {k: v for k, v in _rows(exp).items() if v and v[-1]["epoch"] == epochs}

    deadline = time.time() + 400
    try:
        while time.time() < deadline and not finished():
            assert driver.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        done = finished()
        assert done, "no trial finished before the deadline"
        assert len(done) < 3, "the search finished before it could be killed"
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    time.sleep(1)
    done = finished()  # as the killed driver left them

    data = digits()
    tuner = RandomSearch(
        build_model,
        objective="val_accuracy",
        max_trials=3,
        directory=str(tmp_path),
        project_name="killed",
        verbose=0,
        options={"max_concurrent": 1},
    )
    tuner.search(*data["train"], epochs=epochs, validation_data=data["val"])
    rows = _rows(exp)
    assert len(tuner.results) == 3 and all(len(r) == epochs for r in rows.values())
    for trial_id, kept in done.items():  # never trained again
        assert rows[trial_id] == kept
