"""The trained models back from a search: load, score on a split, retrain.

:class:`~raynas.results.NASResults` calls these (``load_model``, ``evaluate``, ``retrain``).
Test metrics are kept in the experiment folder (:data:`EVALUATIONS_FILE`), so ``raynas report``
shows them, and a reloaded result has them again.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from raynas.frontdoor.names import ConfigError

#: Test metrics computed after the search, by trial id (``{"t1": {"test_acc": 0.97}}``).
EVALUATIONS_FILE = "evaluations.json"
SPLITS = ("train", "val", "test")
RETRAIN_ON = ("train", "train+val")


def _plan(results: Any, *, with_data: bool) -> Any:
    from raynas.frontdoor.resume import load_plan
    from raynas.frontdoor.run import DataFile

    plan = getattr(results, "plan", None)
    if plan is None or (with_data and isinstance(plan.data, DataFile)):
        if results.path is None:
            raise ConfigError(
                "these results have no experiment folder (`path`), so their search's space and "
                "data are unknown; load them with raynas.load_results(path)."
            )
        plan = load_plan(results.path, with_data=with_data)
        results.plan = plan
    return plan


def _candidate(results: Any, candidate: Any) -> Any:
    if candidate is None:
        return results.best()
    if isinstance(candidate, str):
        for c in results.candidates:
            if c.trial_id == candidate:
                return c
        ids = [c.trial_id for c in results.candidates]
        raise ConfigError(
            f"`candidate` {candidate!r} is not a trial of this search; they are {ids}."
        )
    return candidate


def load_model(results: Any, candidate: Any = None) -> Any:
    """The candidate's network (default: the best by the first objective) with its trained
    weights, in eval mode, on the CPU."""
    from raynas._export import load_trained_model

    c = _candidate(results, candidate)
    if c.checkpoint_path is None:
        raise ConfigError(
            f"candidate {c.trial_id} has no checkpoint (it failed before its first epoch: "
            f"{c.reason or 'no reason recorded'})."
        )
    space = results.space if results.space is not None else _plan(results, with_data=False).space
    return load_trained_model(space, c.config, c.checkpoint_path)


def _datamodule(plan: Any) -> Any:
    from raynas.data import get_datamodule

    data = plan.data
    if callable(data) and not isinstance(data, tuple) and not hasattr(data, "setup"):
        data = data()
        return get_datamodule(data)
    return get_datamodule(data, **plan.data_kwargs)


def score(model: Any, dm: Any, split: str, task: str | None = None) -> dict[str, float]:
    """``{split}_loss`` and ``{split}_acc`` (classification) or ``{split}_mae`` of ``model``."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    if split not in SPLITS:
        raise ConfigError(f"`split` must be one of {list(SPLITS)}, but got {split!r}.")
    task = task or getattr(dm, "task", None) or "classification"
    try:
        dm.setup("test" if split == "test" else "fit")
    except Exception:  # noqa: BLE001 - a module that needs no setup
        pass
    loader = getattr(dm, f"{'val' if split == 'val' else split}_dataloader")()
    total, n, right, abs_err = 0.0, 0, 0, 0.0
    model.eval()
    with torch.no_grad():
        for batch in loader:
            x, y = batch[0], batch[1]
            out = model(x)
            if task == "classification":
                total += float(F.cross_entropy(out, y, reduction="sum"))
                right += int((out.argmax(dim=-1) == y).sum())
            else:
                out = out.reshape(y.shape)
                total += float(F.mse_loss(out, y.float(), reduction="sum"))
                abs_err += float((out - y).abs().sum())
            n += len(y)
    if n == 0:
        raise ConfigError(f"the data's {split} split is empty.")
    metrics = {f"{split}_loss": total / n}
    metrics[f"{split}_acc" if task == "classification" else f"{split}_mae"] = (
        right / n if task == "classification" else abs_err / n
    )
    return metrics


def evaluate(results: Any, candidate: Any = None, *, split: str = "test") -> dict[str, float]:
    """Score the candidate's trained network on ``split`` of the search's data; test metrics
    are recorded in the candidate's metrics and in the experiment folder."""
    if split not in SPLITS:
        raise ConfigError(f"`split` must be one of {list(SPLITS)}, but got {split!r}.")
    c = _candidate(results, candidate)
    model = load_model(results, c)
    plan = _plan(results, with_data=True)
    metrics = score(model, _datamodule(plan), split, plan.trainable_kwargs.get("task"))
    c.metrics.update(metrics)
    if split == "test":
        record(results.path, c.trial_id, metrics)
    return metrics


def record(path: str | None, trial_id: str, metrics: Mapping[str, Any]) -> None:
    if path is None:
        return
    file = os.path.join(path, EVALUATIONS_FILE)
    known = read_evaluations(path)
    known.setdefault(trial_id, {}).update({k: float(v) for k, v in metrics.items()})
    tmp = file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(known, f, indent=2, sort_keys=True)
    os.replace(tmp, file)


def read_evaluations(path: str | None) -> dict[str, dict[str, float]]:
    """The test metrics recorded for a search (empty when none)."""
    file = os.path.join(path or "", EVALUATIONS_FILE)
    if not path or not os.path.isfile(file):
        return {}
    with open(file) as f:
        return dict(json.load(f))


def retrain(
    results: Any,
    candidate: Any = None,
    *,
    epochs: int | None = None,
    on: str = "train+val",
    seed: int | None = None,
) -> Any:
    """Train the candidate's architecture again from scratch as a Tune trial, on ``on``
    (``"train+val"``: the training and validation splits together, KerasTuner's final fit), for
    ``epochs`` (default: the search's ``max_epochs``), and score it on the test split.

    Returns:
        a new :class:`~raynas.results.Candidate` (its trial under ``<experiment>/retrain``)
        with the training metrics, the test metrics and the original's hardware metrics.
    """
    from ray import tune

    from raynas.evaluation import NASTrainable
    from raynas.frontdoor.run import ensure_ray, shipped_data
    from raynas.frontdoor.warm import is_hardware_metric
    from raynas.results import Candidate, is_feasible

    if on not in RETRAIN_ON:
        raise ConfigError(f"`on` must be one of {list(RETRAIN_ON)}, but got {on!r}.")
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1
    ):
        raise ConfigError(f"`epochs` must be an int >= 1, but got {epochs!r}.")
    c = _candidate(results, candidate)
    plan = _plan(results, with_data=True)
    ensure_ray(plan.verbose, plan.hardware)
    data, data_kwargs = shipped_data(plan)
    if on == "train+val":
        data, data_kwargs = _MergedData(data, data_kwargs), {}
    trainable = NASTrainable(
        plan.space,
        data,
        data_kwargs=data_kwargs,
        cpus=plan.cpus,
        gpus=plan.gpus,
        resources=plan.resources,
        max_epochs=epochs or plan.max_epochs,
        seed=plan.seed if seed is None else seed,
        **{k: v for k, v in plan.trainable_kwargs.items() if k != "objectives"},
    )
    grid = tune.Tuner(
        trainable,
        param_space=dict(c.config),
        tune_config=tune.TuneConfig(num_samples=1),
        run_config=tune.RunConfig(
            name=f"{c.trial_id}-{on.replace('+', '-')}",
            storage_path=os.path.join(plan.experiment_path, "retrain"),
            verbose=0,
        ),
    ).fit()
    result = grid[0]
    metrics = {
        k: v for k, v in (result.metrics or {}).items() if not k.startswith(("time_", "date"))
    }
    metrics.update({k: v for k, v in c.metrics.items() if is_hardware_metric(k)})
    ckpt = result.checkpoint.path if result.checkpoint is not None else None
    retrained = Candidate(
        f"{c.trial_id}-retrained",
        dict(c.config),
        metrics,
        True,
        "",
        ckpt,
        str(result.path),
        {"retrained_from": c.trial_id, "on": on},
    )
    feasible, reason = is_feasible(metrics, plan.objectives)
    if result.error is not None or ckpt is None:
        feasible, reason = False, f"retrain failed: {result.error or 'no checkpoint'}"
    retrained = dataclasses.replace(retrained, feasible=feasible, reason=reason)
    if feasible:
        model = load_model(results, retrained)
        test = score(model, _datamodule(plan), "test", plan.trainable_kwargs.get("task"))
        retrained.metrics.update(test)
        record(results.path, retrained.trial_id, test)
    return retrained


class _MergedData:
    """A data factory giving :class:`~raynas.data.TrainValDataModule` over another's."""

    def __init__(self, inner: Any, data_kwargs: Mapping[str, Any]) -> None:
        self.inner, self.data_kwargs = inner, dict(data_kwargs)

    def __call__(self) -> Any:
        from raynas.data import TrainValDataModule, get_datamodule

        inner = self.inner
        if callable(inner) and not isinstance(inner, (str, tuple)) and not hasattr(inner, "setup"):
            dm = get_datamodule(inner())
        else:
            dm = get_datamodule(inner, **self.data_kwargs)
        return TrainValDataModule(dm)
