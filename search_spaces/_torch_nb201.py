"""The NAS-Bench-201 network in torch (imported only by :meth:`NB201CellSpace.build`).

Module tree and parameter names (``N`` = cells per stage, ``C`` = channels; a one-shot supernet
slices its weights into these names)::

    stem.0                      Conv(in, C, 3, padding=1, bias=False)
    stem.1                      BatchNorm(C)
    cells.<i>                   i in [0, 3N+2): NB201Cell, except the two reduction blocks
    cells.<i>.edges.<edge_key>  the op of a non-``none`` edge, edge_key in edge_1_0 .. edge_3_2
        nor_conv_kxk:           .relu, .conv (Conv(c, c, k, padding=k//2, bias=False)), .bn
        skip_connect:           Identity (no parameters)
        avg_pool_3x3:           AvgPool(3, stride=1, padding=1, count_include_pad=False)
        none:                   no module (the edge is absent)
    cells.<N>, cells.<2N+1>     ResNetBasicBlock (stride 2, channels doubled):
        .conv_a, .conv_b        ReLU-Conv(3x3)-BN, conv_a with stride 2
        .downsample.0 / .1      AvgPool(2, stride 2, ceil_mode) / Conv 1x1 (bias=False)
    lastact.0, lastact.1        BatchNorm(4C), ReLU
    global_pooling              AdaptiveAvgPool(1)
    classifier                  Linear(4C, num_classes)

This is the layout of ``TinyNetwork``/``InferCell`` in the NAS-Bench-201 code, with named
sub-modules (``relu``/``conv``/``bn``) instead of an anonymous ``op`` Sequential. Images
``(C, H, W)`` use 2-D layers; sequences ``(L,)`` / ``(C, L)`` the 1-D variants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ._torch_layers import (
    AddChannel,
    add_all,
    avg_pool,
    batch_norm,
    conv,
    global_pool,
    in_channels,
    spatial_dims,
)

EDGES = ("edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2")


class ReLUConvBN(nn.Module):
    """ReLU -> Conv (no bias) -> BatchNorm, the ``nor_conv`` op of NAS-Bench-201."""

    def __init__(self, dim: int, c_in: int, c_out: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv = conv(
            dim, c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
        )
        self.bn = batch_norm(dim, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.relu(x)))


def make_op(op: str, dim: int, channels: int) -> nn.Module:
    """The module of one cell edge (never called for ``none``)."""
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(dim, channels, channels, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(dim, channels, channels, 3)
    if op == "avg_pool_3x3":
        return avg_pool(dim, 3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {op!r}")


class NB201Cell(nn.Module):
    """The 4-node cell: node i is the sum of op_{i<-j}(node j) over its non-``none`` edges.

    A node without incoming edges is zero.
    """

    def __init__(self, ops: Mapping[str, str], dim: int, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleDict()
        self.inputs: list[list[tuple[int, str]]] = [[], [], [], []]
        for key in EDGES:
            op = ops[key]
            if op == "none":
                continue
            self.edges[key] = make_op(op, dim, channels)
            target, source = int(key[5]), int(key[7])
            self.inputs[target].append((source, key))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            terms = [self.edges[key](nodes[source]) for source, key in self.inputs[target]]
            nodes.append(add_all(terms) if terms else torch.zeros_like(x))
        return nodes[3]


class ResNetBasicBlock(nn.Module):
    """The residual reduction block between stages (stride 2)."""

    def __init__(self, dim: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(dim, c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(dim, c_out, c_out, 3)
        self.downsample = nn.Sequential(
            avg_pool(dim, 2, stride=2, padding=0, ceil_mode=True),
            conv(dim, c_in, c_out, 1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """Stem, three stages of ``cells_per_stage`` cells with reduction blocks between, and head."""

    def __init__(
        self,
        ops: Mapping[str, str],
        *,
        input_shape: Sequence[int],
        num_classes: int,
        channels: int,
        cells_per_stage: int,
    ) -> None:
        super().__init__()
        dim = spatial_dims(input_shape)
        self.add_channel = AddChannel(input_shape)
        self.stem = nn.Sequential(
            conv(dim, in_channels(input_shape), channels, 3, padding=1, bias=False),
            batch_norm(dim, channels),
        )
        c = channels
        cells: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                cells.append(ResNetBasicBlock(dim, c, 2 * c))
                c = 2 * c
            cells.extend(NB201Cell(ops, dim, c) for _ in range(cells_per_stage))
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(batch_norm(dim, c), nn.ReLU(inplace=False))
        self.global_pooling = global_pool(dim)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.add_channel(x))
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))
