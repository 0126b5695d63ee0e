"""The MLP network in torch (imported only by :meth:`MLPSpace.build`).

Parameter names: ``layers.<i>.linear.{weight,bias}``, ``layers.<i>.bn.{weight,bias,running_*}``
(only when batch norm is on), ``head.{weight,bias}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ._torch_layers import activation


class MLPLayer(nn.Module):
    """Linear -> (BatchNorm) -> activation -> dropout."""

    def __init__(
        self, c_in: int, c_out: int, *, act: str, dropout: float, batch_norm: bool
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(c_in, c_out)
        self.bn: nn.Module = nn.BatchNorm1d(c_out) if batch_norm else nn.Identity()
        self.act = activation(act)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.act(self.bn(self.linear(x))))


class MLPNetwork(nn.Module):
    """Flatten, hidden layers of the given widths, linear head."""

    def __init__(
        self,
        widths: Sequence[int],
        *,
        input_shape: Sequence[int],
        num_classes: int,
        activation: str,
        dropout: float,
        batch_norm: bool,
    ) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        c = math.prod(input_shape)
        layers = []
        for w in widths:
            layers.append(MLPLayer(c, w, act=activation, dropout=dropout, batch_norm=batch_norm))
            c = w
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)
