"""Static costs of a network (parameters, FLOPs) and the objective functions built on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    """Number of parameters of ``model`` (trainable or not).

    Example:
        >>> count_params(torch.nn.Linear(4, 3))
        15
    """
    return int(sum(p.numel() for p in model.parameters()))


def count_flops(model: nn.Module, example: torch.Tensor) -> int:
    """Forward FLOPs of ``model`` on ``example``, counted by ``FlopCounterMode``.

    Counts the operations torch's flop counter knows (matmul, convolution, attention...): a
    multiply-add is 2 FLOPs; elementwise ops are not counted. The model runs once in eval mode
    without gradients; its train/eval mode is restored.

    Example:
        >>> count_flops(torch.nn.Linear(4, 3), torch.zeros(1, 4))
        24
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


class FlopsObjective:
    """An objective hook ``f(model, config) -> {"flops": n}``: FLOPs for one input sample.

    Objective hooks run after a candidate's last epoch, on the trained network, and their
    results are merged into its final report; the hardware module plugs its latency and energy
    measurements in the same way.

    Args:
        input_shape: shape of one sample, without the batch dimension.
        key: the metric name to report.

    Example:
        >>> FlopsObjective(input_shape=(4,))(torch.nn.Linear(4, 3), {})
        {'flops': 24}
    """

    def __init__(self, *, input_shape: Sequence[int], key: str = "flops") -> None:
        self.input_shape = tuple(int(d) for d in input_shape)
        self.key = key

    def __call__(self, model: nn.Module, config: Mapping[str, Any]) -> dict[str, int]:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        example = torch.zeros((1, *self.input_shape), device=device)
        return {self.key: count_flops(model, example)}

    def __repr__(self) -> str:
        return f"FlopsObjective(input_shape={self.input_shape!r}, key={self.key!r})"
