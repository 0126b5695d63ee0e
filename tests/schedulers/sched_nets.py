"""Small networks and a small space for the scheduler tests.

``TinyMLP`` uses the module names of ``MLPSpace`` (``layers.<i>.linear``, ``layers.<i>.bn``,
``head``); ``TinyMobile`` those of ``MobileBlockSpace`` (``stem``, ``blocks.<i>.expand``,
``.depthwise``, ``.se.reduce``/``.se.expand``, ``.project``, ``classifier``), so that weight
transfer is tested on the same structures as the built-in spaces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from raynas.search_spaces import Choice, Float, Repeat, SearchSpace, Struct
from torch import nn


class MLPLayer(nn.Module):
    def __init__(self, c_in: int, c_out: int, *, batch_norm: bool, dropout: float) -> None:
        super().__init__()
        self.linear = nn.Linear(c_in, c_out)
        self.bn: nn.Module = nn.BatchNorm1d(c_out) if batch_norm else nn.Identity()
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.act(self.bn(self.linear(x))))


class TinyMLP(nn.Module):
    def __init__(
        self,
        widths: Sequence[int],
        *,
        input_shape: Sequence[int] = (1, 8, 8),
        num_classes: int = 10,
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        c = math.prod(input_shape)
        layers = []
        for w in widths:
            layers.append(MLPLayer(c, w, batch_norm=batch_norm, dropout=dropout))
            c = w
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


class ConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, *, groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act: nn.Module = nn.ReLU6() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SE(nn.Module):
    def __init__(self, c: int, r: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(c, r, 1)
        self.relu = nn.ReLU()
        self.expand = nn.Conv2d(r, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.relu(self.reduce(self.pool(x)))))


class MBConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, *, kernel_size: int, expand_ratio: int, se: bool):
        super().__init__()
        mid = c_in * expand_ratio
        self.expand = ConvBN(c_in, mid, 1) if expand_ratio != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel_size, groups=mid)
        self.se = SE(mid, max(4, mid // 4)) if se else None
        self.project = ConvBN(mid, c_out, 1, act=False)
        self.residual = c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.depthwise(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


class TinyMobile(nn.Module):
    def __init__(self, blocks: Sequence[Mapping[str, Any]], *, channels: int = 8) -> None:
        super().__init__()
        self.stem = ConvBN(1, 8, 3)
        c = 8
        mods = []
        for b in blocks:
            mods.append(
                MBConv(c, b.get("channels", channels), kernel_size=b["kernel_size"],
                       expand_ratio=b["expand_ratio"], se=b["se"])
            )  # fmt: skip
            c = b.get("channels", channels)
        self.blocks = nn.ModuleList(mods)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.classifier(self.pool(x).flatten(1))


class TinyMLPSpace(SearchSpace):
    """An MLP space on 8x8 digits: 1-3 layers of width 8-64 and the training hyperparameters."""

    input_shape = (1, 8, 8)
    num_classes = 10

    def __init__(self) -> None:
        super().__init__(
            {
                "layers": Repeat(Struct({"width": Choice([8, 16, 32, 64])}), 1, 3),
                "learning_rate": Float(1e-3, 1e-1, log=True),
                "weight_decay": Float(1e-6, 1e-3, log=True),
                "batch_size": Choice([32, 64, 128]),
            }
        )

    def build(self, config: Mapping[str, Any], *, seed: int | None = None) -> nn.Module:
        config = self.validate(config)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            return TinyMLP([layer["width"] for layer in config["layers"]], batch_norm=True)


def warm_up(model: nn.Module, shape: Sequence[int], steps: int = 5) -> nn.Module:
    """Move BatchNorm statistics and weights away from their initialisation."""
    gen = torch.Generator().manual_seed(0)
    model.train()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
        for _ in range(steps):
            model(torch.randn((32, *shape), generator=gen))
    return model.eval()
