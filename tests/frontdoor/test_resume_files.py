"""``raynas resume`` reads Tune's state files first: cut short, replaced by the driver's staged
copy or refused; out of step, mended.

The files are built here as Tune writes them (no Ray runtime), with one damaged at a time.
"""

from __future__ import annotations

import json

import pytest
import ray.cloudpickle as cloudpickle
from ray.tune import PlacementGroupFactory
from ray.tune.experiment import Trial
from ray.tune.utils.serialization import TuneFunctionEncoder

from raynas._resume import ResumeError, check_state_files, saved_trials

SESSION = "2026-01-01_00-00-00"


def _trial(trial_id: str, status: str, config: dict, last: dict | None = None):
    trial = Trial(
        "NASTrainable",
        config=config,
        trial_id=trial_id,
        evaluated_params=_flat(config),  # as Tune's SearchGenerator keeps a suggestion
        stub=True,
        placement_group_factory=PlacementGroupFactory([{"CPU": 1}]),
    )
    trial.create_placement_group_factory()
    trial.set_status(status)
    if last:
        trial.run_metadata.last_result = last
    return trial.get_json_state()


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in config.items():
        out.update(_flat(v, f"{prefix}{k}/") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _folder(tmp_path, live: set, counter: int):
    trials = [
        _trial("done1", Trial.TERMINATED, {"layers": [{"width": 16}]}, {"val_acc": 0.5}),
        _trial("err2", Trial.ERROR, {"layers": [{"width": 32}]}),
        _trial("run3", Trial.RUNNING, {"layers": [{"width": 64}], "opt": {"lr": 0.1}}),
    ]
    with open(tmp_path / f"experiment_state-{SESSION}.json", "w") as f:
        json.dump({"trial_data": trials, "runner_data": {}}, f, cls=TuneFunctionEncoder)
    limiter = {"max_concurrent": 2, "batch": False, "live_trials": set(live)}
    limiter["num_unfinished_live_trials"] = len(live)
    gen = {"counter": counter, "total_samples": 6, "finished": False, "experiment": None}
    with open(tmp_path / f"search_gen_state-{SESSION}.json", "wb") as f:
        cloudpickle.dump({**gen, "name:ConcurrencyLimiter": limiter}, f)
    return tmp_path


def _generator(folder) -> dict:
    with open(folder / f"search_gen_state-{SESSION}.json", "rb") as f:
        return cloudpickle.load(f)


def test_the_saved_trials_are_what_the_searcher_suggested_with_their_status(tmp_path):
    folder = _folder(tmp_path, {"run3"}, 3)
    assert saved_trials(str(folder)) == [
        ("done1", {"layers": [{"width": 16}]}, "done", {"val_acc": 0.5, "trial_id": "done1"}),
        ("err2", {"layers": [{"width": 32}]}, "error", None),
        # Tune flattens a suggested config's nested dicts ("opt/lr"); undone here. run3 has
        # not reported: Tune's last result is its trial_id alone
        ("run3", {"layers": [{"width": 64}], "opt": {"lr": 0.1}}, "running", None),
    ]


def test_state_files_that_agree_are_left_as_they_are(tmp_path):
    folder = _folder(tmp_path, {"run3"}, 3)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert check_state_files(str(folder)) is None
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_running_trial_tune_never_saved_stops_holding_a_slot(tmp_path):
    # the generator's file was copied after the experiment state: it made a 4th trial, which
    # the limiter counts as running but Tune will never run: with one slot, a hang
    folder = _folder(tmp_path, {"run3", "lost4"}, 4)
    said = check_state_files(str(folder))
    assert said is not None and "had made 4 trials, the experiment state has 3" in said
    assert "1 running trials it lacks are dropped" in said
    gen = _generator(folder)
    assert gen["counter"] == 3  # the lost trial's share of the budget is spent again
    limiter = gen["name:ConcurrencyLimiter"]
    assert limiter["live_trials"] == {"run3"} and limiter["num_unfinished_live_trials"] == 1
    assert check_state_files(str(folder)) is None  # mended for good


def test_a_running_trial_the_limiter_missed_is_counted(tmp_path):
    # the other way round: the experiment state is newer; the limiter would drop run3's result
    folder = _folder(tmp_path, set(), 2)
    assert "0 running trials it lacks are dropped and 1 it has" in check_state_files(str(folder))
    gen = _generator(folder)
    assert gen["counter"] == 3 and gen["name:ConcurrencyLimiter"]["live_trials"] == {"run3"}


def _staging(ray_tmp, folder, session="session_2026-01-01_00-00-00_000000_1"):
    """The driver staging folder Tune would have used for ``folder``'s search."""
    staging = ray_tmp / "ray" / session / "artifacts" / SESSION / folder.name / "driver_artifacts"
    staging.mkdir(parents=True)
    return staging


@pytest.mark.parametrize("name", ["experiment_state", "search_gen_state"])
@pytest.mark.parametrize("cut", [0, 30])
def test_a_tune_state_file_cut_short_is_refused_naming_it(tmp_path, monkeypatch, name, cut):
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "raytmp"))
    folder = _folder(_mkdir(tmp_path / "exp"), {"run3"}, 3)
    file = folder / f"{name}-{SESSION}.json"
    staged = _staging(tmp_path / "raytmp", folder) / file.name
    staged.write_bytes(file.read_bytes()[:7])  # the staging copy is no better: no way back
    file.write_bytes(file.read_bytes()[:cut])
    why = "empty \\(0 bytes\\)" if cut == 0 else "unreadable \\(30 bytes: "
    with pytest.raises(
        ResumeError, match=rf"its state file {file.name} is {why}.*raytmp/ray.*warm_start="
    ):
        check_state_files(str(folder))
    assert len(file.read_bytes()) == cut  # nothing rewritten


@pytest.mark.parametrize("name", ["experiment_state", "search_gen_state"])
def test_a_state_file_cut_short_is_replaced_by_the_drivers_staged_copy(tmp_path, monkeypatch, name):
    # seen in CI: SIGKILLed while Tune copied search_gen_state-*.json, the file was left empty;
    # the driver had written it whole into its staging folder under /tmp/ray first
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "raytmp"))
    folder = _folder(_mkdir(tmp_path / "exp"), {"run3"}, 3)
    file = folder / f"{name}-{SESSION}.json"
    whole = file.read_bytes()
    older = _staging(tmp_path / "raytmp", folder, "session_2025-12-31_00-00-00_000000_1")
    (older / file.name).write_bytes(b"")  # an older session's copy, cut short too: skipped
    (_staging(tmp_path / "raytmp", folder) / file.name).write_bytes(whole)
    _staging(tmp_path / "raytmp", tmp_path / "other")  # another search's folder: not looked at
    file.write_bytes(b"")
    said = check_state_files(str(folder))
    assert said is not None and f"{file.name} was empty (0 bytes)" in said, said
    assert "driver_artifacts" in said
    assert file.read_bytes() == whole
    assert saved_trials(str(folder))[0][0] == "done1"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"experiment_state-{SESSION}.json", f"search_gen_state-{SESSION}.json"]
    )  # no temporary file left behind
    assert check_state_files(str(folder)) is None


def _mkdir(path):
    path.mkdir()
    return path


def test_a_folder_without_tune_state_is_left_to_tune(tmp_path):
    assert check_state_files(str(tmp_path)) is None
    assert saved_trials(str(tmp_path)) is None


def test_a_result_line_cut_short_is_dropped_and_the_earlier_ones_kept(tmp_path):
    folder = _folder(tmp_path, {"run3"}, 3)
    whole = json.dumps({"epoch": 1, "val_acc": 0.5}) + "\n"
    cut = folder / "NASTrainable_run3" / "result.json"
    cut.parent.mkdir()
    cut.write_text(whole + '{"epoch": 2, "val_a')
    intact = folder / "NASTrainable_done1" / "result.json"
    intact.parent.mkdir()
    intact.write_text(whole + whole)
    said = check_state_files(str(folder))
    assert said is not None and "1 trial(s) (NASTrainable_run3)" in said
    assert cut.read_text() == whole  # the next result starts a line of its own
    assert intact.read_text() == whole + whole
    cut.write_text('{"epoch": 1, "val')  # not even one whole line
    assert "NASTrainable_run3" in check_state_files(str(folder))
    assert cut.read_text() == ""
    assert check_state_files(str(folder)) is None  # mended for good
