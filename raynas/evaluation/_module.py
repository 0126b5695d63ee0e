"""The LightningModule that trains one candidate network with its config's hyperparameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from raynas.evaluation._failures import describe, is_out_of_memory
from raynas.evaluation._metrics import TASK_METRICS
from raynas.evaluation._settings import training_hparams
from raynas.evaluation.errors import CandidateFailure, EvaluationError, NonFiniteLossError


class CandidateModule(pl.LightningModule):
    """Wraps the network a space builds from a config, and trains it as the config says.

    The optimizer (``adam``, ``adamw``, ``sgd`` with ``momentum``), ``learning_rate``,
    ``weight_decay`` and ``lr_schedule`` (``constant``, ``cosine`` over ``max_epochs``, ``step``:
    x0.1 every third of ``max_epochs``) come from the same config as the architecture (joint NAS
    + HPO); missing keys take :data:`~raynas.evaluation._settings.TRAINING_DEFAULTS`.
    Classification uses cross-entropy and reports ``val_acc``; regression uses mean squared
    error and reports ``val_mae``; classification reports the training accuracy
    (``train_acc``) too. A NaN or infinite loss raises :class:`NonFiniteLossError`,
    which the trainable turns into an infeasible result.

    Metrics are accumulated in the module itself (no Lightning logger is needed); read them with
    :meth:`epoch_metrics` after a validation epoch.

    Args:
        model: the candidate network, ``(batch, *input_shape) -> (batch, outputs)``.
        config: the candidate's config (architecture and training keys).
        task: ``"classification"`` or ``"regression"``.
        max_epochs: the planned number of epochs (for the learning-rate schedule).

    Example:
        >>> from torch import nn
        >>> module = CandidateModule(nn.Linear(4, 3), {"learning_rate": 0.01, "optimizer": "sgd"})
        >>> type(module.configure_optimizers()["optimizer"]).__name__
        'SGD'
    """

    def __init__(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        *,
        task: str = "classification",
        max_epochs: int = 10,
    ) -> None:
        super().__init__()
        if task not in TASK_METRICS:
            raise EvaluationError(f"`task` must be one of {list(TASK_METRICS)}, but got {task!r}.")
        if not isinstance(model, nn.Module):
            raise EvaluationError(
                f"`model` must be a torch.nn.Module, but got {type(model).__name__}."
            )
        self.model = model
        self.config = dict(config)
        self.task = task
        self.max_epochs = max_epochs
        self.hparams_ = training_hparams(config)
        self._sums: dict[str, torch.Tensor] = {}
        self._loaded_hparams: dict[str, Any] | None = None

    # -- forward and losses --------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The candidate network's output; its errors (but out-of-memory) fail the candidate."""
        try:
            return self.model(x)
        except CandidateFailure:
            raise
        except Exception as e:
            if is_out_of_memory(e):
                raise
            raise CandidateFailure(
                f"forward failed at epoch {self.current_epoch + 1}: {describe(e)}"
            ) from e

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.task == "classification":
            return nn.functional.cross_entropy(out, y)
        if out.dim() == y.dim() + 1 and out.shape[-1] == 1:
            out = out.squeeze(-1)
        return nn.functional.mse_loss(out, y)

    def _add(self, key: str, value: torch.Tensor) -> None:
        value = value.detach().to(torch.float64)
        self._sums[key] = self._sums[key] + value if key in self._sums else value

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """One optimisation step; stops the candidate when the loss is not finite."""
        x, y = batch
        out = self(x)
        loss = self._loss(out, y)
        if self._world_size() == 1 and not bool(torch.isfinite(loss.detach())):
            raise NonFiniteLossError(
                f"training loss became {loss.item()} at epoch {self.current_epoch + 1}, "
                f"step {batch_idx + 1}"
            )
        n = torch.tensor(float(len(x)), device=loss.device, dtype=torch.float64)
        self._add("train_loss", loss * n)
        self._add("train_n", n)
        if self.task == "classification":
            self._add("train_correct", (out.detach().argmax(dim=-1) == y).sum())
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Data-parallel runs check the all-reduced gradients, so every rank stops together."""
        if self._world_size() == 1:
            return
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if grads and not bool(torch.stack([g.isfinite().all() for g in grads]).all()):
            raise NonFiniteLossError(
                f"gradients became non-finite at epoch {self.current_epoch + 1}, "
                f"step {self.trainer.fit_loop.epoch_loop.batch_progress.current.ready}"
            )

    def _world_size(self) -> int:
        trainer = self._trainer
        return int(trainer.world_size) if trainer is not None else 1

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Accumulate validation loss and accuracy (or absolute error)."""
        x, y = batch
        out = self(x)
        loss = self._loss(out, y)
        n = torch.tensor(float(len(x)), device=loss.device, dtype=torch.float64)
        self._add("val_loss", loss * n)
        self._add("val_n", n)
        if self.task == "classification":
            self._add("val_correct", (out.argmax(dim=-1) == y).sum())
        else:
            if out.dim() == y.dim() + 1 and out.shape[-1] == 1:
                out = out.squeeze(-1)
            err = (out - y).abs().reshape(len(x), -1).mean(dim=1)
            self._add("val_abs", err.sum())

    def on_train_epoch_start(self) -> None:
        """Reset the training sums."""
        for key in ("train_loss", "train_n", "train_correct"):
            self._sums.pop(key, None)

    def on_validation_epoch_start(self) -> None:
        """Reset the validation sums."""
        for key in ("val_loss", "val_n", "val_correct", "val_abs"):
            self._sums.pop(key, None)

    def epoch_metrics(self) -> dict[str, float]:
        """``train_loss``, ``val_loss`` and ``train_acc`` + ``val_acc`` or ``val_mae`` of the
        last epoch (``train_acc`` is measured on the batches as trained, as Keras's
        ``accuracy``)."""
        sums = self._sums
        if self._world_size() > 1:  # sum over all ranks' shards (every rank calls this)
            keys = (
                *("train_loss", "train_n", "train_correct"),
                *("val_loss", "val_n", "val_correct", "val_abs"),
            )
            zero = torch.zeros((), dtype=torch.float64, device=self.device)
            sums = {
                k: self.trainer.strategy.reduce(sums.get(k, zero).to(self.device), reduce_op="sum")
                for k in keys
                if k in sums
            }
        s = {k: float(v) for k, v in sums.items()}
        nan = float("nan")
        out = {
            "train_loss": s["train_loss"] / s["train_n"] if s.get("train_n") else nan,
            "val_loss": s["val_loss"] / s["val_n"] if s.get("val_n") else nan,
        }
        if self.task == "classification":
            n = s.get("train_n")
            out["train_acc"] = s.get("train_correct", 0.0) / n if n else nan
            out["val_acc"] = s.get("val_correct", 0.0) / s["val_n"] if s.get("val_n") else nan
        else:
            out["val_mae"] = s.get("val_abs", nan) / s["val_n"] if s.get("val_n") else nan
        return out

    # -- optimisation --------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        """The optimizer and learning-rate schedule named by the config."""
        hp = self.hparams_
        params = [p for p in self.parameters() if p.requires_grad]
        if hp["optimizer"] == "adam":
            opt: torch.optim.Optimizer = torch.optim.Adam(
                params, lr=hp["learning_rate"], weight_decay=hp["weight_decay"]
            )
        elif hp["optimizer"] == "adamw":
            opt = torch.optim.AdamW(params, lr=hp["learning_rate"], weight_decay=hp["weight_decay"])
        else:
            opt = torch.optim.SGD(
                params,
                lr=hp["learning_rate"],
                weight_decay=hp["weight_decay"],
                momentum=hp["momentum"],
            )
        if hp["lr_schedule"] == "constant":
            return {"optimizer": opt}
        if hp["lr_schedule"] == "cosine":
            sched: Any = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.max_epochs)
        else:
            sched = torch.optim.lr_scheduler.StepLR(
                opt, step_size=max(1, self.max_epochs // 3), gamma=0.1
            )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    # -- checkpoints ---------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the torch random state (dropout), the training hyperparameters and the config
        (ArchitecturePBT rebuilds a donor's network from it to transfer its weights)."""
        checkpoint["raynas"] = {
            "torch_rng": torch.get_rng_state(),
            "hparams": dict(self.hparams_),
            "config": dict(self.config),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the torch random state, so a resumed run continues the same random stream."""
        state = checkpoint.get("raynas")
        if state:
            torch.set_rng_state(state["torch_rng"])
            self._loaded_hparams = state["hparams"]

    def on_train_start(self) -> None:
        """After a restore with a changed config (PBT), apply the new lr and weight decay."""
        old, new = self._loaded_hparams, self.hparams_
        self._loaded_hparams = None
        if not old:
            return
        if (
            old["learning_rate"] == new["learning_rate"]
            and old["weight_decay"] == new["weight_decay"]
        ):
            return
        scale = new["learning_rate"] / old["learning_rate"]
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] *= scale
                group["initial_lr"] = group.get("initial_lr", old["learning_rate"]) * scale
                group["weight_decay"] = new["weight_decay"]
        for config in self.trainer.lr_scheduler_configs:
            sched = config.scheduler
            if hasattr(sched, "base_lrs"):
                sched.base_lrs = [lr * scale for lr in sched.base_lrs]
