"""The inverted-bottleneck network in torch (imported only by :meth:`MobileBlockSpace.build`).

Module tree and parameter names (an OFA-style elastic supernet slices its weights into these:
a smaller kernel is the centre of a larger one, fewer expansion channels are the leading ones)::

    stem.conv, stem.bn                     Conv(in, stem, 3, stride=stem_stride), BatchNorm
    stages.<s>.blocks.<b>                  one inverted-bottleneck block (MBConv)
        .expand.conv, .expand.bn           Conv 1x1 (c_in -> c_in * expand_ratio), BatchNorm
                                           (absent when expand_ratio == 1)
        .depthwise.conv, .depthwise.bn     depthwise Conv kxk (groups = mid), stride on b == 0
        .se.reduce, .se.expand             squeeze-excite 1x1 convs with bias (absent if se off)
        .project.conv, .project.bn         Conv 1x1 (mid -> c_out), BatchNorm, no activation
    head.conv, head.bn                     Conv 1x1 (last -> head_channels), BatchNorm
    pool                                   global average pooling
    classifier                             Linear(head_channels, num_classes)

A block adds its input when its stride is 1 and its input and output widths are equal.
Images ``(C, H, W)`` use 2-D layers, sequences ``(L,)`` / ``(C, L)`` the 1-D variants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ._builtin import make_divisible
from ._torch_layers import (
    AddChannel,
    activation,
    batch_norm,
    conv,
    global_pool,
    in_channels,
    spatial_dims,
)


class ConvBN(nn.Module):
    """Conv (no bias) -> BatchNorm -> optional activation."""

    def __init__(
        self,
        dim: int,
        c_in: int,
        c_out: int,
        kernel_size: int,
        *,
        stride: int = 1,
        groups: int = 1,
        act: str | None,
    ) -> None:
        super().__init__()
        self.conv = conv(
            dim,
            c_in,
            c_out,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False,
        )
        self.bn = batch_norm(dim, c_out)
        self.act: nn.Module = activation(act) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Global pool -> 1x1 reduce -> ReLU -> 1x1 expand -> hard sigmoid -> rescale."""

    def __init__(self, dim: int, channels: int, reduced: int) -> None:
        super().__init__()
        self.pool = global_pool(dim)
        self.reduce = conv(dim, channels, reduced, 1)
        self.relu = nn.ReLU()
        self.expand = conv(dim, reduced, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.relu(self.reduce(self.pool(x)))))


class MBConv(nn.Module):
    """Inverted bottleneck: expand 1x1, depthwise kxk, optional SE, project 1x1 (+ residual)."""

    def __init__(
        self,
        dim: int,
        c_in: int,
        c_out: int,
        *,
        kernel_size: int,
        expand_ratio: int,
        se: bool,
        stride: int,
        act: str,
        divisor: int,
    ) -> None:
        super().__init__()
        mid = c_in * expand_ratio
        self.expand = ConvBN(dim, c_in, mid, 1, act=act) if expand_ratio != 1 else None
        self.depthwise = ConvBN(dim, mid, mid, kernel_size, stride=stride, groups=mid, act=act)
        self.se = SqueezeExcite(dim, mid, make_divisible(mid / 4, divisor)) if se else None
        self.project = ConvBN(dim, mid, c_out, 1, act=None)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.depthwise(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


class MobileStage(nn.Module):
    def __init__(self, blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class MobileNetwork(nn.Module):
    """Stem, stages of MBConv blocks, 1x1 head conv, global pooling, linear classifier."""

    def __init__(
        self,
        stages: Sequence[Mapping[str, Any]],
        *,
        input_shape: Sequence[int],
        num_classes: int,
        stage_channels: Sequence[int],
        strides: Sequence[int],
        stem_channels: int,
        stem_stride: int,
        head_channels: int,
        activation: str,
        divisor: int,
    ) -> None:
        super().__init__()
        dim = spatial_dims(input_shape)
        self.add_channel = AddChannel(input_shape)
        self.stem = ConvBN(
            dim, in_channels(input_shape), stem_channels, 3, stride=stem_stride, act=activation
        )
        c = stem_channels
        modules = []
        for stage, base, stride in zip(stages, stage_channels, strides, strict=True):
            c_out = make_divisible(base * stage["width_mult"], divisor)
            blocks = []
            for b, block in enumerate(stage["blocks"]):
                blocks.append(
                    MBConv(
                        dim,
                        c,
                        c_out,
                        kernel_size=block["kernel_size"],
                        expand_ratio=block["expand_ratio"],
                        se=block["se"],
                        stride=stride if b == 0 else 1,
                        act=activation,
                        divisor=divisor,
                    )
                )
                c = c_out
            modules.append(MobileStage(blocks))
        self.stages = nn.ModuleList(modules)
        self.head = ConvBN(dim, c, head_channels, 1, act=activation)
        self.pool = global_pool(dim)
        self.classifier = nn.Linear(head_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.add_channel(x))
        for stage in self.stages:
            x = stage(x)
        return self.classifier(self.pool(self.head(x)).flatten(1))
