"""Check, and where it can be done, mend a stopped search's state files before Tune resumes it.

Tune's driver writes its state files into a staging folder and copies them into the experiment
folder; a driver killed during that copy can leave one of them cut short. Tune then fails to
restore, logs "Restarting experiment" and runs on with a half-restored search algorithm, which
hangs (the concurrency limiter still counts the trials of the lost state as running). So
:func:`check_state_files` reads each file first:

* the searcher's own state (``searcher-state-*.pkl``) is rebuilt from the trials Tune will restore:
  finished ones are told to a new strategy with their last results, unfinished ones stay pending;
* Tune's experiment state or the search generator's state cannot be rebuilt here: the error
  names the file and says how to reuse what was measured (a new search with ``warm_start``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from typing import Any

from raynas.search_spaces.errors import RaynasError

EXPERIMENT_STATE = "experiment_state-*.json"
SEARCH_GEN_STATE = "search_gen_state-*.json"
SEARCHER_STATE = "searcher-state-*.pkl"


class ResumeError(RaynasError, RuntimeError):
    """A stopped search cannot be resumed from its folder."""


def check_state_files(path: str, build_searcher: Callable[[], Any]) -> str | None:
    """Make ``path``'s state files readable for ``Tuner.restore``, or raise :class:`ResumeError`.

    ``build_searcher`` makes the raynas :class:`~raynas.search.Searcher` the search started
    with (its strategy fresh, its warm start told). Returns a line saying what was rebuilt, or
    None when nothing needed it.
    """
    experiment = _newest(path, EXPERIMENT_STATE)
    if experiment is None:
        return None  # nothing to resume from: Tune says so itself
    state = _read(experiment, _load_tune_json)
    if isinstance(state, str):
        raise ResumeError(_unreadable(path, experiment, state))
    generator = _newest(path, SEARCH_GEN_STATE)
    if generator is None:
        return None  # a search without a search algorithm of its own (PBT)
    problem = _read(generator, _load_pickle)
    if isinstance(problem, str):
        raise ResumeError(_unreadable(path, generator, problem))
    searcher_file = _newest(path, SEARCHER_STATE)
    if searcher_file is not None:
        problem = _read(searcher_file, _load_pickle)
        if not isinstance(problem, str):
            return None
    else:
        problem = "missing"
        session = os.path.basename(generator)[len("search_gen_state-") : -len(".json")]
        searcher_file = os.path.join(path, f"searcher-state-{session}.pkl")
    searcher = build_searcher()
    told, live = _replay(searcher, state["trial_data"])
    tmp = os.path.join(path, f".raynas-tmp-{os.path.basename(searcher_file)}")
    searcher.save(tmp)
    os.replace(tmp, searcher_file)
    return (
        f"the searcher state {os.path.basename(searcher_file)} was {problem}; rebuilt it from "
        f"the experiment's trials ({told} told, {live} still to finish)"
    )


def _replay(searcher: Any, trial_data: list) -> tuple[int, int]:
    """Tell ``searcher`` each trial Tune saved; returns (finished, unfinished) counts."""
    from ray.tune.experiment import Trial

    told = live = 0
    for trial_json, run_metadata in trial_data:
        trial = Trial.from_json_state(trial_json, stub=True)
        trial.restore_run_metadata(run_metadata)
        searcher.adopt(trial.trial_id, trial.config)
        if trial.status == Trial.TERMINATED:
            searcher.on_trial_complete(trial.trial_id, trial.last_result or None)
            told += 1
        elif trial.status == Trial.ERROR:
            searcher.on_trial_complete(trial.trial_id, None, error=True)
            told += 1
        else:  # pending or paused: Tune runs it again, from its checkpoint
            if trial.last_result:
                searcher.on_trial_result(trial.trial_id, trial.last_result)
            live += 1
    return told, live


def _newest(path: str, pattern: str) -> str | None:
    """The file Tune restores from: the greatest name matching ``pattern``, as Tune picks it."""
    found = glob.glob(os.path.join(path, pattern))
    return max(found) if found else None


def _load_tune_json(f: Any) -> Any:
    from ray.tune.utils.serialization import _loads_with_cloudpickle

    return _loads_with_cloudpickle(f.read())


def _load_pickle(f: Any) -> Any:
    import ray.cloudpickle as cloudpickle

    return cloudpickle.load(f)


def _read(file: str, load: Callable[[Any], Any]) -> Any:
    """``load`` applied to the open file, or a string saying why it could not be read."""
    size = os.path.getsize(file)
    if size == 0:
        return "empty (0 bytes)"
    try:
        with open(file, "rb") as f:
            return load(f)
    except Exception as e:  # noqa: BLE001 - a cut-short pickle fails in many ways
        return f"unreadable ({size} bytes: {type(e).__name__}: {e})"


def _unreadable(path: str, file: str, problem: str) -> str:
    return (
        f"cannot resume {path}: its state file {os.path.basename(file)} is {problem}. A driver "
        f"killed while it copied its state into the folder leaves such a file; Tune cannot "
        f"restore the search without it. The candidates already measured are intact: "
        f"raynas.load_results({path!r}) reads them, and a new search with "
        f"warm_start={path!r} (YAML: `warm_start: {path}`) continues from them without "
        f"training them again."
    )
