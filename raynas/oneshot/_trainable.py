"""One-shot search as Tune trials: supernet training, and weight-sharing scoring of candidates.

Two Tune function trainables:

- :func:`supernet_trainable` trains a supernet (DARTS, GDAS, DARTS-, DARTS-ES or SPOS) as one
  trial, reporting every epoch with a checkpoint (Lightning's: supernet weights, architecture
  parameters, optimiser and scheduler states, epoch, the search's random state; plus
  ``supernet.pt`` for :func:`weight_sharing_trainable`). A restored trial (after a failure, or
  ``Tuner.restore``) resumes from ``tune.get_checkpoint()`` at the next epoch. Several seeds or
  the search's own hyperparameters (``arch_learning_rate``, ``weight_learning_rate``, ...) are
  ordinary Tune ``param_space`` entries, and Tune's schedulers (ASHA, PBT) see ``val_acc``
  every epoch.
- :func:`weight_sharing_trainable` is the weight-sharing counterpart of training a candidate
  from scratch: the same ``param_space`` (``space.to_tune()``) and the same search algorithm,
  but each trial loads the trained supernet, scores its config with inherited weights and BN
  recalibration (:class:`WeightSharingEvaluator`) and reports ``val_acc`` once. The supernet
  comes from a path or Tune ``Checkpoint`` of a supernet trial, or from the object store: pass
  the module to ``tune.with_parameters`` (which ``ray.put``s it) or a ``ray.put`` reference.

Example (not run here)::

    from ray import tune
    trainable = tune.with_parameters(supernet_trainable, space=space, data="digits")
    grid = tune.Tuner(trainable, param_space={"method": "darts", "epochs": 20,
                      "seed": tune.grid_search([0, 1, 2])}).fit()
    best = grid.get_best_result("val_acc", "max")
    score = tune.with_parameters(weight_sharing_trainable, supernet=best.checkpoint,
                                 data="digits")
    tune.Tuner(score, param_space=space.to_tune(),
               tune_config=tune.TuneConfig(metric="val_acc", mode="max", num_samples=100)).fit()
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint

from ._data import as_splits
from ._io import SUPERNET_FILE, load_supernet, save_supernet
from ._methods import METHODS
from .errors import InvalidConfigError, OneShotError

#: File name of the Lightning checkpoint inside a supernet trial's checkpoint directory.
SEARCH_FILE = "search.ckpt"
#: Keys of a supernet trial's config that are not settings of the search module.
_TRIAL_KEYS = ("method", "epochs", "batch_size", "seed", "data_seed")


def make_search(method: str, space: Any, **settings: Any) -> pl.LightningModule:
    """The Lightning module of ``method`` over ``space``.

    ``darts``: first-order DARTS; ``darts2``: second order; ``gdas``: GDAS; ``darts-``: DARTS
    with :class:`AuxiliarySkip`; ``darts-es``: DARTS with :class:`EigenvalueEarlyStop`;
    ``spos``: single-path one-shot training (also for the mobile space). ``settings`` go to the
    module's constructor (``epochs``, ``arch_learning_rate``, ...).
    """
    from ._gradient import DARTS, GDAS
    from ._mitigation import AuxiliarySkip, EigenvalueEarlyStop
    from ._spos import SPOS

    if method == "darts":
        return DARTS(space, order=1, **settings)
    if method == "darts2":
        return DARTS(space, order=2, **settings)
    if method == "gdas":
        return GDAS(space, **settings)
    if method == "darts-":
        return DARTS(space, order=1, mitigation=AuxiliarySkip(), **settings)
    if method == "darts-es":
        return DARTS(space, order=1, mitigation=EigenvalueEarlyStop(), **settings)
    if method == "spos":
        return SPOS(space, **settings)
    raise OneShotError(f"The `method` argument must be one of {list(METHODS)}. Got: {method!r}")


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "numel", lambda: 2)() == 1:
        return value.item()
    return value


class TuneReportCheckpoint(Checkpoint):
    """Reports every epoch to Tune with a checkpoint directory.

    A Lightning ``Checkpoint`` callback, so that it runs after the module's own epoch-end hook
    (which derives the cell and measures the collapse signals). Metrics: Lightning's logged
    metrics, the module's ``summary`` (``arch_str``, ``collapsed``, ...) and ``epoch``.
    """

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from ray import tune

        metrics = {k: _plain(v) for k, v in trainer.callback_metrics.items()}
        metrics.update(
            {k: v for k, v in getattr(pl_module, "summary", {}).items() if v is not None}
        )
        metrics["epoch"] = trainer.current_epoch + 1
        module: Any = pl_module  # a one-shot search module: derive() and its space
        if hasattr(module, "derive"):
            metrics["arch_str"] = module.space.to_arch_str(module.derive())
        with tempfile.TemporaryDirectory() as d:
            trainer.save_checkpoint(os.path.join(d, SEARCH_FILE))
            save_supernet(pl_module, os.path.join(d, SUPERNET_FILE), epoch=metrics["epoch"])
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


def supernet_trainable(
    config: Mapping[str, Any],
    *,
    space: Any,
    data: Any = "digits",
    callbacks: Sequence[pl.Callback] = (),
) -> None:
    """Tune function trainable: one supernet training (search) per trial.

    Config keys: ``method`` (one of :data:`METHODS`, default ``"darts"``), ``epochs`` (10),
    ``batch_size`` (64), ``seed`` (0; the module's), ``data_seed`` (0; the split's), and any
    setting of the method's module (``arch_learning_rate``, ``weight_learning_rate``,
    ``learning_rate`` for SPOS, ``eigen_every``, ``tau_max``, ...). Bind ``space`` and ``data``
    (a :class:`Splits` or a dataset name) with ``tune.with_parameters``; ``callbacks`` are extra
    Lightning callbacks.
    """
    from ray import tune

    from raynas.data._lightning import refuse_lightning_package

    for i, cb in enumerate(callbacks):
        refuse_lightning_package(cb, "Callback", f"`callbacks[{i}]` of supernet_trainable")
    config = dict(config)
    method = config.get("method", "darts")
    epochs = config.get("epochs", 10)
    batch_size = config.get("batch_size", 64)
    seed = config.get("seed", 0)
    splits = as_splits(data, seed=config.get("data_seed", 0))
    settings = {k: v for k, v in config.items() if k not in _TRIAL_KEYS}
    module = make_search(method, space, epochs=epochs, seed=seed, **settings)
    if method == "spos":
        train_loader = splits.loader("train", batch_size=batch_size, shuffle=True, seed=seed)
    else:
        from ._gradient import bilevel_loader

        train_loader = bilevel_loader(splits, batch_size=batch_size, seed=seed)
    val_loader = splits.loader("val", batch_size=512)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=True,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        gradient_clip_val=None,
        callbacks=[TuneReportCheckpoint(), *callbacks],
    )
    checkpoint = tune.get_checkpoint()
    with tempfile.TemporaryDirectory() as local:
        ckpt_path = None
        if checkpoint is not None:
            with checkpoint.as_directory() as d:
                ckpt_path = os.path.join(local, SEARCH_FILE)
                shutil.copy(os.path.join(d, SEARCH_FILE), ckpt_path)
        trainer.fit(
            module, train_dataloaders=train_loader, val_dataloaders=val_loader, ckpt_path=ckpt_path
        )


_CACHE: dict[str, Any] = {}


def weight_sharing_trainable(
    config: Mapping[str, Any],
    *,
    supernet: Any,
    data: Any = "digits",
    data_seed: int = 0,
    part: str = "val",
    calibration_batches: int = 4,
) -> None:
    """Tune function trainable: score ``config`` by inherited supernet weights, report once.

    Reports :meth:`WeightSharingEvaluator.score`'s metrics (``val_acc``, ``val_loss``,
    ``params``, ``feasible``, ``reason``) and ``epoch=1``. A config outside the supernet's space
    is an infeasible result with the reason, not a crashed trial. ``supernet`` is anything
    :func:`load_supernet` takes; a path is loaded once per worker process.
    """
    from ray import tune

    from ._evaluator import WeightSharingEvaluator

    is_path = isinstance(supernet, (str, os.PathLike)) and not hasattr(supernet, "as_directory")
    key = os.fspath(supernet) if is_path else None  # a Tune Checkpoint refuses os.fspath
    evaluator = _CACHE.get(key) if key is not None else None
    if evaluator is None:
        evaluator = WeightSharingEvaluator(
            load_supernet(supernet),
            as_splits(data, seed=data_seed),
            part=part,
            calibration_batches=calibration_batches,
        )
        if key is not None:
            _CACHE.clear()
            _CACHE[key] = evaluator
    try:
        metrics = evaluator.score(config)
    except InvalidConfigError as err:
        metrics = {"val_acc": 0.0, "feasible": False, "reason": str(err)}
    tune.report({**metrics, "epoch": 1})
