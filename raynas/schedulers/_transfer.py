"""Carry trained weights from one network to another of the same space (weight inheritance).

Used by :class:`~raynas.schedulers.ArchitecturePBT` when a mutated architecture continues from
a donor's checkpoint, and by anyone who wants to warm-start a candidate from a relative.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from raynas.schedulers._units import UnitGraph, analyse
from raynas.schedulers.errors import TransferError

_MODES = ("net2net", "pad")


@dataclass
class TransferReport:
    """What happened to each tensor of the new network.

    Attributes:
        copied: same name and shape: copied as is.
        widened: grown function-preservingly: Net2Net (units replicated, outgoing weights
            divided by the replication counts) or a conv kernel zero-padded around its centre.
        narrowed: units (or kernel taps) dropped by slicing.
        padded: grown without a function-preserving rule: the old values sit in the leading
            block (kernels: in the centre), the rest keeps the new network's initialisation
            (zeros around a grown conv kernel).
        fresh: no counterpart in the old network: initialised from scratch.
        dropped: tensors of the old network that the new one does not have.
        opaque: unit groups that could not be widened function-preservingly, with the reason.
        rewired: hidden dimensions tied together differently in the two networks (a residual
            connection that appears or disappears, a layer inserted between two others): the
            weights still transfer, but the function changes.
        perturbed: widened tensors whose replicated units got symmetry-breaking noise.
        note: why the graph analysis was skipped, if it was.
    """

    copied: list[str] = field(default_factory=list)
    widened: list[str] = field(default_factory=list)
    narrowed: list[str] = field(default_factory=list)
    padded: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    rewired: list[str] = field(default_factory=list)
    perturbed: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def function_preserving(self) -> bool:
        """True when the new network computes what the old one did (before any training).

        Holds when nothing was narrowed, padded or freshly initialised (zero-padded conv
        kernels and Net2Net widening preserve the function), no old tensor was dropped, no
        hidden dimension was rewired, no noise was added and the graph analysis ran.
        """
        return not (
            self.narrowed or self.padded or self.fresh or self.dropped or self.rewired
            or self.perturbed or self.note
        )  # fmt: skip

    def summary(self) -> str:
        parts = [
            f"{len(getattr(self, k))} {k}"
            for k in ("copied", "widened", "narrowed", "padded", "fresh", "dropped")
            if getattr(self, k)
        ]
        return ", ".join(parts) or "nothing to transfer"


@dataclass
class _Map:
    index: torch.Tensor  # new unit -> old unit (length: new size)
    counts: torch.Tensor  # replication count of each old unit (division for "in" members)
    widened: bool
    narrowed: bool
    role: dict[tuple[str, int], str]


def transfer_weights(
    old: nn.Module | Mapping[str, torch.Tensor],
    new: nn.Module,
    *,
    example_input: torch.Tensor | Sequence[torch.Tensor] | None = None,
    old_module: nn.Module | None = None,
    mode: str = "net2net",
    noise: float = 0.0,
    seed: int | np.random.Generator | None = 0,
) -> TransferReport:
    """Copy the weights of ``old`` into ``new`` in place, adapting every tensor that fits.

    Tensors are matched by name. A tensor with the same shape is copied. A hidden dimension
    that grew is widened the Net2Net way (Chen et al. 2016, "Net2Net: accelerating learning via
    knowledge transfer"): each new unit replicates a randomly chosen old unit (its incoming
    weights, bias, BatchNorm parameters and statistics, depthwise kernel) and the outgoing
    weights of every replicated unit are divided by its number of copies, so the new network
    computes the same function. This needs both networks' unit groups (see
    :mod:`raynas.schedulers._units`), found by tracing them with ``example_input``; a group
    that mixes units (LayerNorm, reshapes) or that does not correspond one to one between the
    two networks is padded instead. A dimension that shrank keeps its leading units (slicing).
    Conv kernels grow by zero padding around the centre (function-preserving with "same"
    padding) and shrink to their centre. Tensors of new layers keep their initialisation.

    Args:
        old: the trained network, or its ``state_dict`` (then pass ``old_module``, a network
            of the old architecture, for the graph analysis; without it only shapes are used).
        new: the network to fill (its initialisation is kept where nothing is copied).
        example_input: one input batch for tracing (e.g. ``torch.zeros(2, *input_shape)``);
            without it no unit groups are found and grown dimensions are padded.
        old_module: see ``old``.
        mode: ``"net2net"`` (function-preserving widening where possible) or ``"pad"``
            (grown dimensions keep the new initialisation for their new units).
        noise: relative std of Gaussian noise added to the incoming weights of replicated
            units (Net2Net's symmetry breaking); 0 keeps the function exactly.
        seed: seeds the choice of replicated units and the noise.

    Returns:
        A :class:`TransferReport`.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> old = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> new = nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 3))
        >>> x = torch.randn(5, 4)
        >>> report = transfer_weights(old, new, example_input=x)
        >>> report.function_preserving, torch.allclose(old(x), new(x), atol=1e-6)
        (True, True)
    """
    if mode not in _MODES:
        raise TransferError(f"`mode` must be one of {list(_MODES)}, but got {mode!r}.")
    if not isinstance(noise, (int, float)) or isinstance(noise, bool) or not noise >= 0:
        raise TransferError(f"`noise` must be a number >= 0, but got {noise!r}.")
    if not isinstance(new, nn.Module):
        raise TransferError(f"`new` must be a torch.nn.Module, but got {type(new).__name__}.")
    if isinstance(old, nn.Module):
        old_state = old.state_dict()
        old_module = old
    elif isinstance(old, Mapping):
        old_state = dict(old)
    else:
        raise TransferError(
            f"`old` must be a torch.nn.Module or a state_dict, but got {type(old).__name__}."
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    report = TransferReport()

    maps: dict[tuple[str, int], _Map] = {}
    kernel_axes: dict[str, tuple[int, ...]] = {}
    if example_input is not None and old_module is not None:
        g_old, g_new = analyse(old_module, example_input), analyse(new, example_input)
        report.note = g_old.error or g_new.error
        if not report.note:
            maps = _unit_maps(g_old, g_new, old_state, new.state_dict(), mode, rng, report)
            kernel_axes = {**g_old.kernel_axes, **g_new.kernel_axes}
    elif example_input is None:
        report.note = "no example_input: shapes only, grown dimensions padded"
    else:
        report.note = "no old_module: shapes only, grown dimensions padded"

    new_state = new.state_dict()
    out: dict[str, torch.Tensor] = {}
    for name, target in new_state.items():
        source = old_state.get(name)
        if source is None or source.dim() != target.dim():
            report.fresh.append(name)
            continue
        value, kind = _adapt(name, source, target, maps, kernel_axes, noise, rng)
        out[name] = value
        getattr(report, kind).append(name)
        if (
            noise > 0
            and kind == "widened"
            and any(
                maps[(name, a)].widened and maps[(name, a)].role.get((name, a)) == "out"
                for a in range(source.dim())
                if (name, a) in maps
            )
        ):
            report.perturbed.append(name)
    report.dropped = [n for n in old_state if n not in new_state]
    new.load_state_dict(out, strict=False)
    return report


def _unit_maps(
    g_old: UnitGraph,
    g_new: UnitGraph,
    old_state: Mapping[str, torch.Tensor],
    new_state: Mapping[str, torch.Tensor],
    mode: str,
    rng: np.random.Generator,
    report: TransferReport,
) -> dict[tuple[str, int], _Map]:
    """For each new group matching exactly one old group: the new-unit -> old-unit index."""
    maps: dict[tuple[str, int], _Map] = {}
    for grp in g_old.groups:
        new_ids = {g_new.index[ax] for ax in grp.axes() if ax in g_new.index}
        if len(new_ids) > 1:
            name, axis = min(grp.axes())
            report.rewired.append(
                f"the old dimension of {name}[axis {axis}] splits into {len(new_ids)}"
            )
    for grp in g_new.groups:
        shared = [ax for ax in grp.axes() if ax in g_old.index and ax[0] in old_state]
        if not shared:
            continue
        old_ids = {g_old.index[ax] for ax in shared}
        name, axis = min(shared)
        n_old, n_new = old_state[name].shape[axis], new_state[name].shape[axis]
        label = f"{name}[axis {axis}]: {n_old} -> {n_new}"
        if len(old_ids) != 1:
            report.rewired.append(f"{label} joins {len(old_ids)} old dimensions")
            if n_old != n_new:
                report.opaque.append(f"{label} (joins several old dimensions)")
            continue
        if n_old == n_new:
            continue  # nothing to remap; same-size tensors are copied as they are
        old_grp = g_old.groups[old_ids.pop()]
        widen = n_new > n_old
        if widen and (grp.opaque or old_grp.opaque or mode == "pad"):
            if mode == "net2net":
                report.opaque.append(f"{label} ({grp.reason or old_grp.reason})")
            continue  # generic padding
        if widen:
            extra = rng.integers(0, n_old, size=n_new - n_old)
            index = np.concatenate([np.arange(n_old), extra])
        else:
            index = np.arange(n_new)
        counts = np.bincount(index, minlength=n_old)
        role = {(n, a): r for n, a, r in grp.members}
        m = _Map(
            torch.as_tensor(index, dtype=torch.long),
            torch.as_tensor(counts, dtype=torch.float64),
            widen,
            not widen,
            role,
        )
        for ax in grp.axes():
            maps[ax] = m
    return maps


def _adapt(
    name: str,
    source: torch.Tensor,
    target: torch.Tensor,
    maps: Mapping[tuple[str, int], _Map],
    kernel_axes: Mapping[str, tuple[int, ...]],
    noise: float,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, str]:
    """``source`` reshaped to ``target``'s shape, and how (a TransferReport field)."""
    source = source.detach().to(target.device)
    if source.shape == target.shape:
        return source.clone().to(target.dtype), "copied"
    value = source.clone()
    kind = "copied"
    for axis in range(value.dim()):
        m = maps.get((name, axis))
        if m is None or value.shape[axis] == target.shape[axis]:
            continue
        value = value.index_select(axis, m.index.to(value.device))
        if m.widened:
            kind = "widened"
            role = m.role.get((name, axis), "unit")
            if role == "in" and value.is_floating_point():
                div = (m.counts[m.index]).to(value.dtype)
                value = value / div.reshape([-1 if i == axis else 1 for i in range(value.dim())])
            elif role == "out" and noise > 0 and value.is_floating_point():
                n_old = len(m.counts)
                fresh = value.narrow(axis, n_old, value.shape[axis] - n_old)
                std = float(source.float().std()) if source.numel() > 1 else 1.0
                gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
                fresh += noise * std * torch.randn(fresh.shape, generator=gen).to(value.dtype)
        else:
            kind = "narrowed"
    if value.shape == target.shape:
        return value.to(target.dtype), kind
    # what is left: generic slicing / padding; conv kernels are aligned on their centre
    centred = set(kernel_axes.get(name, ()))
    result = target.detach().clone()
    src, dst, zero = [], [], []
    padded = narrowed = False
    for axis in range(value.dim()):
        a, b = value.shape[axis], target.shape[axis]
        n = min(a, b)
        if axis in centred:
            src.append(slice((a - n) // 2, (a - n) // 2 + n))
            dst.append(slice((b - n) // 2, (b - n) // 2 + n))
            zero.append(slice(None))
            narrowed = narrowed or b < a
            padded = padded or (b > a and (b - a) % 2 == 1)  # off-centre: not preserving
        else:
            src.append(slice(0, n))
            dst.append(slice(0, n))
            zero.append(slice(0, n))
            narrowed = narrowed or b < a
            padded = padded or b > a
    if centred:
        result[tuple(zero)] = 0  # a grown kernel is the old one surrounded by zeros
    result[tuple(dst)] = value[tuple(src)].to(result.dtype)
    if padded:
        return result, "padded"
    if narrowed or kind == "narrowed":
        return result, "narrowed"
    return result, "widened"  # only kernels grown symmetrically by zeros: function preserved


def morph(
    space: Any,
    old_module: nn.Module | Mapping[str, torch.Tensor],
    old_config: Mapping[str, Any],
    new_config: Mapping[str, Any],
    *,
    mode: str = "net2net",
    noise: float = 0.0,
    seed: int | None = 0,
) -> tuple[nn.Module, TransferReport]:
    """Build ``new_config``'s network with ``space`` and carry ``old_module``'s weights into it.

    Args:
        space: a space with ``build(config)`` and ``input_shape`` (a raynas built-in space).
        old_module: the trained network of ``old_config`` (or its ``state_dict``; the old
            network is then rebuilt from ``old_config`` for the graph analysis).
        old_config, new_config: configs of ``space``.
        mode, noise: see :func:`transfer_weights`.
        seed: seeds the new network's initialisation and the replicated units.

    Returns:
        The new network (in training mode) and the :class:`TransferReport`.

    Example:
        >>> from raynas.search_spaces import MLPSpace  # doctest: +SKIP
        >>> new_net, report = morph(space, net, config, space.mutate(config, 0))  # doctest: +SKIP
    """
    for attr in ("build",):
        if not callable(getattr(space, attr, None)):
            raise TransferError(
                f"`space` must have a `build(config)` method, but {type(space).__name__} has not."
            )
    new = _build(space, new_config, seed)
    example = example_input_for(space)
    reference = old_module if isinstance(old_module, nn.Module) else None
    if reference is None and example is not None:
        reference = _build(space, old_config, seed)
        reference.load_state_dict(dict(old_module), strict=False)  # type: ignore[arg-type]
    report = transfer_weights(
        old_module if reference is None else reference,
        new,
        example_input=example,
        mode=mode,
        noise=noise,
        seed=seed,
    )
    return new, report


def example_input_for(space: Any, batch: int = 2) -> torch.Tensor | None:
    """``zeros(batch, *space.input_shape)`` or None when the space does not say its shape."""
    shape = getattr(space, "input_shape", None)
    if shape is None:
        return None
    return torch.zeros((batch, *tuple(shape)))


def _build(space: Any, config: Mapping[str, Any], seed: int | None) -> nn.Module:
    build = space.build
    try:
        takes_seed = "seed" in inspect.signature(build).parameters
    except (TypeError, ValueError):
        takes_seed = False
    if takes_seed:
        return build(dict(config), seed=seed)
    if seed is None:
        return build(dict(config))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(dict(config))


def unit_groups(model: nn.Module, example_input: torch.Tensor) -> list[dict[str, Any]]:
    """The hidden-unit groups of ``model`` as plain data (for inspection and debugging).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> [g["size"] for g in unit_groups(net, torch.zeros(1, 4))]
        [4, 8, 3]
    """
    graph = analyse(model, example_input)
    if graph.error:
        raise TransferError(graph.error)
    return [
        {
            "size": g.size,
            "members": sorted(g.members),
            "opaque": g.opaque,
            "reason": g.reason,
        }
        for g in graph.groups
    ]


__all__ = ["TransferReport", "example_input_for", "morph", "transfer_weights", "unit_groups"]
