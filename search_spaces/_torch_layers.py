"""torch helpers shared by the built-in spaces' modules (imported only by ``build``).

Convolutional spaces work on images ``(C, H, W)`` with 2-D layers and on sequences ``(L,)`` or
``(C, L)`` with the 1-D variants of the same layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "hswish": nn.Hardswish,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`)."""
    return ACTIVATIONS[name]()


def spatial_dims(input_shape: Sequence[int]) -> int:
    """1 for sequences ``(L,)`` / ``(C, L)``, 2 for images ``(C, H, W)``."""
    return 2 if len(input_shape) == 3 else 1


def in_channels(input_shape: Sequence[int]) -> int:
    return 1 if len(input_shape) == 1 else int(input_shape[0])


def conv(dim: int, *args: object, **kwargs: object) -> nn.Module:
    return (nn.Conv2d if dim == 2 else nn.Conv1d)(*args, **kwargs)  # type: ignore[arg-type]


def batch_norm(dim: int, channels: int) -> nn.Module:
    return (nn.BatchNorm2d if dim == 2 else nn.BatchNorm1d)(channels)


def avg_pool(dim: int, *args: object, **kwargs: object) -> nn.Module:
    return (nn.AvgPool2d if dim == 2 else nn.AvgPool1d)(*args, **kwargs)  # type: ignore[arg-type]


def global_pool(dim: int) -> nn.Module:
    return nn.AdaptiveAvgPool2d(1) if dim == 2 else nn.AdaptiveAvgPool1d(1)


class AddChannel(nn.Module):
    """Turns a batch of sequences ``(B, L)`` into ``(B, 1, L)``; other inputs pass unchanged."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__()
        self.needed = len(input_shape) == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1) if self.needed else x


def add_all(terms: list[torch.Tensor]) -> torch.Tensor:
    """Sum of a non-empty list of tensors, without Python's ``0 +`` start value."""
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out
