"""A stopped search's state files, read before Tune resumes it, and the searcher's rebuilt.

Tune's driver writes its state files into a staging folder and copies them into the experiment
folder without a rename, so a driver killed during that copy can leave one of them cut short.
Tune then fails to restore, logs "Restarting experiment" and runs on with a half-restored search
algorithm, which hangs (the concurrency limiter still counts the trials of the lost state as
running). So:

* the raynas searcher's own state (``searcher-state-*.pkl``) is made to agree with the trials of
  Tune's experiment state (:func:`saved_trials`, by ``Searcher.restore``), and rebuilt from them
  when it is cut short: finished trials are told with their last results, unfinished ones stay
  pending, ones the experiment state lacks (they never ran) are dropped;
* Tune's own state files cannot be rebuilt, but the driver wrote each one whole (write and
  rename) into its staging folder under Ray's temp folder before copying it: where that copy is
  still on disk (a resume on the node that ran the driver), :func:`check_state_files` puts it in
  place of the one cut short. Otherwise it names the file, with how to reuse what was measured
  (``warm_start``), before Ray starts.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
from collections.abc import Callable, Mapping
from typing import Any

from raynas.search_spaces.errors import RaynasError

#: A trial as Tune saved it: ``(trial_id, config, "done" | "error" | "running", last result)``
SavedTrial = tuple[str, dict[str, Any], str, Mapping[str, Any] | None]

EXPERIMENT_STATE = "experiment_state-*.json"
#: Tune's own pickled state files (the search generator's, the variant generator's of a PBT
#: search, the callbacks'): Tune restores nothing when one is unreadable
TUNE_PICKLES = ("search_gen_state-*.json", "basic-variant-state-*.json", "callback-states-*.pkl")


class ResumeError(RaynasError, RuntimeError):
    """A stopped search cannot be resumed from its folder."""


def check_state_files(path: str) -> str | None:
    """Ready ``path``'s state files for ``Tuner.restore``; returns what was mended, if anything.

    A Tune state file cut short is replaced by the driver's whole copy (:func:`staged_copy`);
    :class:`ResumeError` if there is none. The search generator's count of trials and its
    concurrency limiter's running trials are made to agree with the experiment state: copied at
    different moments, the limiter could count as running a trial the experiment state never
    had, which blocks a slot for good (a hang with one slot).
    """
    experiment = newest(path, EXPERIMENT_STATE)
    if experiment is None:
        return None  # nothing to resume from: Tune says so itself
    files = [(experiment, _load_tune_json)]
    files += [(f, _load_pickle) for f in (newest(path, p) for p in TUNE_PICKLES) if f]
    mended = []
    for file, load in files:
        problem = read_state(file, load)[1]
        if not problem:
            continue
        staged = staged_copy(path, file, load)
        if staged is None:
            raise ResumeError(
                f"cannot resume {path}: its state file {os.path.basename(file)} is {problem}. "
                f"A driver killed while it copied its state into the folder leaves such a "
                f"file; Tune cannot restore the search without it, and the driver's whole "
                f"copy is not in Ray's temp folder {_ray_temp_dir()} (resumed on another node, "
                f"or the folder was cleaned). The candidates already measured are intact: "
                f"raynas.load_results({path!r}) reads them, and a new search with "
                f"warm_start={path!r} (YAML: `warm_start: {path}`) continues from them "
                f"without training them again."
            )
        _replace(file, functools.partial(shutil.copyfile, staged))
        mended.append(
            f"the state file {os.path.basename(file)} was {problem} (the driver was killed "
            f"while it copied it); the driver's whole copy {staged} took its place"
        )
    torn = _end_results_at_a_whole_record(path)
    if torn:
        mended.append(
            f"the last result of {len(torn)} trial(s) ({', '.join(torn)}) was cut short when the "
            f"driver was killed and is dropped; the trials' earlier results are kept"
        )
    synced = _sync_generator(path, saved_trials(path) or [])
    return "; ".join(mended + ([synced] if synced else [])) or None


def _end_results_at_a_whole_record(path: str) -> list[str]:
    """Cut each trial's ``result.json`` back to its last whole line; returns the trials cut.

    Tune appends a trial's results to it one JSON line at a time, through a buffer that can
    reach the file in two writes: a driver killed between them leaves half a line, and the
    resumed trial's next result would be appended to it, making both unreadable.
    """
    cut = []
    for file in sorted(glob.glob(os.path.join(glob.escape(path), "*", "result.json"))):
        with open(file, "rb+") as f:
            data = f.read()
            if not data or data.endswith(b"\n"):
                continue
            f.truncate(data.rfind(b"\n") + 1)  # 0 when even the first line is cut short
        cut.append(os.path.basename(os.path.dirname(file)))
    return cut


def staged_copy(path: str, file: str, load: Callable[[Any], Any]) -> str | None:
    """The newest readable copy of ``file`` in a driver staging folder of ``path``'s search.

    Tune stages an experiment's state files in
    ``<ray temp>/session_*/artifacts/<timestamp>/<experiment>/driver_artifacts/`` under the same
    names (which carry the driver run's start time), so a name match is the same driver's file.
    """
    experiment = os.path.basename(os.path.normpath(path))
    pattern = os.path.join(
        glob.escape(_ray_temp_dir()),
        "session_*",
        "artifacts",
        "*",
        glob.escape(experiment),
        "driver_artifacts",
        glob.escape(os.path.basename(file)),
    )
    for copy in sorted(glob.glob(pattern), key=os.path.getmtime, reverse=True):
        if read_state(copy, load)[1] is None:
            return copy
    return None


def _ray_temp_dir() -> str:
    """Ray's default temp folder (``RAY_TMPDIR``, ``TMPDIR`` or /tmp, then ``ray``)."""
    try:
        from ray._common.utils import get_default_ray_temp_dir
    except ImportError:  # a Ray that moved it: its long-standing default
        return os.path.join(os.environ.get("RAY_TMPDIR", "/tmp"), "ray")
    return get_default_ray_temp_dir()


def _sync_generator(path: str, trials: list[SavedTrial]) -> str | None:
    file = newest(path, TUNE_PICKLES[0])
    if file is None:
        return None
    state = read_state(file, _load_pickle)[0]
    if not isinstance(state, dict):
        return None
    limiter = state.get("name:ConcurrencyLimiter")
    if not (isinstance(limiter, dict) and isinstance(state.get("counter"), int)):
        return None  # not the layout raynas.search writes (Tune's own, Ray 2.x)
    if limiter.get("batch") or not isinstance(limiter.get("live_trials"), set):
        return None
    running = {trial_id for trial_id, _, status, _ in trials if status == "running"}
    lost = limiter["live_trials"] - running
    missing = running - limiter["live_trials"]
    if not lost and not missing and state["counter"] == len(trials):
        return None
    limiter["live_trials"] = running
    limiter["num_unfinished_live_trials"] = len(running)
    made, state["counter"] = state["counter"], len(trials)
    import ray.cloudpickle as cloudpickle

    def dump(tmp: str) -> None:
        with open(tmp, "wb") as f:
            cloudpickle.dump(state, f)

    _replace(file, dump)
    return (
        f"Tune's search state and experiment state were saved at different moments: the "
        f"search had made {made} trials, the experiment state has {len(trials)}; "
        f"{len(lost)} running trials it lacks are dropped and {len(missing)} it has are "
        f"counted as running, so the budget is spent on trials Tune knows"
    )


def _replace(file: str, write: Callable[[str], Any]) -> None:
    """Rewrite ``file`` whole or not at all: ``write`` fills a temporary file beside it, which
    then takes its name (a kill in between leaves the old file)."""
    tmp = os.path.join(os.path.dirname(file), f".raynas-tmp-{os.path.basename(file)}")
    write(tmp)
    os.replace(tmp, file)


def saved_trials(folder: str) -> list[SavedTrial] | None:
    """The trials of the newest experiment state in ``folder`` as ``Searcher.sync_trials``
    takes them, or None when there is none or it is unreadable."""
    from ray.tune.experiment import Trial

    file = newest(folder, EXPERIMENT_STATE)
    state = None if file is None else read_state(file, _load_tune_json)[0]
    if not isinstance(state, dict):
        return None
    out: list[SavedTrial] = []
    for trial_json, run_metadata in state["trial_data"]:
        trial = Trial.from_json_state(trial_json, stub=True)
        trial.restore_run_metadata(run_metadata)
        status = {Trial.TERMINATED: "done", Trial.ERROR: "error"}.get(trial.status, "running")
        # what the searcher suggested (Tune's config also holds the param_space constants)
        config = _unflatten(trial.evaluated_params) if trial.evaluated_params else trial.config
        last = trial.last_result  # {"trial_id": ...} alone when the trial never reported
        out.append((trial.trial_id, config, status, last if set(last) - {"trial_id"} else None))
    return out


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Undo Tune's ``flatten_dict`` of a suggested config (nested dict keys joined by "/")."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, last = key.split("/")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def newest(path: str, pattern: str) -> str | None:
    """The file Tune restores from: the greatest name matching ``pattern``, as Tune picks it."""
    found = glob.glob(os.path.join(path, pattern))
    return max(found) if found else None


def read_state(file: str, load: Callable[[Any], Any]) -> tuple[Any, str | None]:
    """``(load(open file), None)``, or ``(None, why it could not be read)``."""
    size = os.path.getsize(file)
    if size == 0:
        return None, "empty (0 bytes)"
    try:
        with open(file, "rb") as f:
            return load(f), None
    except Exception as e:  # noqa: BLE001 - a cut-short pickle fails in many ways
        return None, f"unreadable ({size} bytes: {type(e).__name__}: {e})"


def _load_tune_json(f: Any) -> Any:
    from ray.tune.utils.serialization import _loads_with_cloudpickle

    return _loads_with_cloudpickle(f.read())


def _load_pickle(f: Any) -> Any:
    import ray.cloudpickle as cloudpickle

    return cloudpickle.load(f)
