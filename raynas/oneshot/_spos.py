"""Single-path one-shot (SPOS) supernet training with uniform path sampling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from ._collapse import preserved_buffers
from ._gradient import _count, _positive
from .errors import OneShotError


def supernet_of(space: Any, *, seed: int | None = None) -> nn.Module:
    """The supernet class that fits ``space`` (:class:`NB201Supernet`, :class:`MobileSupernet`)."""
    from raynas.search_spaces import NB201CellSpace

    if isinstance(space, NB201CellSpace):
        from ._nb201_supernet import NB201Supernet

        return NB201Supernet(space, seed=seed)
    try:
        from raynas.search_spaces import MobileBlockSpace
    except (ImportError, AttributeError):  # pragma: no cover - until the mobile space lands
        MobileBlockSpace = None  # noqa: N806
    if MobileBlockSpace is not None and isinstance(space, MobileBlockSpace):
        from ._mobile_supernet import MobileSupernet

        return MobileSupernet(space, seed=seed)
    raise OneShotError(
        f"`space` must be an NB201CellSpace or a MobileBlockSpace (the spaces with a supernet), "
        f"but got {type(space).__name__}."
    )


class SPOS(pl.LightningModule):
    """Trains a supernet by single-path one-shot (Guo et al., ECCV 2020) with uniform sampling.

    Every step samples one config from ``space.sample`` with the module's own generator (for the
    NAS-Bench-201 space: each edge's op uniformly) and takes an SGD step on that path alone. The
    trained supernet is then an estimator: :class:`WeightSharingEvaluator` scores any config by
    its inherited weights. Per epoch it logs ``train_loss`` and ``val_loss``/``val_acc``, the mean
    over ``val_paths`` fixed random paths evaluated with batch statistics (the running statistics
    of a supernet mix all paths, so they are not used).

    Args:
        space: an :class:`NB201CellSpace` or a ``MobileBlockSpace``.
        epochs: length of the cosine schedule.
        learning_rate, min_learning_rate, momentum, weight_decay: SGD (Nesterov) settings.
        grad_clip: gradient-norm clipping.
        val_paths: random paths scored at each validation.
        seed: seeds the supernet's initialisation and the path sampling.

    Example:
        >>> from raynas.search_spaces import NB201CellSpace
        >>> space = NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4,
        ...                        cells_per_stage=1)
        >>> cfg = SPOS(space, epochs=1, seed=0).sample_path()
        >>> space.validate(cfg) == cfg
        True
    """

    def __init__(
        self,
        space: Any,
        *,
        epochs: int = 20,
        learning_rate: float = 0.05,
        min_learning_rate: float = 0.0,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        grad_clip: float = 5.0,
        val_paths: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.space = space
        self.epochs = _count("epochs", epochs, low=1)
        self.learning_rate = _positive("learning_rate", learning_rate)
        self.min_learning_rate = _positive("min_learning_rate", min_learning_rate, allow_zero=True)
        self.momentum = _positive("momentum", momentum, allow_zero=True)
        self.weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        self.grad_clip = _positive("grad_clip", grad_clip)
        self.val_paths = _count("val_paths", val_paths, low=1)
        self.seed = _count("seed", seed, low=0)
        self.supernet = supernet_of(space, seed=seed)
        self.rng = np.random.default_rng(seed)
        fixed = np.random.default_rng(seed + 1)
        self.fixed_paths = [space.sample(fixed) for _ in range(self.val_paths)]
        self.summary: dict[str, Any] = {}
        self._val: list[tuple[float, int, int]] = []

    def sample_path(self) -> dict[str, Any]:
        """A config drawn from ``space.sample`` with the module's generator."""
        return self.space.sample(self.rng)

    def forward(self, x: torch.Tensor, config: dict[str, Any]) -> torch.Tensor:
        return self.supernet(x, config)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(
            self.supernet.parameters(),
            lr=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            nesterov=self.momentum > 0,
        )
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=self.epochs, eta_min=self.min_learning_rate
        )
        return [opt], [sched]

    def training_step(
        self,
        batch: Sequence[torch.Tensor] | Mapping[str, Sequence[torch.Tensor]],
        batch_idx: int,
    ) -> torch.Tensor:
        if isinstance(batch, Mapping):  # a bi-level loader: SPOS trains on the train part only
            batch = batch["train"]
        x, y = batch
        loss = F.cross_entropy(self.supernet(x, self.sample_path()), y)
        self.log("train_loss", loss.detach(), on_step=False, on_epoch=True)
        return loss

    def configure_gradient_clipping(self, optimizer: Any, *args: Any, **kwargs: Any) -> None:
        nn.utils.clip_grad_norm_(self.supernet.parameters(), self.grad_clip)

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.supernet.train()  # batch statistics; running statistics restored below
        with preserved_buffers(self.supernet):
            for cfg in self.fixed_paths:
                logits = self.supernet(x, cfg)
                loss = F.cross_entropy(logits, y, reduction="sum")
                self._val.append((float(loss), int((logits.argmax(-1) == y).sum()), y.numel()))
        self.supernet.eval()

    def on_validation_epoch_end(self) -> None:
        if self._val and not self.trainer.sanity_checking:
            n = sum(v[2] for v in self._val)
            self.log("val_loss", sum(v[0] for v in self._val) / n)
            self.log("val_acc", sum(v[1] for v in self._val) / n)
        self._val = []

    def on_train_epoch_end(self) -> None:
        metrics = self.trainer.callback_metrics
        self.summary = {
            "epoch": self.current_epoch + 1,
            "train_loss": float(metrics["train_loss"]) if "train_loss" in metrics else None,
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["raynas_oneshot"] = {
            "rng": self.rng.bit_generator.state,
            "summary": dict(self.summary),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("raynas_oneshot", {})
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
        self.summary = dict(state.get("summary", {}))
