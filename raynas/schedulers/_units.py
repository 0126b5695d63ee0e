"""Which tensor axes index the same hidden units: the graph analysis behind Net2Net widening.

A *unit group* is one hidden dimension of a network (the output features of a Linear, the
channels of a conv and of the BatchNorm, activation, depthwise conv and residual additions that
follow it). Every tensor axis indexing it is a member with a role:

- ``"out"``: the units' incoming weights and biases (rows of the producing Linear/conv);
- ``"unit"``: per-unit tensors applied unit by unit (BatchNorm parameters and statistics,
  depthwise conv kernels);
- ``"in"``: the units' outgoing weights (columns of the consuming Linear/conv).

Replicating units (all ``out``/``unit`` members) and dividing each replica's outgoing weights
by its replication count (``in`` members) leaves the network's function unchanged if everything
between a producer and its consumers acts unit by unit. The analysis traces the network with
``torch.fx`` and follows every op; a group touched by an op it does not understand (a
LayerNorm, a reshape, a concatenation...) is marked *opaque* and is only sliced or padded.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

_ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.Hardswish, nn.Hardsigmoid,
    nn.LeakyReLU, nn.ELU, nn.Mish, nn.Softplus, nn.Identity, nn.Dropout, nn.Dropout1d,
    nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
)  # fmt: skip
_POOL_MODULES = (
    nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
)  # fmt: skip
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_NORMS_ACROSS_UNITS = (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d)
_F = torch.nn.functional
_ELEMENTWISE_FUNCTIONS: set[Any] = {
    torch.relu, _F.relu, _F.relu6, _F.gelu, _F.silu, _F.hardswish, _F.hardsigmoid, _F.sigmoid,
    _F.tanh, torch.sigmoid, torch.tanh, _F.dropout, _F.leaky_relu, _F.elu, _F.mish, torch.abs,
    operator.neg,
}  # fmt: skip
_ELEMENTWISE_METHODS = {"relu", "sigmoid", "tanh", "abs", "neg", "contiguous", "clone"}
_BINARY_FUNCTIONS: set[Any] = {
    operator.add, operator.iadd, operator.sub, operator.mul, operator.imul, operator.truediv,
    torch.add, torch.sub, torch.mul, torch.div,
}  # fmt: skip
_BINARY_METHODS = {"add", "add_", "sub", "mul", "mul_", "div"}
_FLATTEN: set[Any] = {torch.flatten}


@dataclass
class UnitGroup:
    """One hidden dimension and the tensor axes that index it.

    Attributes:
        size: number of units.
        members: ``(tensor name, axis, role)`` with role ``"out"``, ``"unit"`` or ``"in"``.
        opaque: True if some op mixes the units (no function-preserving widening).
        reason: why the group is opaque.
    """

    size: int
    members: set[tuple[str, int, str]] = field(default_factory=set)
    opaque: bool = False
    reason: str = ""

    def axes(self) -> set[tuple[str, int]]:
        return {(name, axis) for name, axis, _ in self.members}


@dataclass
class UnitGraph:
    """The unit groups of one network, with a lookup from tensor axis to group.

    Attributes:
        groups: the groups.
        index: ``(tensor name, axis) -> position in groups``.
        kernel_axes: ``tensor name -> spatial axes`` of conv kernels (centre-aligned).
        error: why the network could not be analysed ("" if it was).
    """

    groups: list[UnitGroup]
    index: dict[tuple[str, int], int]
    kernel_axes: dict[str, tuple[int, ...]]
    error: str = ""


class _Builder:
    def __init__(self) -> None:
        self.parent: list[int] = []
        self.groups: list[UnitGroup] = []
        self.member_of: dict[tuple[str, int], int] = {}

    def new(self, size: int, *, opaque: bool = False, reason: str = "") -> int:
        self.parent.append(len(self.parent))
        self.groups.append(UnitGroup(size=size, opaque=opaque, reason=reason))
        return len(self.parent) - 1

    def find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        ga, gb = self.groups[a], self.groups[b]
        if ga.size != gb.size:
            ga.opaque = True
            ga.reason = ga.reason or f"joins dimensions of sizes {ga.size} and {gb.size}"
        self.parent[b] = a
        ga.members |= gb.members
        if gb.opaque:
            ga.opaque, ga.reason = True, ga.reason or gb.reason
        return a

    def add(self, g: int, name: str, axis: int, role: str) -> None:
        g = self.find(g)
        key = (name, axis)
        if key in self.member_of:  # a shared module: its axes tie both uses together
            g = self.union(self.member_of[key], g)
        self.groups[g].members.add((name, axis, role))
        self.member_of[key] = g

    def opaque(self, g: int, reason: str) -> None:
        grp = self.groups[self.find(g)]
        if not grp.opaque:
            grp.opaque, grp.reason = True, reason

    def finish(self, kernel_axes: dict[str, tuple[int, ...]]) -> UnitGraph:
        roots = sorted({self.find(g) for g in range(len(self.parent))})
        groups = [self.groups[r] for r in roots if self.groups[r].members]
        index = {}
        for i, grp in enumerate(groups):
            for name, axis, _ in grp.members:
                index[(name, axis)] = i
        return UnitGraph(groups, index, kernel_axes)


Tag = tuple[int, int]  # (feature axis of the tensor, group id)


def analyse(model: nn.Module, example_input: torch.Tensor | Sequence[torch.Tensor]) -> UnitGraph:
    """The unit groups of ``model`` (traced with ``torch.fx`` on ``example_input``).

    A network that ``torch.fx`` cannot trace gets no groups and ``error`` says why; weight
    transfer then falls back to shape-based copying, slicing and padding.
    """
    inputs = (example_input,) if isinstance(example_input, torch.Tensor) else tuple(example_input)
    try:
        gm = fx.symbolic_trace(model)
    except Exception as e:  # dynamic control flow and the like
        return UnitGraph([], {}, {}, error=f"torch.fx could not trace the network: {e}")
    was_training = {name: m.training for name, m in gm.named_modules()}
    gm.eval()  # BatchNorm statistics must not move while shapes are propagated
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*inputs)
    except Exception as e:
        return UnitGraph([], {}, {}, error=f"the example input does not run: {e}")
    finally:
        for name, m in gm.named_modules():
            m.train(was_training.get(name, m.training))
    return _walk(gm)


def _shape(node: Any) -> tuple[int, ...] | None:
    if not isinstance(node, fx.Node):
        return None
    meta = node.meta.get("tensor_meta")
    shape = getattr(meta, "shape", None)
    return tuple(shape) if shape is not None else None


def _walk(gm: fx.GraphModule) -> UnitGraph:
    b = _Builder()
    modules = dict(gm.named_modules())
    tags: dict[Any, Tag | None] = {}
    kernel_axes: dict[str, tuple[int, ...]] = {}

    def fresh_tag(node: fx.Node, axis: int, *, opaque: bool, reason: str = "") -> Tag | None:
        shape = _shape(node)
        if shape is None or len(shape) <= axis:
            return None
        return (axis, b.new(shape[axis], opaque=opaque, reason=reason))

    def input_group(x: Any, axis: int, why: str) -> int | None:
        """The group of ``x`` on ``axis``, or a new opaque one if ``x`` is not tagged so."""
        t = tags.get(x) if isinstance(x, fx.Node) else None
        shape = _shape(x)
        if t is not None and shape is not None and t[0] == axis % len(shape):
            return t[1]
        if t is not None:
            b.opaque(t[1], why)
        if shape is None or len(shape) == 0:
            return None
        return b.new(shape[axis], opaque=True, reason=why)

    def make_opaque(node: fx.Node, why: str) -> None:
        for arg in node.all_input_nodes:
            t = tags.get(arg)
            if t is not None:
                b.opaque(t[1], why)

    for node in gm.graph.nodes:
        shape = _shape(node)
        if node.op == "placeholder":
            tags[node] = fresh_tag(node, 1, opaque=True, reason="network input")
        elif node.op == "get_attr":
            tags[node] = None
        elif node.op == "output":
            make_opaque(node, "network output")
        elif node.op == "call_module":
            tags[node] = _module(b, node, modules[str(node.target)], tags, input_group, kernel_axes)
            if tags[node] is None and shape is not None:
                make_opaque(node, f"{type(modules[str(node.target)]).__name__} mixes units")
                tags[node] = fresh_tag(node, 1, opaque=True, reason="output of an unknown op")
        else:
            tags[node] = _function(b, node, tags)
            if tags[node] is None and shape is not None and len(shape) > 1:
                make_opaque(node, f"{node.target} mixes units")
                tags[node] = fresh_tag(node, 1, opaque=True, reason="output of an unknown op")
    return b.finish(kernel_axes)


def _module(
    b: _Builder,
    node: fx.Node,
    mod: nn.Module,
    tags: dict[Any, Tag | None],
    input_group: Any,
    kernel_axes: dict[str, tuple[int, ...]],
) -> Tag | None:
    name = str(node.target)
    x = node.args[0] if node.args else None
    in_shape, out_shape = _shape(x), _shape(node)
    if in_shape is None or out_shape is None:
        return None
    if isinstance(mod, nn.Linear):
        g_in = input_group(x, len(in_shape) - 1, "feeds a Linear on another axis")
        if g_in is not None:
            b.add(g_in, f"{name}.weight", 1, "in")
        g_out = b.new(mod.out_features)
        b.add(g_out, f"{name}.weight", 0, "out")
        if mod.bias is not None:
            b.add(g_out, f"{name}.bias", 0, "out")
        return (len(out_shape) - 1, g_out)
    if isinstance(mod, _CONV):
        kernel_axes[f"{name}.weight"] = tuple(range(2, mod.weight.dim()))
        if mod.groups == 1:
            g_in = input_group(x, 1, "feeds a conv")
            if g_in is not None:
                b.add(g_in, f"{name}.weight", 1, "in")
            g_out = b.new(mod.out_channels)
            b.add(g_out, f"{name}.weight", 0, "out")
            if mod.bias is not None:
                b.add(g_out, f"{name}.bias", 0, "out")
            return (1, g_out)
        if mod.groups == mod.in_channels == mod.out_channels:  # depthwise: unit by unit
            g = input_group(x, 1, "feeds a depthwise conv")
            if g is None:
                return None
            b.add(g, f"{name}.weight", 0, "unit")
            if mod.bias is not None:
                b.add(g, f"{name}.bias", 0, "unit")
            return (1, g)
        g_in = input_group(x, 1, "feeds a grouped conv")
        if g_in is not None:
            b.add(g_in, f"{name}.weight", 1, "in")
            b.opaque(g_in, "feeds a grouped conv")
        g_out = b.new(mod.out_channels, opaque=True, reason="output of a grouped conv")
        b.add(g_out, f"{name}.weight", 0, "out")
        return (1, g_out)
    if isinstance(mod, _BN):
        g = input_group(x, 1, "feeds a BatchNorm")
        if g is None:
            return None
        for p in ("weight", "bias", "running_mean", "running_var"):
            if getattr(mod, p, None) is not None:
                b.add(g, f"{name}.{p}", 0, "unit")
        return (1, g)
    if isinstance(mod, _NORMS_ACROSS_UNITS):
        t = tags.get(x)
        if t is not None:
            b.opaque(t[1], f"{type(mod).__name__} normalizes across units")
            for p in ("weight", "bias"):
                w = getattr(mod, p, None)
                if w is not None and w.dim() == 1:
                    b.add(t[1], f"{name}.{p}", 0, "unit")
        return t
    if isinstance(mod, _ELEMENTWISE_MODULES):
        return tags.get(x)
    if isinstance(mod, _POOL_MODULES):
        t = tags.get(x)
        return t if t is not None and t[0] == 1 else None
    if isinstance(mod, nn.Flatten):
        return _flatten(b, x, node, tags, mod.start_dim, mod.end_dim)
    return None


def _flatten(
    b: _Builder, x: Any, node: fx.Node, tags: dict[Any, Tag | None], start: int, end: int
) -> Tag | None:
    t = tags.get(x) if isinstance(x, fx.Node) else None
    in_shape, out_shape = _shape(x), _shape(node)
    if t is None or in_shape is None or out_shape is None:
        return None
    if start == 1 and end in (-1, len(in_shape) - 1) and t[0] == 1:
        if math.prod(in_shape[2:]) == 1:
            return (1, t[1])
        b.opaque(t[1], "flattened together with spatial positions")
        return (1, b.new(out_shape[1], opaque=True, reason="flattened features"))
    return None


def _function(b: _Builder, node: fx.Node, tags: dict[Any, Tag | None]) -> Tag | None:
    target = node.target
    is_method = node.op == "call_method"
    tensor_args = [a for a in node.args if isinstance(a, fx.Node) and _shape(a) is not None]
    if (is_method and target in _ELEMENTWISE_METHODS) or (
        not is_method and target in _ELEMENTWISE_FUNCTIONS
    ):
        return tags.get(node.args[0]) if node.args else None
    if (is_method and target in _BINARY_METHODS) or (not is_method and target in _BINARY_FUNCTIONS):
        return _binary(b, node, tensor_args, tags)
    if (is_method and target == "flatten") or (not is_method and target in _FLATTEN):
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
        return _flatten(b, node.args[0], node, tags, int(start), int(end))  # type: ignore[arg-type]
    if _shape(node) is None:  # sizes, attributes: no tensor comes out
        return None
    return None


def _binary(
    b: _Builder, node: fx.Node, tensor_args: list[fx.Node], tags: dict[Any, Tag | None]
) -> Tag | None:
    out_shape = _shape(node)
    if out_shape is None:
        return None
    if len(tensor_args) == 1:  # tensor with a scalar
        return tags.get(tensor_args[0])
    tagged = [(a, tags.get(a)) for a in tensor_args]
    if any(t is None for _, t in tagged):
        return None
    axes = {t[0] for _, t in tagged if t is not None}
    sizes = {_shape(a)[t[0]] for a, t in tagged if t is not None}  # type: ignore[index]
    ranks = {len(_shape(a)) for a, _ in tagged}  # type: ignore[arg-type]
    if len(axes) != 1 or len(sizes) != 1 or len(ranks) != 1:
        return None
    g = tagged[0][1][1]  # type: ignore[index]
    for _, t in tagged[1:]:
        g = b.union(g, t[1])  # type: ignore[index]
    return (axes.pop(), g)
