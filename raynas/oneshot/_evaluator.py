"""Weight-sharing evaluation: score a config by the weights it inherits from a trained supernet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._data import Splits
from .errors import OneShotError

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def recalibrate_batch_norm(module: nn.Module, batches: list[torch.Tensor]) -> nn.Module:
    """Reset every BN's running statistics and re-estimate them on ``batches``.

    The module runs in train mode without gradients with ``momentum=None`` (an exact cumulative
    average over the batches), then is put in eval mode. A path's BN statistics inside a
    supernet mix all paths, so they must be recomputed for the path alone (SPOS, OFA).
    """
    bns = [m for m in module.modules() if isinstance(m, _BN)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    with torch.no_grad():
        for x in batches:
            module(x)
    for m, mom in zip(bns, momenta, strict=True):
        m.momentum = mom
    return module.eval()


class WeightSharingEvaluator:
    """Scores configs of a space by inherited supernet weights instead of training them.

    ``score(config)`` slices the config's stand-alone network out of the trained supernet
    (``supernet.extract``), recalibrates its batch-norm statistics on ``calibration_batches``
    fixed training batches and evaluates it on ``part`` (``val`` by default). It returns the
    metrics a from-scratch trial reports (``val_acc``, ``val_loss``, ``params``, ``feasible``,
    ``reason``), so any raynas strategy's ask/tell loop uses it as its evaluator. The training
    hyperparameters of a config (``learning_rate``, ...) do not affect the score. Each score costs
    a few forward passes (no training). The supernet itself is never modified.

    Args:
        supernet: a trained :class:`NB201Supernet` / :class:`MobileSupernet` (or an :class:`SPOS`
            module, whose supernet is used).
        splits: the data; calibration uses ``train``, scoring uses ``part``.
        part: ``"val"`` (default, for searching) or ``"test"``.
        calibration_batches: batches of ``calibration_batch_size`` training samples, the same
            for every config (chosen by ``seed``).
        batch_size: evaluation batch size.
        seed: picks the calibration batches.

    Example:
        >>> from raynas.search_spaces import NB201CellSpace
        >>> from raynas.oneshot import NB201Supernet, load_splits
        >>> splits = load_splits("digits")
        >>> space = NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4,
        ...                        cells_per_stage=1)
        >>> evaluator = WeightSharingEvaluator(NB201Supernet(space, seed=0), splits)
        >>> sorted(evaluator.score(space.sample(0)))
        ['feasible', 'params', 'reason', 'val_acc', 'val_loss']
    """

    def __init__(
        self,
        supernet: nn.Module,
        splits: Splits,
        *,
        part: str = "val",
        calibration_batches: int = 4,
        calibration_batch_size: int = 128,
        batch_size: int = 512,
        seed: int = 0,
    ) -> None:
        inner = getattr(supernet, "supernet", supernet)
        if not (hasattr(inner, "extract") and hasattr(inner, "space")):
            raise OneShotError(
                f"`supernet` must be an NB201Supernet, a MobileSupernet or an SPOS module, but "
                f"got {type(supernet).__name__}."
            )
        if not isinstance(splits, Splits):
            raise OneShotError(f"`splits` must be a Splits, but got {type(splits).__name__}.")
        if part not in ("val", "test"):
            raise OneShotError(f"`part` must be one of ['val', 'test'], but got {part!r}.")
        for name, value in (
            ("calibration_batches", calibration_batches),
            ("calibration_batch_size", calibration_batch_size),
            ("batch_size", batch_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OneShotError(f"`{name}` must be an int >= 1, but got {value!r}.")
        self.supernet: Any = inner  # duck-typed: extract(config) and space, checked above
        self.space = inner.space
        self.splits = splits
        self.part = part
        self.batch_size = batch_size
        self.device = next(inner.parameters()).device
        loader = splits.loader("train", batch_size=calibration_batch_size, shuffle=True, seed=seed)
        self.calibration = []
        for i, (x, _) in enumerate(loader):
            if i >= calibration_batches:
                break
            self.calibration.append(x.to(self.device))

    def network(self, config: Mapping[str, Any]) -> nn.Module:
        """The stand-alone network of ``config`` with inherited weights and recalibrated BN."""
        return recalibrate_batch_norm(self.supernet.extract(config), self.calibration)

    @torch.no_grad()
    def score(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``{"val_acc", "val_loss", "params", "feasible", "reason"}`` of ``config``.

        Raises:
            InvalidConfigError: ``config`` is not a config of the supernet's space.
        """
        net = self.network(config)
        x_all, y_all = self.splits.parts[self.part]
        loss, correct = 0.0, 0
        for i in range(0, len(x_all), self.batch_size):
            x = x_all[i : i + self.batch_size].to(self.device)
            y = y_all[i : i + self.batch_size].to(self.device)
            logits = net(x)
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(-1) == y).sum())
        n = len(x_all)
        val_loss = loss / n
        feasible = bool(torch.isfinite(torch.tensor(val_loss)))
        return {
            "val_acc": correct / n,
            "val_loss": val_loss,
            "params": sum(p.numel() for p in net.parameters()),
            "feasible": feasible,
            "reason": "" if feasible else "the inherited weights give a non-finite loss",
        }

    __call__ = score
