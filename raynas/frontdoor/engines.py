"""The engines beside the per-candidate search: one-shot (supernet) strategies by name.

``raynas.search(space, data, strategy="darts")`` (or ``"gdas"``, ``"spos"``, any name of
:data:`raynas.oneshot.METHODS`) runs in two Tune stages in one experiment folder:

1. **Supernet search** (``<experiment>/supernet``): a supernet of the space is trained as Tune
   trials (:func:`raynas.oneshot.supernet_trainable`) on the search's own data (weights on the
   training split, architecture parameters and scores on the validation split). A gradient
   method (DARTS, GDAS and their variants) runs ``budget`` searches with seeds ``seed``,
   ``seed + 1``, ..., each deriving one cell; SPOS trains one supernet and scores
   ``strategy_kwargs['samples']`` configs of the space by inherited weights
   (:class:`raynas.oneshot.WeightSharingEvaluator`, validation split), keeping the ``budget``
   best.
2. **Final training**: the derived architectures (duplicates once) are trained from scratch as
   ordinary candidates (:class:`raynas.evaluation.NASTrainable`, ``max_epochs``), measured on
   the hardware targets and checked against the constraints, so the
   :class:`~raynas.results.NASResults` hold them with trained weights (``load_model``,
   ``export``, ``evaluate`` work as after any search). Each candidate's ``extra['oneshot']``
   has what the supernet stage said of it (method, seed, ``arch_str``, the supernet's
   ``val_acc``, ``collapsed``); ``oneshot.json`` in the experiment folder keeps the same.

The supernet stage optimises validation accuracy only: hardware objectives and constraints are
measured and applied in the final training.

``strategy_kwargs`` of a one-shot method: ``epochs`` (of the supernet training, default
``max_epochs``), ``batch_size`` (64), ``samples`` (SPOS only: configs scored, default
``max(20, 4 * budget)``) and any setting of the method's module (``arch_learning_rate``,
``tau_max``, ``learning_rate`` for SPOS, ...), all checked before Ray starts.

Example:
    >>> # results = raynas.search("nb201", "digits", strategy="darts", budget=2,
    >>> #     strategy_kwargs={"epochs": 10}, space_kwargs={"channels": 8})
    >>> # results.best().extra["oneshot"]["arch_str"]
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from raynas.frontdoor.names import ConfigError
from raynas.frontdoor.plan import SearchPlan, say

#: Arguments of a one-shot strategy that are the front door's, not the method module's.
_DOOR_KEYS = ("epochs", "batch_size", "samples")
#: The record of a one-shot search in its experiment folder.
ONESHOT_FILE = "oneshot.json"


def is_oneshot(strategy: Any) -> bool:
    """Whether ``strategy`` names a one-shot method (:data:`raynas.oneshot.METHODS`)."""
    from raynas.oneshot._methods import METHODS

    return isinstance(strategy, str) and strategy in METHODS


def refuse_with_oneshot(opts: Any) -> None:
    """A one-shot strategy derives its candidates itself: no seeds, priors or population."""
    if not is_oneshot(opts.strategy):
        return
    population = opts.scheduler if opts.scheduler in ("pbt", "architecture_pbt") else None
    for key, value in (
        ("scheduler", population),
        ("points_to_evaluate", opts.points_to_evaluate),
        ("warm_start", opts.warm_start),
    ):
        if value is not None:
            raise ConfigError(
                f"`strategy` = {opts.strategy!r} derives its candidates from a supernet; it "
                f"cannot be combined with `{key}` = {value!r}."
            )


def _int(kwargs: Mapping[str, Any], key: str, default: int) -> int:
    value = kwargs.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"`strategy_kwargs.{key}` must be an int >= 1, but got {value!r}.")
    return value


def plan_oneshot(plan: SearchPlan, dm: Any) -> dict[str, Any]:
    """Check a one-shot strategy against the space, the data and its arguments (before Ray):
    the space must have a supernet, the task be classification, the module build."""
    from raynas.oneshot import OneShotError
    from raynas.oneshot._methods import GRADIENT_METHODS
    from raynas.search_spaces import MobileBlockSpace, NB201CellSpace

    method = plan.strategy
    kinds: tuple[type, ...] = (NB201CellSpace, MobileBlockSpace)
    names = "'nb201' (NB201CellSpace) and 'mobile' (MobileBlockSpace)"
    if method in GRADIENT_METHODS:
        kinds, names = (NB201CellSpace,), "'nb201' (NB201CellSpace)"
    if not isinstance(plan.space, kinds):
        raise ConfigError(
            f"`strategy` = {method!r} searches a supernet of the space, and only {names} have "
            f"one; the space is a {type(plan.space).__name__}. Use one of those spaces or a "
            f"strategy of raynas.strategies.STRATEGIES."
        )
    task = plan.trainable_kwargs.get("task") or getattr(dm, "task", None)
    if task not in (None, "classification"):
        raise ConfigError(
            f"`strategy` = {method!r} trains a classifier supernet, but the task is {task!r}."
        )
    kwargs = dict(plan.strategy_kwargs)
    epochs = _int(kwargs, "epochs", plan.max_epochs)
    batch_size = _int(kwargs, "batch_size", 64)
    if "samples" in kwargs and method != "spos":
        raise ConfigError(
            f"`strategy_kwargs.samples` (configs scored by inherited weights) is for 'spos'; "
            f"{method!r} derives one architecture per search (`budget` searches)."
        )
    samples = _int(kwargs, "samples", max(20, 4 * plan.budget))
    if method == "spos" and samples < plan.budget:
        raise ConfigError(
            f"`strategy_kwargs.samples` must be >= `budget` ({plan.budget}): SPOS keeps the "
            f"`budget` best of the configs it scores, but got {samples}."
        )
    settings = {k: v for k, v in kwargs.items() if k not in _DOOR_KEYS}
    from raynas.oneshot import make_search

    try:  # builds the supernet once: its arguments are refused here, not in a trial
        make_search(method, plan.space, epochs=epochs, seed=plan.seed, **settings)
    except (OneShotError, TypeError) as e:
        raise ConfigError(f"`strategy_kwargs` of {method!r}: {e}") from e
    return {
        "method": method,
        "epochs": epochs,
        "batch_size": batch_size,
        "samples": samples if method == "spos" else None,
        "settings": settings,
    }


def splits_of(data: Any, data_kwargs: Mapping[str, Any]) -> Any:
    """The :class:`raynas.oneshot.Splits` of the search's data (a name, a factory, arrays or a
    DataModule): its own train / val / test splits, as tensors."""
    import torch

    from raynas.data import get_datamodule
    from raynas.oneshot import Splits

    if callable(data) and not isinstance(data, (str, tuple)) and not hasattr(data, "setup"):
        dm = get_datamodule(data())
    else:
        dm = get_datamodule(data, **data_kwargs)
    try:
        dm.setup("fit")
    except Exception:  # noqa: BLE001 - a module that needs no setup
        pass
    parts: dict[str, tuple[Any, Any]] = {}
    for part in ("train", "val", "test"):
        if hasattr(dm, "arrays"):
            parts[part] = tuple(dm.arrays(part))  # type: ignore[assignment]
            continue
        loader = getattr(dm, f"{part}_dataloader", None)
        batches = list(loader()) if loader is not None else []
        if batches:
            parts[part] = (
                torch.cat([b[0] for b in batches]).float(),
                torch.cat([b[1] for b in batches]).long(),
            )
    parts.setdefault("test", parts["val"])
    x, _ = parts["train"]
    classes = max(int(y.max()) for _, y in parts.values()) + 1
    return Splits(
        parts={k: (x.float(), y.long()) for k, (x, y) in parts.items()},
        input_shape=tuple(int(d) for d in x.shape[1:]),
        num_classes=int(getattr(dm, "num_classes", None) or classes),
    )


def _supernet_trial(
    config: Mapping[str, Any], *, space: Any, data: Any, data_kwargs: Any, threads: int
) -> None:
    """One supernet training on the search's data (a Tune function trainable)."""
    import torch

    from raynas.oneshot import supernet_trainable

    torch.set_num_threads(threads)
    supernet_trainable(config, space=space, data=splits_of(data, data_kwargs))


def _score_paths(
    checkpoint: Any, data: Any, data_kwargs: Any, samples: int, seed: int, threads: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """SPOS: ``samples`` configs of the supernet's space scored by inherited weights (a Ray
    task beside the trials), best first."""
    import numpy as np
    import torch

    from raynas.oneshot import WeightSharingEvaluator, load_supernet

    torch.set_num_threads(threads)
    supernet = load_supernet(checkpoint)
    evaluator = WeightSharingEvaluator(supernet, splits_of(data, data_kwargs), seed=seed)
    space = supernet.space
    rng = np.random.default_rng(seed)
    scored: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for _ in range(samples):
        config = space.sample(rng)
        scored.setdefault(space.key(config), (config, evaluator.score(config)))
    ranked = sorted(scored.values(), key=lambda cm: -float(cm[1]["val_acc"]))
    return [(c, m) for c, m in ranked if m["feasible"]]


def _supernet_search(plan: SearchPlan, data: Any, data_kwargs: Any) -> Any:
    from ray import tune

    from raynas.frontdoor.run import max_concurrent

    one: dict[str, Any] = plan.oneshot or {}
    seeds = [plan.seed] if one["method"] == "spos" else [plan.seed + i for i in range(plan.budget)]
    resources = {"cpu": plan.cpus, "gpu": plan.gpus, **plan.resources}
    trainable = tune.with_resources(
        tune.with_parameters(
            _supernet_trial,
            space=plan.space,
            data=data,
            data_kwargs=data_kwargs,
            threads=max(1, int(plan.cpus)),
        ),
        resources,
    )
    param_space = {
        "method": one["method"],
        "epochs": one["epochs"],
        "batch_size": one["batch_size"],
        "seed": tune.grid_search(seeds),
        **one["settings"],
    }
    say(plan, f"{one['method']}: {len(seeds)} supernet search(es) of {one['epochs']} epochs")
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent(plan)),
        run_config=tune.RunConfig(
            name="supernet",
            storage_path=plan.experiment_path,
            failure_config=tune.FailureConfig(max_failures=plan.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=0,
        ),
    ).fit()


def _derive(plan: SearchPlan, grid: Any, data: Any, data_kwargs: Any) -> list[dict[str, Any]]:
    """The derived architectures, each ``{"config", "oneshot": {what the stage said}}``."""
    import ray

    from raynas.oneshot import OneShotError

    one: dict[str, Any] = plan.oneshot or {}
    space = plan.space
    ok = [r for r in grid if r.error is None and r.metrics and r.checkpoint is not None]
    if not ok:
        errors = "; ".join(str(r.error) for r in grid if r.error is not None)
        raise OneShotError(f"every supernet search of {one['method']!r} failed: {errors}")
    derived = []
    if one["method"] == "spos":
        best = ok[0]
        task = ray.remote(num_cpus=plan.cpus, num_gpus=plan.gpus)(_score_paths)
        ranked = ray.get(
            task.remote(
                best.checkpoint,
                data,
                data_kwargs,
                one["samples"],
                plan.seed,
                max(1, int(plan.cpus)),
            )
        )
        for config, metrics in ranked[: plan.budget]:
            info = {"supernet_val_acc": best.metrics.get("val_acc"), **metrics}
            derived.append({"config": config, "oneshot": info})
    else:
        for r in ok:
            config = space.from_arch_str(r.metrics["arch_str"])
            info = {k: r.metrics.get(k) for k in ("arch_str", "val_acc", "collapsed", "epoch")}
            info["supernet_val_acc"] = info.pop("val_acc")
            derived.append({"config": config, "oneshot": {"seed": r.config["seed"], **info}})
    seen: set[str] = set()
    unique = []
    for d in derived:
        key = space.key(d["config"])
        if key not in seen:
            seen.add(key)
            d["oneshot"] = {"method": one["method"], **d["oneshot"]}
            unique.append(d)
    return unique


def run_oneshot(plan: SearchPlan) -> Any:
    """Run a planned one-shot search: the supernet stage, then the derived architectures
    trained from scratch as the search's candidates."""
    from raynas.frontdoor.checks import check_cluster, trial_bundle
    from raynas.frontdoor.run import ensure_ray, fit, shipped_data

    ensure_ray(plan.verbose, plan.hardware)
    check_cluster(trial_bundle(plan.cpus, plan.gpus, plan.resources), plan.hardware)
    os.makedirs(plan.experiment_path, exist_ok=True)
    data, data_kwargs = shipped_data(plan)
    grid = _supernet_search(plan, data, data_kwargs)
    derived = _derive(plan, grid, data, data_kwargs)
    with open(os.path.join(plan.experiment_path, ONESHOT_FILE), "w") as f:
        json.dump(
            [{**d["oneshot"], "config": d["config"]} for d in derived], f, indent=2, default=str
        )
    say(plan, f"{plan.strategy}: training {len(derived)} derived architecture(s) from scratch")
    final = dataclasses.replace(
        plan,
        strategy="random",  # only the derived points are trained: budget = their number
        strategy_kwargs={},
        points_to_evaluate=[d["config"] for d in derived],
        budget=len(derived),
        oneshot={**(plan.oneshot or {}), "derived": derived},
    )
    results = fit(final, restore=False)
    by_key = {plan.space.key(d["config"]): d["oneshot"] for d in derived}
    for c in results.candidates:
        info = by_key.get(plan.space.key(c.config))
        if info is not None:
            c.extra["oneshot"] = dict(info)
    return results


def first_population(plan: SearchPlan) -> dict[str, Any]:
    """The ``param_space`` of a population-based scheduler's search (PBT, ArchitecturePBT):
    ``budget`` proposals of the search's strategy (after its warm start and points to
    evaluate) as the first population, which the scheduler evolves from there.

    PBT refuses search algorithms, so the population is a grid over the members' training
    seeds (``seed``, ``seed + 1``, ...; run with ``num_samples=1``), each member's decisions
    read from its proposal.
    """
    from ray import tune

    from raynas.frontdoor.run import make_strategy
    from raynas.strategies.base import SearchExhausted

    strategy = make_strategy(plan)
    population: list[dict[str, Any]] = []
    for _ in range(plan.budget):
        try:
            population.append(strategy.ask())
        except SearchExhausted:  # a space smaller than the budget
            break
    name = plan.strategy if isinstance(plan.strategy, str) else type(plan.strategy).__name__
    say(plan, f"the first population: {len(population)} candidates proposed by {name!r}")
    base = plan.seed
    space: dict[str, Any] = {"seed": tune.grid_search([base + i for i in range(len(population))])}
    for key in population[0] if population else ():
        space[key] = tune.sample_from(_Member(population, base, key))
    return space


class _Member:
    """``tune.sample_from``: a population member's value of ``key``, by the member's seed."""

    def __init__(self, population: list[dict[str, Any]], base: int, key: str) -> None:
        self.population, self.base, self.key = population, base, key

    def __call__(self, spec: Any) -> Any:
        return self.population[int(spec.config.seed) - self.base][self.key]
