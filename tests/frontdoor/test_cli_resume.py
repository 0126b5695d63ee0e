"""The ``raynas`` CLI: config errors, and a search whose driver is SIGKILLed and then resumed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from raynas.cli import main

CONFIG = """
name: {name}
seed: 0
space: {{type: mlp, max_layers: 2, width: [16, 32, 64, 128], batch_size: 64,
         learning_rate: 0.003, weight_decay: 0.0001, dropout: 0.0, batch_norm: false}}
data: digits
objectives: [val_acc:max]
strategy: {{name: evolution, population_size: 3, sample_size: 2}}
budget: {budget}
training: {{max_epochs: {epochs}}}
resources_per_trial: {{cpu: 1}}
max_concurrent: 2
storage_path: {storage}
verbose: 0
"""


def _write(tmp_path: Path, text: str, name: str = "search.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("space: {type: mlp}\nbogus: 1\n", r"`bogus` is not an option of raynas.search"),
        (
            "space: {type: resnet}\n",
            r"`space.type` must be one of \['mlp', 'mobile', 'nb201', "
            r"'transformer'\] or 'module:attribute', but got 'resnet'",
        ),
        ("space: {type: mlp}\nstrategy: anneal\n", r"`strategy` must be one of \["),
        ("space: {type: mlp}\nbudget: -3\n", r"`budget` must be an int >= 1"),
        (
            "space: {type: mlp}\ntraining: {max_epochs: 0}\n",
            r"`training.max_epochs` must be an "
            r"int >= 1, but got 0",
        ),
        (
            "space: {type: mlp, width: {int: [64, 16]}}\n",
            r"`space.width`: `low` must be less "
            r"than or equal to `high`",
        ),
        ("space: {type: 'nosuch.module:Space'}\n", r"cannot import module 'nosuch.module'"),
        (
            "space: {type: mlp, depth: 3}\n",
            r"`space` = 'mlp': `depth` is not an argument of MLPSpace; its arguments are "
            r"\['input_shape', 'num_classes', 'min_layers', 'max_layers'",
        ),
        ("space: [unclosed\n", r"not valid YAML"),
    ],
)
def test_run_refuses_bad_configs_with_the_key_and_value(tmp_path, capsys, text, message) -> None:
    import re

    code = main(["run", _write(tmp_path, text), "--storage-path", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists(), "nothing may start before the config is checked"


def test_resume_and_report_refuse_a_folder_that_is_not_an_experiment(tmp_path, capsys) -> None:
    assert main(["resume", str(tmp_path)]) == 2
    assert "must be a raynas experiment folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2


def test_help_of_every_subcommand(capsys) -> None:
    for cmd in ("run", "resume", "report", "export", "measure"):
        with pytest.raises(SystemExit) as exit_info:
            main([cmd, "--help"])
        assert exit_info.value.code == 0
        assert "usage: raynas " + cmd in capsys.readouterr().out


def _finished_trials(exp: Path, epochs: int) -> dict[str, list[dict]]:
    done = {}
    for result in exp.glob("*/result.json"):
        # complete lines only: the trial may be writing its last one while this reads
        lines = result.read_text().split("\n")[:-1]
        rows = [json.loads(line) for line in lines if line.strip()]
        if rows and (rows[-1].get("epoch") == epochs or rows[-1].get("feasible") is False):
            done[result.parent.name] = rows
    return done


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_search_killed_with_sigkill_resumes_and_finishes_its_budget(tmp_path) -> None:
    # a digits MLP trains an epoch in about 0.05 s: with 3 epochs all 6 trials could finish
    # between two polls; with 40 the last two start only after the second pair has trained
    budget, epochs = 6, 40
    storage = tmp_path / "runs"
    cfg = _write(
        tmp_path, CONFIG.format(name="killed", budget=budget, epochs=epochs, storage=storage)
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ADDRESS", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS")
    }
    # the driver snapshots its experiment state after every event instead of every 2 s, so what
    # it knows of a trial's checkpoints lags the trial's own reports by at most one report
    env["TUNE_GLOBAL_CHECKPOINT_S"] = "0"
    exp = storage / "killed"
    log = tmp_path / "driver.log"
    with open(log, "wb") as out:
        driver = subprocess.Popen(
            [sys.executable, "-m", "raynas", "run", cfg],
            env=env,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.time() + 400
    try:
        while time.time() < deadline and len(_finished_trials(exp, epochs)) < 2:
            assert driver.poll() is None, (
                f"the search ended (exit code {driver.returncode}) before it could be killed; "
                f"its output ends:\n{log.read_text()[-3000:]}"
            )
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray it started
        driver.wait(timeout=60)
    before = _finished_trials(exp, epochs)
    assert 2 <= len(before) < budget, f"{len(before)} finished before the kill"

    resumed = subprocess.run(
        [sys.executable, "-m", "raynas", "resume", str(exp)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    import raynas

    results = raynas.load_results(str(exp))
    assert len(results) == budget
    finished = [c for c in results.candidates if c.metrics.get("epoch") == epochs]
    assert len(finished) == budget, [
        (c.trial_id, c.metrics.get("epoch"), c.reason) for c in results.candidates
    ]
    keys = {json.dumps(c.config, sort_keys=True) for c in results.candidates}
    assert len(keys) == budget, "a candidate was trained twice"
    after = _finished_trials(exp, epochs)
    for trial, rows in before.items():  # nothing measured before the kill is lost
        assert after[trial][: len(rows)] == rows
    for trial, rows in before.items():  # resumed from its checkpoint, not restarted: a SIGKILL
        # between a trial's last report and the driver's snapshot of it re-runs that one epoch
        again = [r["epoch"] for r in after[trial][len(rows) :]]
        assert again in ([], [epochs]), (trial, [r["epoch"] for r in after[trial]])
