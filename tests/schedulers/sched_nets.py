"""Helpers for the scheduler tests' networks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


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
