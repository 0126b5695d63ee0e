"""Resume a stopped search, and load a search's results, from its experiment folder."""

from __future__ import annotations

import os
from typing import Any

from raynas.frontdoor.model import read_evaluations
from raynas.frontdoor.names import ConfigError
from raynas.frontdoor.plan import SearchPlan
from raynas.frontdoor.run import DATA_FILE, PLAN_FILE, DataFile, fit
from raynas.frontdoor.warm import with_warm_start


def load_plan(path: str, *, with_data: bool = True) -> SearchPlan:
    """Read the plan a search wrote into its experiment folder (and its data, when saved)."""
    import cloudpickle

    file = os.path.join(path, PLAN_FILE)
    if not os.path.isfile(file):
        raise ConfigError(
            f"`path` must be a raynas experiment folder (with {PLAN_FILE}), but {path!r} has none."
        )
    with open(file, "rb") as f:
        plan = cloudpickle.load(f)
    plan.storage_path, plan.name = os.path.split(os.path.abspath(path).rstrip(os.sep))
    if with_data and isinstance(plan.data, DataFile):
        data_file = os.path.join(path, plan.data.name)
        if not os.path.isfile(data_file):
            raise ConfigError(
                f"`path` {path!r}: the search's data file {DATA_FILE} is missing; it holds the "
                f"arrays or DataModule the search was given."
            )
        with open(data_file, "rb") as f:
            plan.data = cloudpickle.load(f)
    return plan


def resume(path: str, *, verbose: int | None = None) -> Any:
    """Continue a stopped search until its budget is spent; returns its results.

    A driver killed while it copied its state files can leave them out of step or cut short.
    They are made to agree with Tune's list of trials, and a searcher state cut short is rebuilt
    from it (``Searcher.restore``), with a warning; a Tune state file cut short raises
    :class:`raynas._resume.ResumeError` naming it, before Ray starts.
    """
    plan = load_plan(path)
    if verbose is not None:
        plan.verbose = verbose
    return fit(plan, restore=True)


def load_results(path: str) -> Any:
    """Load the results of a finished or interrupted search from its folder."""
    from raynas.results import NASResults

    plan = load_plan(path, with_data=False)
    res = NASResults.from_path(plan.experiment_path, plan.objectives, space=plan.space)
    res.path = plan.experiment_path
    res.plan = plan
    res = with_warm_start(res, plan)
    evaluations = read_evaluations(plan.experiment_path)
    for c in res.candidates:
        c.metrics.update(evaluations.get(c.trial_id, {}))
    return res
