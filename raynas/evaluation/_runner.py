"""Train and score one candidate: the body of every raynas trainable, independent of Tune.

:func:`run_candidate` takes a :class:`Reporter` (Tune's ``tune.report``/``tune.get_checkpoint``,
Ray Train's, or an in-memory one in tests), so the whole candidate life cycle (build, train,
report, checkpoint, resume, fail as a result) can be tested without Ray.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import torch

from raynas.evaluation._callback import CHECKPOINT_FILE, Objective, ReportCallback
from raynas.evaluation._costs import count_flops, count_params
from raynas.evaluation._failures import describe as _describe
from raynas.evaluation._failures import is_out_of_memory
from raynas.evaluation._metrics import TASK_METRICS
from raynas.evaluation._settings import (
    CONTROL_KEYS,
    TRAINING_DEFAULTS,
    EvaluationSettings,
    training_hparams,
)
from raynas.evaluation.errors import CandidateFailure, EvaluationError

_QUIET_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning.fabric", "lightning")
_QUIET_WARNINGS = (
    r".*does not have many workers.*",
    r".*number of training batches.*smaller than the logging interval.*",
    r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*GPU available but not used.*",
    r".*checkpoint directory.*exists and is not empty.*",
)


class Reporter(Protocol):
    """Where a candidate's reports and checkpoints go, and where a restore comes from."""

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        """Hand over one report; ``checkpoint_dir`` (if any) may be deleted afterwards."""

    def latest_checkpoint(self) -> contextlib.AbstractContextManager[str | None]:
        """A context giving the directory of the checkpoint to resume from, or None."""


def split_config(space: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a trial config that belongs to ``space`` (drops raynas control keys).

    Training keys (``learning_rate``...) stay when the space defines them (it searches them);
    otherwise they are training settings outside the space.
    """
    fields = getattr(space, "fields", None)
    if isinstance(fields, Mapping):
        return {k: v for k, v in config.items() if k in fields}
    reserved = set(CONTROL_KEYS) | set(TRAINING_DEFAULTS) | {"epochs"}
    return {k: v for k, v in config.items() if k not in reserved}


def example_input(datamodule: Any) -> torch.Tensor:
    """One zero sample ``(1, *input_shape)`` for FLOP counting and smoke-testing a network."""
    shape = getattr(datamodule, "input_shape", None)
    if shape is not None:
        return torch.zeros((1, *shape))
    batch = next(iter(datamodule.val_dataloader()))
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return x[:1].clone()


def _failure_metrics(
    task: str, reason: str, callback: ReportCallback | None, static: Mapping[str, Any]
) -> dict[str, Any]:
    nan = float("nan")
    metrics: dict[str, Any] = {
        "epoch": callback.epochs_done if callback else 0,
        "train_loss": nan,
        "val_loss": nan,
        "train_time_s": callback.train_time_s if callback else 0.0,
        "params": int(static.get("params", 0)),
        "flops": int(static.get("flops", 0)),
        "feasible": False,
        "reason": reason,
    }
    for key in TASK_METRICS[task]:
        metrics[key] = 0.0 if key.endswith("_acc") else nan
    return metrics


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    levels = {}
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.WARNING)
    with warnings.catch_warnings():
        for pattern in _QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run_candidate(
    config: Mapping[str, Any],
    *,
    space: Any,
    datamodule: Any,
    reporter: Reporter,
    settings: EvaluationSettings | None = None,
    task: str | None = None,
    objectives: Sequence[Objective] = (),
    module_factory: Callable[[dict[str, Any]], Any] | None = None,
    accelerator: str = "cpu",
    devices: int | str = 1,
    strategy: Any = "auto",
    plugins: Sequence[Any] | None = None,
    num_threads: int | None = None,
    trainer_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build, train and score one candidate; return its last report.

    Every finished epoch is reported (with a checkpoint per ``settings.checkpoint_every``).
    A candidate that does not build, whose config is invalid, whose loss becomes NaN/inf, that
    runs out of memory or whose network raises ends with one more report carrying
    ``feasible=False`` and a ``reason``; this function then returns normally. Errors of raynas
    or of the infrastructure propagate (Tune retries the trial from its last checkpoint).

    Args:
        config: the trial config: the space's keys, training keys and control keys
            (``seed``, ``max_epochs``/``epochs``, ``train_fraction``, ``time_budget_s``).
        space: anything with ``validate(config)`` and ``build(config) -> nn.Module``.
        datamodule: a LightningDataModule (a raynas one is configured per candidate).
        reporter: where reports and checkpoints go (see :class:`Reporter`).
        settings: performance-estimation controls; the config may override them.
        task: ``"classification"``/``"regression"``; default: the datamodule's, else
            classification.
        objectives: hooks ``f(model, config) -> dict`` run after the last epoch.
        module_factory: ``f(config) -> LightningModule`` replacing :class:`CandidateModule`.
        accelerator, devices, strategy, plugins: passed to ``pl.Trainer``.
        num_threads: torch CPU threads while training (restored afterwards).
        trainer_kwargs: more ``pl.Trainer`` arguments.
    """
    from raynas.evaluation._module import CandidateModule

    base = settings or EvaluationSettings()
    task = task or getattr(datamodule, "task", None) or "classification"
    if task not in TASK_METRICS:
        raise EvaluationError(f"`task` must be one of {list(TASK_METRICS)}, but got {task!r}.")
    static: dict[str, Any] = {}

    def fail(reason: str, callback: ReportCallback | None = None) -> dict[str, Any]:
        metrics = _failure_metrics(task, reason, callback, static)
        reporter.report(dict(metrics), None)
        return metrics

    # -- what to train -------------------------------------------------------------------------
    try:
        settings = base.for_config(config)
    except EvaluationError as e:
        return fail(f"invalid config: {e}")
    try:
        arch = space.validate(split_config(space, config))
    except ValueError as e:
        return fail(f"invalid config: {e}")
    full = {**dict(config), **arch}
    try:
        hp = training_hparams(full)
    except EvaluationError as e:
        return fail(f"invalid config: {e}")

    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet())
        stack.enter_context(_threads(num_threads or settings.num_threads))
        stack.enter_context(torch.random.fork_rng(devices=[]))
        torch.manual_seed(settings.seed)

        try:
            if module_factory is not None:
                module = module_factory(full)
                network = module
            else:
                network = space.build(arch)
                module = CandidateModule(network, full, task=task, max_epochs=settings.max_epochs)
        except Exception as e:
            if is_out_of_memory(e):
                return fail(f"out of memory while building: {_describe(e)}")
            return fail(f"build failed: {_describe(e)}")
        if module_factory is not None:  # the user's code, not the candidate: raise
            from raynas.data._lightning import refuse_lightning_package

            refuse_lightning_package(
                module, "LightningModule", "the module `module_factory` returned"
            )
        try:
            static["params"] = count_params(network)
            static["flops"] = count_flops(network, example_input(datamodule))
        except Exception as e:
            if is_out_of_memory(e):
                return fail(f"out of memory in a first forward pass: {_describe(e)}")
            return fail(f"forward failed: {_describe(e)}")
        torch.manual_seed(settings.seed)  # the same stream whether or not FLOPs were counted

        dm = copy.copy(datamodule)
        limit_train: float | int = 1.0
        if hasattr(dm, "configure"):
            dm.configure(
                batch_size=hp["batch_size"],
                train_fraction=settings.train_fraction,
                shuffle_seed=settings.seed,
            )
        else:
            if hasattr(dm, "batch_size"):
                dm.batch_size = hp["batch_size"]
            limit_train = settings.train_fraction

        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="raynas-"))
        callback = ReportCallback(
            report=reporter.report,
            static=static,
            task=task,
            max_epochs=settings.max_epochs,
            time_budget_s=settings.time_budget_s,
            checkpoint_every=settings.checkpoint_every,
            workdir=workdir,
            objectives=objectives,
            model=network,
            config=arch,
        )
        import pytorch_lightning as pl

        kwargs: dict[str, Any] = {
            "max_epochs": settings.max_epochs,
            "accelerator": accelerator,
            "devices": devices,
            "strategy": strategy,
            "callbacks": [callback],
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "num_sanity_val_steps": 0,
            "limit_train_batches": limit_train,
            "default_root_dir": workdir,
        }
        if plugins:
            kwargs["plugins"] = list(plugins)
        extra = dict(trainer_kwargs or {})
        user_callbacks = extra.pop("callbacks", None) or []
        kwargs.update(extra)
        # the user's callbacks run beside raynas's reporting one, never instead of it
        if not isinstance(user_callbacks, (list, tuple)):
            user_callbacks = [user_callbacks]
        kwargs["callbacks"] = [callback, *user_callbacks]
        trainer = pl.Trainer(**kwargs)

        with reporter.latest_checkpoint() as restore_dir:
            ckpt_path = None
            if restore_dir is not None and os.path.exists(
                os.path.join(restore_dir, CHECKPOINT_FILE)
            ):
                ckpt_path = os.path.join(workdir, "restore.ckpt")
                shutil.copy(os.path.join(restore_dir, CHECKPOINT_FILE), ckpt_path)
        if ckpt_path is not None and module_factory is None:
            # ArchitecturePBT: the checkpoint may hold a donor of another architecture
            from raynas.schedulers._restore import adapt_checkpoint

            try:
                adapt_checkpoint(
                    ckpt_path, space=space, network=network, example_input=example_input(datamodule)
                )
            except Exception as e:
                return fail(f"restoring into a changed architecture failed: {_describe(e)}")
        try:
            trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
        except CandidateFailure as e:
            return fail(e.reason, callback)
        except Exception as e:
            if is_out_of_memory(e):
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                return fail(f"out of memory: {_describe(e)}", callback)
            raise
        if callback.reports_this_run == 0 and callback.last_metrics is not None:
            # restored after its last epoch: nothing left to train, repeat the final report
            reporter.report(dict(callback.last_metrics), None)
        return dict(callback.last_metrics or {})
