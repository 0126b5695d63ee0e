"""Run a planned search: Ray, the data in its object store, the trainable, the Tuner, the fit.

The data reaches the workers through Ray's object store (put once, read once per worker
process), never inside the pickled trainable; the plan written into the experiment folder for
resume holds the data's name, or the file the data was saved to beside it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from raynas.frontdoor.checks import check_cluster, explain_write_error, trial_bundle
from raynas.frontdoor.plan import HARDWARE_METRICS, SearchPlan, say
from raynas.frontdoor.quantized import FromData, QuantizedMeasure
from raynas.frontdoor.warm import tell_warm_start, with_warm_start

#: The plan of a search, in its experiment folder (what ``raynas.resume`` reads).
PLAN_FILE = "raynas_search.pkl"
#: The search's data when it is not a name (arrays, a DataModule), beside the plan.
DATA_FILE = "raynas_data.pkl"


def ensure_ray(verbose: int = 1, targets: Sequence[Any] = ()) -> None:
    """Start local Ray, or join the cluster named by ``RAY_ADDRESS`` (``ray job submit`` sets it).

    A local Ray advertises ``hw:<name>`` for every hardware target, so measurements run as Ray
    tasks on this node, one at a time per device, exactly as on a cluster's device node.
    """
    import ray

    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        say(verbose, f"connecting to the Ray cluster at {os.environ['RAY_ADDRESS']}")
        ray.init(log_to_driver=verbose > 1)
    else:
        from raynas.hardware import local_resources

        resources = local_resources(targets)
        say(verbose, "starting local Ray" + (f" with {resources}" if resources else ""))
        ray.init(include_dashboard=False, log_to_driver=verbose > 1, resources=resources)


class StoredData:
    """A zero-argument data factory over an object in Ray's object store: each worker process
    reads it once (numpy arrays without a copy) and builds its DataModule from it."""

    def __init__(self, ref: Any, data_kwargs: dict[str, Any]) -> None:
        self.ref = ref
        self.data_kwargs = dict(data_kwargs)

    def __call__(self) -> Any:
        import ray

        from raynas.data import get_datamodule

        return get_datamodule(ray.get(self.ref), **self.data_kwargs)


class _MeasureFirst:
    """Runs a hardware objective before training (latency does not depend on the weights), so
    every epoch's report carries it and multi-objective schedulers can compare at each rung."""

    measure_at = "start"

    def __init__(self, objective: Any) -> None:
        self.objective = objective
        self.__name__ = f"HardwareObjective[{objective.target.name}]"

    def __call__(self, model: Any, config: Any) -> Any:
        return self.objective(model, config)


def hardware_objectives(plan: SearchPlan) -> list[Any]:
    """One HardwareObjective per target of the search, measuring what its objectives name."""
    from raynas.hardware import HardwareObjective

    out: list[Any] = []  # params and flops are in every report already
    for i, target in enumerate(plan.hardware):
        prefix = "" if i == 0 else f"{target.name}_"
        wanted = {o.name[len(prefix) :] for o in plan.objectives if o.name.startswith(prefix)}
        metrics = ["latency_p50_ms", "latency_p90_ms", "energy_j"]
        if target.quantization is not None:
            metrics.append("quantized_acc")
        metrics += sorted((wanted & set(HARDWARE_METRICS)) - set(metrics))
        out.append(
            HardwareObjective(
                target,
                metrics=tuple(metrics),
                cache=os.path.join(plan.experiment_path, "measurements"),
                space=plan.space,
                prefix=prefix,
                # static int8: calibrated on the search's data, read in the worker
                calibration=FromData() if target.quantization == "static" else None,
            )
        )
    return out


def shipped_data(plan: SearchPlan) -> tuple[Any, dict[str, Any]]:
    """The trainable's ``data`` and ``data_kwargs``: a name as it is, anything else through the
    object store (put once here)."""
    if isinstance(plan.data, str) or (
        callable(plan.data) and not hasattr(plan.data, "setup") and not isinstance(plan.data, tuple)
    ):
        return plan.data, dict(plan.data_kwargs)
    import ray

    return StoredData(ray.put(plan.data), plan.data_kwargs), {}


def make_trainable(plan: SearchPlan) -> Any:
    from raynas.evaluation import DataParallelTrainable, NASTrainable

    kwargs = dict(plan.trainable_kwargs)
    data, data_kwargs = shipped_data(plan)
    hooks: list[Any] = [  # an int8 model's accuracy needs the trained weights: measured last
        QuantizedMeasure(hw, data, data_kwargs) if hw.target.quantization else _MeasureFirst(hw)
        for hw in hardware_objectives(plan)
    ]
    hooks += kwargs.pop("objectives", ())  # the user's own, after the hardware's
    kwargs.update(
        data_kwargs=data_kwargs,
        objectives=hooks,
        max_epochs=plan.max_epochs,
        train_fraction=plan.train_fraction,
        time_budget_s=plan.time_budget_s,
        seed=plan.seed,
    )
    if plan.data_parallel:  # the workers' resources are in `data_parallel`
        return DataParallelTrainable(plan.space, data, **plan.data_parallel, **kwargs)
    return NASTrainable(
        plan.space, data, cpus=plan.cpus, gpus=plan.gpus, resources=plan.resources, **kwargs
    )


def make_strategy(plan: SearchPlan) -> Any:
    """The search's strategy, told the warm start's results, its queue the points to evaluate."""
    from raynas.strategies import get_strategy

    strategy = plan.strategy
    if isinstance(strategy, (str, type)):
        strategy = get_strategy(
            strategy,
            space=plan.space,
            objectives=plan.objectives,
            seed=plan.seed,
            **{"num_samples": plan.budget, **plan.strategy_kwargs},
        )
    if plan.warm_start:
        tell_warm_start(plan, strategy, hardware_objectives(plan))
    if plan.points_to_evaluate:
        strategy.enqueue(plan.points_to_evaluate, field="points_to_evaluate")
    return strategy


def make_search_alg(plan: SearchPlan, scheduler: Any = None) -> Any:
    from ray.tune.search import ConcurrencyLimiter

    from raynas.tune import Searcher

    strategy = make_strategy(plan)
    # an early-stopping scheduler's budget: stopped trials are told with the fidelity they reached
    if plan.latency_screening:  # candidates predicted over a latency bound are not trained
        from raynas.frontdoor.screening import ScreeningSearcher

        searcher: Searcher = ScreeningSearcher(
            strategy,
            objectives=plan.objectives,
            budget=scheduler,
            screening=plan.latency_screening,
            path=plan.experiment_path,
        )
    else:
        searcher = Searcher(strategy, objectives=plan.objectives, budget=scheduler)
    return ConcurrencyLimiter(searcher, max_concurrent=max_concurrent(plan))


def max_concurrent(plan: SearchPlan) -> int:
    if plan.max_concurrent is not None:
        return plan.max_concurrent
    import ray

    total = float(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else 1.0
    per_trial = plan.cpus
    if plan.data_parallel:  # the trial's driver and its workers
        dp = plan.data_parallel
        per_trial = dp["driver_cpus"] + dp["num_workers"] * dp["cpus_per_worker"]
    return max(1, int(total // per_trial)) if per_trial else 1


def worker_bundle(plan: SearchPlan) -> dict[str, float]:
    """What one trial (one worker of a data-parallel trial) asks of a node."""
    dp = plan.data_parallel
    if dp:
        return trial_bundle(dp["cpus_per_worker"], float(dp["use_gpu"]), {})
    return trial_bundle(plan.cpus, plan.gpus, plan.resources)


def write_plan(plan: SearchPlan) -> None:
    """The plan for resume, and the data beside it when it is not a name (arrays, a module)."""
    import cloudpickle

    os.makedirs(plan.experiment_path, exist_ok=True)
    stored = plan
    if not isinstance(plan.data, str):
        with open(os.path.join(plan.experiment_path, DATA_FILE), "wb") as f:
            cloudpickle.dump(plan.data, f)
        stored = dataclasses.replace(plan, data=DataFile(DATA_FILE))
    with open(os.path.join(plan.experiment_path, PLAN_FILE), "wb") as f:
        cloudpickle.dump(stored, f)


@dataclasses.dataclass(frozen=True)
class DataFile:
    """Where a search's data was saved, relative to its experiment folder."""

    name: str


def _tuner(plan: SearchPlan, trainable: Any, restore: bool) -> Any:
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    from raynas._registry import make_scheduler
    from raynas.progress import make_reporter

    if restore:
        say(plan, f"resuming {plan.experiment_path}")
        return tune.Tuner.restore(
            plan.experiment_path, trainable=trainable, resume_unfinished=True, resume_errored=True
        )
    scheduler = make_scheduler(
        plan.scheduler,
        objectives=plan.objectives,
        max_epochs=plan.max_epochs,
        space=plan.space,
        seed=plan.seed,
        kwargs=plan.scheduler_kwargs,
    )
    run_config = dict(plan.run_config)
    checkpoint_config = run_config.pop("checkpoint_config", tune.CheckpointConfig(num_to_keep=2))
    if isinstance(scheduler, PopulationBasedTraining):
        # PBT refuses search algorithms: its first population is the strategy's proposals
        from raynas.frontdoor.engines import first_population

        search_alg, param_space, samples = None, first_population(plan), 1
    else:
        search_alg, param_space, samples = make_search_alg(plan, scheduler), None, plan.budget
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=samples,
            # a worker process trains one candidate after another: torch and Lightning are
            # imported, and the data loaded, once per worker instead of once per candidate
            reuse_actors=plan.reuse_actors,
        ),
        run_config=tune.RunConfig(
            name=plan.name,
            storage_path=plan.storage_path,
            failure_config=tune.FailureConfig(max_failures=plan.max_failures),
            checkpoint_config=checkpoint_config,
            progress_reporter=make_reporter(plan.objectives, plan.budget) if plan.verbose else None,
            verbose=1 if plan.verbose else 0,
            callbacks=list(plan.callbacks) or None,
            **run_config,
        ),
    )


def fit(plan: SearchPlan, restore: bool) -> Any:
    """Start (or join) Ray, check the cluster, run the Tuner and collect the results."""
    from raynas._resume import check_state_files
    from raynas.frontdoor.engines import run_oneshot
    from raynas.results import NASResults

    if plan.oneshot is not None and "derived" not in plan.oneshot:
        return run_oneshot(plan)  # the supernet stage first; it calls fit for the final one

    # A custom reporter needs Tune's classic output engine; experiment state (searcher and
    # scheduler included) is snapshotted every few seconds so a killed driver loses little.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    # ...and those frequent snapshots are wanted: Tune's warning about them (once per trial
    # checkpoint beyond `num_to_keep`) would flood the user's terminal
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # results are read back from each trial's result.json (report, export, resume)
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "0"
    if any(t.quantization for t in plan.hardware):  # an int8 model is scored after training:
        os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"  # not in the early epochs' reports
    if restore:  # before Ray starts: a Tune state file cut short by a killed driver fails here
        mended = check_state_files(plan.experiment_path)
        if mended:  # said whatever the verbosity: the search goes on from mended state
            logging.getLogger(__name__).warning("raynas: %s.", mended)
    ensure_ray(plan.verbose, plan.hardware)
    check_cluster(worker_bundle(plan), plan.hardware)
    try:
        if not restore:
            write_plan(plan)
        tuner = _tuner(plan, make_trainable(plan), restore)
    except OSError as e:
        clear = explain_write_error(e, plan.experiment_path)
        if clear is None:
            raise
        raise clear from e
    t0 = time.time()
    grid = tuner.fit()
    results = NASResults.from_result_grid(grid, plan.objectives, space=plan.space)
    results.path = plan.experiment_path
    results.plan = plan
    new = len(results)
    results = with_warm_start(results, plan)
    earlier = f" (and {len(results) - new} from the warm start)" if len(results) > new else ""
    say(
        plan,
        f"search finished in {time.time() - t0:.1f} s: {new} candidates{earlier}, "
        f"{len(results.feasible())} feasible, {len(results.pareto_front())} on the front",
    )
    return results
