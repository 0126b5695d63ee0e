"""Small spaces and networks shared by the evaluation tests (a BoringModel-style kit)."""

from __future__ import annotations

import os
import time
from typing import Any

import torch
from torch import nn

from raynas import NASTrainable
from raynas.evaluation import TuneReporter
from raynas.search_spaces import Choice, Float, Int, SearchSpace


class TinyMLPSpace(SearchSpace):
    """An MLP over 8x8 digits: a stand-in for the built-in MLPSpace in these tests."""

    input_shape = (1, 8, 8)
    num_classes = 10

    def __init__(self) -> None:
        super().__init__(
            {
                "width": Int(16, 256, step=16),
                "depth": Int(1, 3),
                "dropout": Float(0.0, 0.5),
                "learning_rate": Float(1e-4, 1e-1, log=True),
                "batch_size": Choice([32, 64, 128]),
            }
        )

    def build(self, config: dict[str, Any]) -> nn.Module:
        c = self.validate(config)
        layers: list[nn.Module] = [nn.Flatten()]
        width = 64
        for _ in range(c["depth"]):
            layers += [nn.Linear(width, c["width"]), nn.ReLU(), nn.Dropout(c["dropout"])]
            width = c["width"]
        layers.append(nn.Linear(width, self.num_classes))
        return nn.Sequential(*layers)


class _Faulty(nn.Module):
    """An MLP that misbehaves at its ``at_step``-th training forward call."""

    def __init__(self, mode: str, at_step: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        self.mode, self.at_step, self.calls = mode, at_step, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.training and torch.is_grad_enabled():
            self.calls += 1
            if self.calls >= self.at_step:
                if self.mode == "nan":
                    return out * float("nan")
                if self.mode == "inf":  # cross-entropy of a class with logit -inf is +inf
                    return out.index_fill(1, torch.tensor([0]), float("-inf"))
                if self.mode == "memory":
                    raise MemoryError("forced by the test")
                if self.mode == "cuda_oom":
                    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
                if self.mode == "shape":
                    raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
        return out


class FaultySpace(SearchSpace):
    """``mode`` picks a failure: ok, nan, inf, memory, cuda_oom, shape, build_error, slow."""

    input_shape = (1, 8, 8)
    num_classes = 10

    def __init__(self) -> None:
        super().__init__(
            {
                "mode": Choice(
                    ["ok", "nan", "inf", "memory", "cuda_oom", "shape", "build_error", "slow"]
                ),
                "at_step": Int(1, 100),
            }
        )

    def build(self, config: dict[str, Any]) -> nn.Module:
        c = self.validate(config)
        if c["mode"] == "build_error":
            raise ValueError("width 0 is not a layer")
        if c["mode"] == "slow":
            return _Slow()
        return _Faulty(c["mode"], c["at_step"])


class _Slow(nn.Module):
    """Sleeps 50 ms per training step: for time-budget tests."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            time.sleep(0.05)
        return self.net(x)


class DieOnceAfter(NASTrainable):
    """Kills its own worker process once, right after the report of epoch ``die_after``.

    Defined here (not in a test module) so Ray workers can import it by name.
    """

    def __init__(self, *args: Any, marker: str, die_after: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marker, self.die_after = marker, die_after

    def __call__(self, config: dict[str, Any]) -> None:
        cpus, gpus = self._granted()
        self.run(config, _DyingReporter(self.marker, self.die_after), cpus=cpus, gpus=gpus)


class _DyingReporter(TuneReporter):
    def __init__(self, marker: str, die_after: int) -> None:
        self.marker, self.die_after = marker, die_after

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        super().report(metrics, checkpoint_dir)
        if metrics["epoch"] == self.die_after and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)  # a killed worker: Tune sees the actor die


def device_of(model: nn.Module, config: dict[str, Any]) -> dict[str, str]:
    """An objective hook reporting where the trained network lives (``cpu``, ``cuda:0``)."""
    return {"device": str(next(model.parameters()).device)}


def threads_of(model: nn.Module, config: dict[str, Any]) -> dict[str, int]:
    """An objective hook reporting how many torch threads the trial trained with."""
    return {"threads": torch.get_num_threads()}
