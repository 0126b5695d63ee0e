"""Gradient-based cell search over the NAS-Bench-201 supernet: DARTS (1st/2nd order) and GDAS.

Both are Lightning modules with manual optimisation of the bi-level problem

    min_alpha L_val(w*(alpha), alpha)   s.t.   w*(alpha) = argmin_w L_train(w, alpha)

alternating, per step, one Adam step on the architecture parameters ``alpha`` (a ``(6, ops)``
matrix shared by all cells, as in NAS-Bench-201's DARTS/GDAS) on a batch of the ``val`` split,
and one SGD step on the supernet weights on a batch of the ``train`` split. Training batches are
``{"train": (x, y), "val": (x, y)}`` dicts, as :func:`bilevel_loader` yields them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from raynas.search_spaces._nb201 import EDGES, NB201CellSpace, arch_str

from ._collapse import collapse_report, hessian_eigenvalue, preserved_buffers
from ._data import Splits
from ._mitigation import Mitigation
from ._nb201_supernet import NB201Supernet
from .errors import OneShotError


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        rule = ">= 0" if allow_zero else "> 0"
        raise OneShotError(f"`{name}` must be a number {rule}, but got {value!r}.")
    return float(value)


def _count(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise OneShotError(f"`{name}` must be an int >= {low}, but got {value!r}.")
    return value


def bilevel_loader(splits: Splits, *, batch_size: int, seed: int = 0) -> Any:
    """Training loader of a bi-level search: ``{"train": batch, "val": batch}`` per step.

    The shorter split is cycled (Lightning's ``CombinedLoader`` in ``max_size_cycle`` mode).
    """
    from pytorch_lightning.utilities import CombinedLoader

    return CombinedLoader(
        {
            "train": splits.loader("train", batch_size=batch_size, shuffle=True, seed=seed),
            "val": splits.loader("val", batch_size=batch_size, shuffle=True, seed=seed + 1),
        },
        mode="max_size_cycle",
    )


class GradientSearch(pl.LightningModule):
    """Base of :class:`DARTS` and :class:`GDAS`: supernet, ``alpha``, optimisers, bookkeeping.

    Every epoch it logs ``train_loss``, ``val_loss``/``val_acc`` (the supernet under the current
    architecture weights, on the ``val`` loader given to ``fit``), the derived cell's
    ``skip_share``, the dominant Hessian eigenvalue of the val loss w.r.t. ``alpha`` (every
    ``eigen_every`` epochs, 0 = never) and ``collapsed``; :attr:`summary` holds the same plus the
    derived ``arch_str``. A ``mitigation`` object may add DARTS-'s auxiliary skip or stop early on
    the eigenvalue signal.

    The derived cell is the argmax of ``alpha`` per edge over the ops other than ``none``: DARTS
    (Liu et al. 2019) excludes the zero op when deriving, since its weight says how much an
    edge matters, not which op it should hold. ``none`` stays in the mixture during the search.

    Checkpoints (Lightning's) hold the supernet, ``alpha``, both optimisers, the scheduler, the
    epoch and, through :meth:`on_save_checkpoint`, the eigenvalue and ``alpha`` histories and the
    search's own random state, so a resumed search continues exactly where it stopped.
    """

    def __init__(
        self,
        space: NB201CellSpace,
        *,
        epochs: int = 50,
        weight_learning_rate: float = 0.025,
        weight_min_learning_rate: float = 0.001,
        weight_momentum: float = 0.9,
        weight_decay: float = 5e-4,
        arch_learning_rate: float = 3e-4,
        arch_weight_decay: float = 1e-3,
        grad_clip: float = 5.0,
        eigen_every: int = 1,
        eigen_batches: int = 1,
        eigen_iterations: int = 10,
        mitigation: Mitigation | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(space, NB201CellSpace):
            raise OneShotError(
                f"`space` must be an NB201CellSpace, but got {type(space).__name__}."
            )
        if mitigation is not None and not isinstance(mitigation, Mitigation):
            raise OneShotError(
                f"`mitigation` must be a Mitigation (AuxiliarySkip, EigenvalueEarlyStop) or None, "
                f"but got {mitigation!r}."
            )
        self.automatic_optimization = False
        self.space = space
        self.epochs = _count("epochs", epochs, low=1)
        self.weight_learning_rate = _positive("weight_learning_rate", weight_learning_rate)
        self.weight_min_learning_rate = _positive(
            "weight_min_learning_rate", weight_min_learning_rate, allow_zero=True
        )
        self.weight_momentum = _positive("weight_momentum", weight_momentum, allow_zero=True)
        self.weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        self.arch_learning_rate = _positive("arch_learning_rate", arch_learning_rate)
        self.arch_weight_decay = _positive("arch_weight_decay", arch_weight_decay, allow_zero=True)
        self.grad_clip = _positive("grad_clip", grad_clip)
        self.eigen_every = _count("eigen_every", eigen_every, low=0)
        self.eigen_batches = _count("eigen_batches", eigen_batches, low=1)
        self.eigen_iterations = _count("eigen_iterations", eigen_iterations, low=1)
        self.mitigation = mitigation or Mitigation()
        self.seed = _count("seed", seed, low=0)
        self.supernet = NB201Supernet(space, seed=seed)
        gen = torch.Generator().manual_seed(seed + 7)
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(EDGES), len(space.ops), generator=gen))
        self.generator = torch.Generator().manual_seed(seed + 11)
        self.eigenvalues: list[float] = []
        self.alpha_history: list[list[list[float]]] = []
        self.summary: dict[str, Any] = {}
        self._eigen_batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._train_losses: list[float] = []
        self._val_outputs: list[tuple[float, int, int]] = []

    # -- what subclasses define ----------------------------------------------------------------
    def mixed_logits(self, x: torch.Tensor, *, sample: bool) -> torch.Tensor:
        """Logits of the supernet under the architecture weights (``sample``: draw GDAS paths)."""
        raise NotImplementedError

    def arch_step(self, train: tuple[torch.Tensor, ...], val: tuple[torch.Tensor, ...]) -> None:
        """Set ``alpha.grad`` for one architecture step."""
        raise NotImplementedError

    def relaxed_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the continuous relaxation ``sum_o softmax(alpha)_o * op_o`` (the loss
        whose curvature the collapse detector measures, for GDAS too)."""
        return self.supernet.forward_mixed(x, self.arch_weights(), aux_skip=self.aux_skip)

    # -- architecture --------------------------------------------------------------------------
    def arch_weights(self) -> torch.Tensor:
        """``softmax(alpha)`` per edge, ``(6, len(ops))``."""
        return torch.softmax(self.alpha, dim=-1)

    def derived_cell(self) -> dict[str, str]:
        """``{edge: op}`` by argmax of ``alpha`` per edge, ``none`` excluded (unless it is the
        only op)."""
        ops = self.space.ops
        keep = [i for i, op in enumerate(ops) if op != "none"] or list(range(len(ops)))
        a = self.alpha.detach()[:, keep]
        return {e: ops[keep[int(a[i].argmax())]] for i, e in enumerate(EDGES)}

    def derive(self, **training: Any) -> dict[str, Any]:
        """The derived config of the space: :meth:`derived_cell` plus training values
        (``training`` over :meth:`NB201CellSpace.default_training`)."""
        return self.space.from_arch_str(arch_str(self.derived_cell()), **training)

    def current_weight_learning_rate(self) -> float:
        """The weight optimiser's learning rate now (the initial one outside a Trainer)."""
        if self._trainer is None:
            return self.weight_learning_rate
        return float(self.optimizers()[0].param_groups[0]["lr"])  # type: ignore[index]

    @property
    def aux_skip(self) -> float:
        """The mitigation's auxiliary-skip weight for the current epoch (0 without DARTS-)."""
        epoch = self.current_epoch if self._trainer is not None else 0
        return self.mitigation.aux_skip(epoch, self.epochs)

    # -- optimisation --------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        w = torch.optim.SGD(
            self.supernet.parameters(),
            lr=self.weight_learning_rate,
            momentum=self.weight_momentum,
            weight_decay=self.weight_decay,
            nesterov=self.weight_momentum > 0,
        )
        a = torch.optim.Adam(
            [self.alpha],
            lr=self.arch_learning_rate,
            betas=(0.5, 0.999),
            weight_decay=self.arch_weight_decay,
        )
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            w, T_max=self.epochs, eta_min=self.weight_min_learning_rate
        )
        return [w, a], [sched]

    def training_step(self, batch: Mapping[str, Sequence[torch.Tensor]], batch_idx: int) -> None:
        optimizers = self.optimizers()
        assert isinstance(optimizers, list)  # configure_optimizers returns two
        opt_w, opt_a = optimizers
        train, val = tuple(batch["train"]), tuple(batch["val"])
        # architecture step on the val split
        opt_a.zero_grad()
        self.arch_step(train, val)
        opt_a.step()
        # weight step on the train split
        opt_w.zero_grad()
        x, y = train
        loss = F.cross_entropy(self.mixed_logits(x, sample=True), y)
        self.manual_backward(loss)
        nn.utils.clip_grad_norm_(self.supernet.parameters(), self.grad_clip)
        opt_w.step()
        self._train_losses.append(float(loss.detach()))
        if len(self._eigen_batches) < self.eigen_batches:
            self._eigen_batches.append((val[0].detach(), val[1].detach()))

    def on_train_epoch_start(self) -> None:
        self._eigen_batches, self._train_losses = [], []

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.mixed_logits(x, sample=False)
        loss = F.cross_entropy(logits, y, reduction="sum")
        correct = int((logits.argmax(-1) == y).sum())
        self._val_outputs.append((float(loss), correct, int(y.numel())))

    def on_validation_epoch_end(self) -> None:
        if self._val_outputs and not self.trainer.sanity_checking:
            n = sum(o[2] for o in self._val_outputs)
            self.log("val_loss", sum(o[0] for o in self._val_outputs) / n)
            self.log("val_acc", sum(o[1] for o in self._val_outputs) / n)
        self._val_outputs = []

    def dominant_eigenvalue(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> float:
        """Dominant eigenvalue of the Hessian of the val loss on ``batches`` w.r.t. ``alpha``.

        Computed with batch statistics (train mode, as during the search); BN running statistics
        are left unchanged.
        """
        was_training = self.supernet.training
        self.supernet.train()
        with preserved_buffers(self.supernet), torch.enable_grad():

            def loss() -> torch.Tensor:
                losses = [F.cross_entropy(self.relaxed_logits(x), y) for x, y in batches]
                return torch.stack(losses).mean()

            value = hessian_eigenvalue(
                loss, self.alpha, iterations=self.eigen_iterations, seed=self.seed
            )
        self.supernet.train(was_training)
        return value

    def on_train_epoch_end(self) -> None:
        self.lr_schedulers().step()  # type: ignore[union-attr]
        epoch = self.current_epoch
        eigen = None
        if self.eigen_every and (epoch + 1) % self.eigen_every == 0 and self._eigen_batches:
            eigen = self.dominant_eigenvalue(self._eigen_batches)
            self.eigenvalues.append(eigen)
        self.alpha_history.append(self.alpha.detach().cpu().tolist())
        back = self.mitigation.rollback(self.eigenvalues) if eigen is not None else None
        stopped = False
        if back is not None and len(self.alpha_history) > back:
            with torch.no_grad():
                self.alpha.copy_(torch.tensor(self.alpha_history[-1 - back]))
            self.trainer.should_stop = True
            stopped = True
        cell = self.derived_cell()
        report = collapse_report(cell, eigenvalues=self.eigenvalues)
        loss = sum(self._train_losses) / max(1, len(self._train_losses))
        self.log("train_loss", loss)
        self.log("skip_share", report.skip_share)
        self.log("param_free_share", report.param_free_share)
        self.log("collapsed", float(report.collapsed))
        if eigen is not None:
            self.log("eigenvalue", eigen)
        self.summary = {
            "epoch": epoch + 1,
            "train_loss": loss,
            "arch_str": arch_str(cell),
            "skip_share": report.skip_share,
            "param_free_share": report.param_free_share,
            "eigenvalue": report.eigenvalue,
            "eigenvalue_growth": report.eigenvalue_growth,
            "collapsed": report.collapsed,
            "collapse_reasons": "; ".join(report.reasons),
            "early_stopped": stopped,
            "aux_skip": self.aux_skip,
        }

    # -- checkpoints ---------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["raynas_oneshot"] = {
            "eigenvalues": list(self.eigenvalues),
            "alpha_history": list(self.alpha_history),
            "generator": self.generator.get_state(),
            "summary": dict(self.summary),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("raynas_oneshot", {})
        self.eigenvalues = list(state.get("eigenvalues", []))
        self.alpha_history = list(state.get("alpha_history", []))
        if "generator" in state:
            self.generator.set_state(state["generator"])
        self.summary = dict(state.get("summary", {}))


class DARTS(GradientSearch):
    """DARTS (Liu et al., ICLR 2019) over the NAS-Bench-201 cell supernet.

    Every edge computes ``sum_o softmax(alpha_e)_o * op_o(x)``. ``order=1`` takes the
    architecture gradient at the current weights; ``order=2`` at the weights after one virtual
    SGD step ``w' = w - xi * (grad_w L_train + weight_decay * w)`` (``xi`` = the current weight
    learning rate; the virtual step ignores momentum). The second-order term
    ``xi * d2 L_train / (d alpha d w) . grad_w' L_val`` is an exact Hessian-vector product by double
    backward, where the paper uses central finite differences with ``eps = 0.01 / |grad|``: on
    small ReLU networks that step crosses activation kinks and the difference can be off by an
    order of magnitude (measured against the exact unrolled gradient in the tests), while the
    double backward costs about the same (one extra forward/backward instead of two). See :class:`GradientSearch` for the rest, and
    :class:`~raynas.oneshot.AuxiliarySkip` for DARTS- (``mitigation=AuxiliarySkip()``).

    Example:
        >>> from raynas.search_spaces import NB201CellSpace
        >>> space = NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4,
        ...                        cells_per_stage=1)
        >>> search = DARTS(space, order=1, epochs=2)
        >>> sorted(search.derive())[:2]
        ['batch_size', 'edge_1_0']
    """

    def __init__(self, space: NB201CellSpace, *, order: int = 1, **kwargs: Any) -> None:
        if order not in (1, 2) or isinstance(order, bool):
            raise OneShotError(f"`order` must be 1 or 2, but got {order!r}.")
        super().__init__(space, **kwargs)
        self.order = order

    def mixed_logits(self, x: torch.Tensor, *, sample: bool) -> torch.Tensor:
        return self.relaxed_logits(x)

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.mixed_logits(x, sample=False), y)

    def arch_step(self, train: tuple[torch.Tensor, ...], val: tuple[torch.Tensor, ...]) -> None:
        if self.order == 1:
            loss = self._loss(*val)
            (self.alpha.grad,) = torch.autograd.grad(loss, self.alpha)
            return
        params = [p for p in self.supernet.parameters() if p.requires_grad]
        xi = self.current_weight_learning_rate()
        with preserved_buffers(self.supernet):
            saved = [p.detach().clone() for p in params]
            grads = torch.autograd.grad(self._loss(*train), params, allow_unused=True)
            with torch.no_grad():
                for p, g in zip(params, grads, strict=True):
                    if g is not None:
                        p.sub_(xi * (g + self.weight_decay * p))
            out = torch.autograd.grad(self._loss(*val), [self.alpha, *params], allow_unused=True)
            d_alpha, d_w = (
                out[0],
                [
                    torch.zeros_like(p) if g is None else g
                    for p, g in zip(params, out[1:], strict=True)
                ],
            )
            with torch.no_grad():
                for p, saved_p in zip(params, saved, strict=True):
                    p.copy_(saved_p)
            # exact Hessian-vector product d2 L_train / (d alpha d w) . d_w at w, by double backward
            g_train = torch.autograd.grad(
                self._loss(*train), params, create_graph=True, allow_unused=True
            )
            terms = [(g * d).sum() for g, d in zip(g_train, d_w, strict=True) if g is not None]
            if terms:
                (implicit,) = torch.autograd.grad(torch.stack(terms).sum(), self.alpha)
            else:  # no weight depends on the train loss: no second-order term
                implicit = torch.zeros_like(self.alpha)
        self.alpha.grad = (d_alpha - xi * implicit).detach()


class GDAS(GradientSearch):
    """GDAS (Dong & Yang, CVPR 2019): one op per edge sampled by Gumbel-softmax per step.

    Each step draws ``index_e = argmax(log_softmax(alpha_e) + g)`` with Gumbel noise ``g`` from
    the search's own generator, and edge ``e`` computes only ``h_e * op_{index_e}(x)`` with
    ``h = one_hot(index) - p.detach() + p``, ``p = softmax((log_softmax(alpha) + g) / tau)``:
    hard in the forward pass, the soft gradient in the backward pass (straight-through). The
    temperature decays linearly from ``tau_max`` to ``tau_min`` over ``epochs``. Architecture
    steps are first order; validation uses the argmax path.

    Example:
        >>> from raynas.search_spaces import NB201CellSpace
        >>> space = NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4,
        ...                        cells_per_stage=1)
        >>> GDAS(space, epochs=2).tau
        10.0
    """

    def __init__(
        self,
        space: NB201CellSpace,
        *,
        tau_max: float = 10.0,
        tau_min: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(space, **kwargs)
        self.tau_max = _positive("tau_max", tau_max)
        self.tau_min = _positive("tau_min", tau_min)
        if self.tau_min > self.tau_max:
            raise OneShotError(
                f"`tau_min` must be <= `tau_max`, but got tau_min={tau_min!r} > tau_max={tau_max!r}."
            )

    @property
    def tau(self) -> float:
        progress = self.current_epoch / max(1, self.epochs - 1)
        return self.tau_max - (self.tau_max - self.tau_min) * min(1.0, progress)

    def sample_weights(self) -> tuple[torch.Tensor, list[int]]:
        """Straight-through one-hot weights ``h`` and the sampled op index per edge."""
        log_p = torch.log_softmax(self.alpha, dim=-1)
        for _ in range(100):
            u = torch.rand(self.alpha.shape, generator=self.generator).to(self.alpha.device)
            exponential = -torch.log(u.clamp_min(1e-20))
            gumbel = -torch.log(exponential.clamp_min(1e-20))
            p = torch.softmax((log_p + gumbel) / self.tau, dim=-1)
            if torch.isfinite(p).all():
                break
        else:
            raise FloatingPointError(
                "GDAS: Gumbel-softmax weights stayed non-finite; are the architecture "
                "parameters finite?"
            )
        index = p.argmax(-1)
        hard = F.one_hot(index, p.shape[-1]).to(p.dtype)
        return hard - p.detach() + p, [int(i) for i in index]

    def mixed_logits(self, x: torch.Tensor, *, sample: bool) -> torch.Tensor:
        if sample:
            h, index = self.sample_weights()
        else:
            index = [int(i) for i in self.alpha.detach().argmax(-1)]
            h = F.one_hot(torch.tensor(index), len(self.space.ops)).to(self.alpha)
        return self.supernet.forward_mixed(x, h, index=index, aux_skip=self.aux_skip)

    def arch_step(self, train: tuple[torch.Tensor, ...], val: tuple[torch.Tensor, ...]) -> None:
        x, y = val
        loss = F.cross_entropy(self.mixed_logits(x, sample=True), y)
        (self.alpha.grad,) = torch.autograd.grad(loss, self.alpha)
