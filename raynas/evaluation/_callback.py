"""The Lightning callback that turns each finished epoch into a report and a checkpoint."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch

from raynas.evaluation._failures import describe as _describe
from raynas.evaluation._metrics import OPTIONAL_METRICS, REPORTED_METRICS, TASK_METRICS
from raynas.evaluation.errors import CandidateFailure, NonFiniteLossError

CHECKPOINT_FILE = "candidate.ckpt"
METRICS_FILE = "metrics.json"

Objective = Callable[[torch.nn.Module, Mapping[str, Any]], Mapping[str, Any]]


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item()
    return value


class ReportCallback(pl.Callback):
    """Reports every finished epoch (and checkpoints it), stops at the time budget.

    At ``on_train_epoch_end`` (validation has run by then) it collects the epoch's metrics,
    raises :class:`NonFiniteLossError` for a NaN/inf validation loss, decides whether this is
    the candidate's last epoch (``max_epochs`` or the time budget), runs the objective hooks on
    the last epoch, saves a Lightning checkpoint and hands both to ``report``.

    Args:
        report: ``report(metrics, checkpoint_dir_or_None)``.
        static: metrics known before training (``params``, ``flops``).
        task: the task, for its metric keys.
        max_epochs: the candidate's epoch budget.
        time_budget_s: the candidate's time budget, or None.
        checkpoint_every: checkpoint every n-th epoch and the last one (0: never).
        workdir: where checkpoints are written before ``report`` persists them.
        objectives: hooks ``f(model, config) -> dict`` run after the last epoch.
        model: what the hooks get (the candidate network).
        config: the candidate's config, for the hooks.
        is_writer: whether this process writes checkpoints (rank 0 of a data-parallel run).
    """

    def __init__(
        self,
        *,
        report: Callable[[dict[str, Any], str | None], None],
        static: Mapping[str, Any],
        task: str,
        max_epochs: int,
        time_budget_s: float | None,
        checkpoint_every: int,
        workdir: str,
        objectives: Sequence[Objective] = (),
        model: torch.nn.Module | None = None,
        config: Mapping[str, Any] | None = None,
        is_writer: bool = True,
    ) -> None:
        self._report = report
        self.static = dict(static)
        self.task = task
        self.max_epochs = max_epochs
        self.time_budget_s = time_budget_s
        self.checkpoint_every = checkpoint_every
        self.workdir = workdir
        self.objectives = list(objectives)
        self.model = model
        self.config = dict(config or {})
        self.is_writer = is_writer
        # state that survives a restore (saved in the Lightning checkpoint)
        self.train_time_s = 0.0
        self.epochs_done = 0
        self.last_metrics: dict[str, Any] | None = None
        # per run
        self.reports_this_run = 0
        self._t0 = 0.0

    # -- state carried by the Lightning checkpoint ---------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Training time and epochs so far, and the last report."""
        return {
            "train_time_s": self.train_time_s,
            "epochs_done": self.epochs_done,
            "last_metrics": self.last_metrics,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue the time and epoch counts of the checkpointed run."""
        self.train_time_s = float(state_dict["train_time_s"])
        self.epochs_done = int(state_dict["epochs_done"])
        self.last_metrics = state_dict.get("last_metrics")

    # -- hooks ---------------------------------------------------------------------------------
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Only global rank 0 writes checkpoint files."""
        self.is_writer = self.is_writer and trainer.is_global_zero

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Run the objectives that measure the untrained network, then start the clock.

        Hooks with ``measure_at = "start"`` (hardware latency: it does not depend on the
        weights) run here, so every epoch's report carries them and multi-objective schedulers
        can compare candidates at every rung. A failing one ends the candidate before training.
        """
        early = [fn for fn in self.objectives if _measure_at(fn) == "start"]
        if early:
            result = self._run_objectives(early)
            if result.get("feasible") is False:
                raise CandidateFailure(str(result.get("reason")))
            self.static.update(result)
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Report this epoch (metrics, checkpoint) and stop when it is the last one."""
        self.train_time_s += time.perf_counter() - self._t0
        self.epochs_done = trainer.current_epoch + 1
        metrics = self._epoch_metrics(trainer, pl_module)
        if not math.isfinite(metrics["val_loss"]):
            raise NonFiniteLossError(
                f"validation loss became {metrics['val_loss']} after epoch {self.epochs_done}"
            )
        over_time = self.time_budget_s is not None and self.train_time_s >= self.time_budget_s
        last = self.epochs_done >= self.max_epochs or over_time
        if over_time and self.epochs_done < self.max_epochs:
            trainer.should_stop = True
        late = [fn for fn in self.objectives if _measure_at(fn) != "start"]
        if last and late:
            metrics.update(self._run_objectives(late))
        self.last_metrics = metrics
        every = self.checkpoint_every
        ckpt_dir = None
        if every and (self.epochs_done % every == 0 or last):
            ckpt_dir = os.path.join(self.workdir, f"epoch_{self.epochs_done:05d}")
            # every rank calls save_checkpoint (a collective in data-parallel strategies);
            # only the writer's files are handed to the report
            trainer.save_checkpoint(os.path.join(ckpt_dir, CHECKPOINT_FILE))
            if self.is_writer:
                with open(os.path.join(ckpt_dir, METRICS_FILE), "w") as f:
                    json.dump(metrics, f)
            else:
                ckpt_dir = None
        self._report(dict(metrics), ckpt_dir)
        self.reports_this_run += 1
        if ckpt_dir is not None:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
        self._t0 = time.perf_counter()

    # -- helpers -------------------------------------------------------------------------------
    def _epoch_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        keys = ("train_loss", "val_loss", *TASK_METRICS[self.task])
        own_metrics = getattr(pl_module, "epoch_metrics", None)
        if callable(own_metrics):  # a CandidateModule accumulates its metrics itself
            values = dict(own_metrics())
        else:  # a user's LightningModule logs its metrics with self.log(...)
            logged = trainer.callback_metrics
            required = [k for k in keys if k not in OPTIONAL_METRICS]
            missing = [k for k in required if k not in logged]
            if missing:
                from raynas.evaluation.errors import EvaluationError

                raise EvaluationError(
                    f"a user LightningModule must log {required} with `self.log(...)` every "
                    f"epoch; missing {missing}, logged {sorted(logged)}."
                )
            values = {k: float(_plain(logged[k])) for k in keys if k in logged}
        for k in OPTIONAL_METRICS:  # not measured by this module: NaN
            values.setdefault(k, float("nan"))
        metrics: dict[str, Any] = {
            "epoch": self.epochs_done,
            "train_time_s": self.train_time_s,
            **self.static,
            "feasible": True,
            "reason": "",
        }
        metrics.update({k: float(values[k]) for k in keys})
        return metrics

    def _run_objectives(self, hooks: Sequence[Objective]) -> dict[str, Any]:
        """Run the hooks on the network; a failing hook makes the candidate infeasible."""
        out: dict[str, Any] = {}
        model = self.model
        if model is None:
            return out
        was_training = model.training
        model.eval()
        try:
            for fn in hooks:
                name = getattr(fn, "__name__", type(fn).__name__)
                try:
                    result = fn(model, dict(self.config))
                except Exception as e:  # the candidate fails its objective, not the search
                    return {"feasible": False, "reason": f"objective {name} failed: {_describe(e)}"}
                if not isinstance(result, Mapping):
                    return {
                        "feasible": False,
                        "reason": f"objective {name} must return a dict, but returned "
                        f"{type(result).__name__}",
                    }
                if result.get("feasible") is False:  # the hook declares the candidate infeasible
                    return {
                        "feasible": False,
                        "reason": f"objective {name}: {result.get('reason') or 'infeasible'}",
                    }
                result = {k: v for k, v in result.items() if k not in ("feasible", "reason")}
                clash = sorted(set(result) & set(REPORTED_METRICS) - {"flops"})
                if clash:
                    return {
                        "feasible": False,
                        "reason": f"objective {name} returned reserved metric keys {clash}",
                    }
                out.update({k: _plain(v) for k, v in result.items()})
        finally:
            model.train(was_training)
        return out


def _measure_at(fn: Any) -> str:
    """When a hook runs: ``"start"`` (before the first epoch) or ``"end"`` (the default)."""
    return str(getattr(fn, "measure_at", "end"))


__all__ = ["CHECKPOINT_FILE", "METRICS_FILE", "CandidateFailure", "ReportCallback"]
