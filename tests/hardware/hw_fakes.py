"""Fakes shared by the hardware tests (importable by the measuring child process too)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from raynas.hardware._energy import EnergyMeter


def sleepy_worker(payload):
    """A 'session' that hangs."""
    time.sleep(3600)


def crashing_worker(payload):
    """A 'session' that kills its process, as a segfaulting provider would."""
    os._exit(7)


def failing_worker(payload):
    raise RuntimeError("the provider exploded")


def echo_pid(payload):
    return os.getpid()


class PhaseMeter(EnergyMeter):
    """Draws `idle_w` watts all the time, plus `extra_j` joules in its second window."""

    source = "fake"

    def __init__(self, idle_w: float = 2.0, extra_j: float = 0.5) -> None:
        super().__init__()
        self.idle_w, self.extra_j = idle_w, extra_j
        self.windows: list[float] = []
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> float:
        dt = time.perf_counter() - self._t0
        self.windows.append(dt)
        extra = self.extra_j if len(self.windows) == 2 else 0.0  # windows: idle, then active
        return self.idle_w * dt + extra


def make_rapl(root: Path, domains: dict[str, tuple[str, int, int]]) -> Path:
    """Fake powercap tree: {dir name: (name file, energy_uj, max_energy_range_uj)}."""
    root.mkdir(parents=True, exist_ok=True)
    for d, (label, energy, max_range) in domains.items():
        p = root / d
        p.mkdir()
        (p / "name").write_text(label + "\n")
        (p / "energy_uj").write_text(f"{energy}\n")
        (p / "max_energy_range_uj").write_text(f"{max_range}\n")
    return root


class FakeNVMLError(Exception):
    pass


class FakeNVML:
    """Just enough of pynvml: a total-energy counter in millijoules."""

    def __init__(self, counter_mj: int = 1_000_000, supported: bool = True, gpus: int = 1):
        self.counter_mj, self.supported, self.gpus = counter_mj, supported, gpus
        self.inited = False

    def nvmlInit(self):
        self.inited = True

    def nvmlDeviceGetHandleByIndex(self, i):
        if i >= self.gpus:
            raise FakeNVMLError(f"Invalid Argument (index {i})")
        return ("gpu", i)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.supported:
            raise FakeNVMLError("Not Supported")
        return self.counter_mj


def hung_onnx_model() -> bytes:
    """A valid ONNX model whose Loop runs ~forever: a session that hangs in native code."""
    import onnx
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v_in", "one"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1, 4]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1, 4]),
        ],
        [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trip", "cond", "x"], ["y"], body=body)],
        "hang",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [
            helper.make_tensor("trip", TensorProto.INT64, [], [2**62]),
            helper.make_tensor("cond", TensorProto.BOOL, [], [True]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def tiny_cnn():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),
    )


def digits_data(n_train: int = 1200):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    tr, te = idx[:n_train], idx[n_train:]
    return x[tr], y[tr], x[te], y[te]


def train_digits(model, x, y, epochs: int = 5, seed: int = 0):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # much faster than contending for the shared cores
    try:
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(len(xt), generator=gen)
            for i in range(0, len(xt), 64):
                b = perm[i : i + 64]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(xt[b]), yt[b]).backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return model


def cache_worker(args):
    """Run get_or_measure in another process; the 'measurement' logs itself to a file."""
    from raynas.hardware import HardwareTarget, Measurement, MeasurementCache

    cache_dir, log = args
    cache = MeasurementCache(cache_dir)
    t = HardwareTarget(name="cpu", verify_provider=False)

    def slow_measure():
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        return Measurement(feasible=True, p50_ms=1.25)

    return cache.get_or_measure("same-candidate", t, slow_measure).p50_ms


def relu_onnx(width: int = 4, batch: int = 1) -> bytes:
    """A one-node ONNX model (no torch needed)."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, width])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, width])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def raynas_location(payload):
    """Where the measuring process imported raynas from."""
    import raynas

    return raynas.__file__
