"""Cost of measuring a candidate (export + session + protocol) against training it on digits.

For an MLP and a NAS-Bench-201-style cell network (defined here until ``NB201CellSpace`` is on
main; same cell semantics: 4 nodes, 6 edges, ops none / skip_connect / nor_conv_1x1 /
nor_conv_3x3 / avg_pool_3x3), this script times, in the same run:

* training: ``--epochs`` epochs of plain torch training on scikit-learn digits (the reference);
* export: the dynamo exporter and the TorchScript exporter;
* the measurement in the (warm) measuring process: session creation, parity check, warm-up,
  timed runs with the default protocol (10 warm-up runs, >= 50 runs and >= 1 s);
* the whole ``measure(model, target)`` call as a search would make it;
* once, the cold start of the measuring process (paid once per process, not per candidate).

Run:
    python benchmarks/hardware_cost.py [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def build_mlp():
    import torch.nn as nn

    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 256),
        nn.ReLU(),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def build_cell_net(arch: str, channels: int = 16):
    """Stem, then cell / reduction / cell / reduction / cell, then pooling and a classifier."""
    import torch
    import torch.nn as nn

    edges = [tok.split("~")[0] for node in arch.strip("|").split("|+|") for tok in node.split("|")]
    pairs = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]

    def op(name: str, c: int) -> nn.Module:
        if name == "skip_connect":
            return nn.Identity()
        if name == "avg_pool_3x3":
            return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        k = 1 if name == "nor_conv_1x1" else 3
        return nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, k, padding=k // 2, bias=False), nn.BatchNorm2d(c)
        )

    class Cell(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.ops = nn.ModuleDict(
                {
                    f"{i}_{j}": op(o, c)
                    for (i, j), o in zip(pairs, edges, strict=True)
                    if o != "none"
                }
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            nodes = [x]
            for i in (1, 2, 3):
                terms = [self.ops[f"{i}_{j}"](nodes[j]) for j in range(i) if f"{i}_{j}" in self.ops]
                nodes.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
            return nodes[3]

    def reduction(c_in: int, c_out: int) -> nn.Module:
        return nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )

    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1, bias=False),
        nn.BatchNorm2d(c),
        Cell(c),
        reduction(c, 2 * c),
        Cell(2 * c),
        reduction(2 * c, 4 * c),
        Cell(4 * c),
        nn.BatchNorm2d(4 * c),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * c, 10),
    )


def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    idx = np.random.default_rng(0).permutation(len(x))
    tr, va = idx[:1437], idx[1437:]
    return x[tr], y[tr], x[va], y[va]


def train(model, x, y, xv, yv, epochs: int) -> tuple[float, float]:
    import torch

    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            b = perm[i : i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[b]), yt[b]).backward()
            opt.step()
    secs = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = float((model(torch.from_numpy(xv)).argmax(1).numpy() == yv).mean())
    return secs, acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--torch-threads", type=int, default=1, help="torch threads for training")
    args = ap.parse_args()

    import torch

    from raynas.hardware import HardwareTarget, ProcessRunner, count_flops, export_onnx, measure
    from raynas.hardware import _export as export_mod

    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)
    x, y, xv, yv = digits()
    target = HardwareTarget(name="cpu", intra_op_threads=1, input_shape=(1, 8, 8))
    print(
        f"load average: {os.getloadavg()}  protocol: warmup {target.warmup_runs}, "
        f">= {target.min_runs} runs and >= {target.min_seconds} s, energy {target.energy}"
    )

    runner = ProcessRunner()
    t0 = time.perf_counter()
    runner.run(abs, 1, timeout_s=300)
    cold = time.perf_counter() - t0
    warm = {}
    for exporter in ("dynamo", "torchscript"):  # first export in a process sets exporters up
        t0 = time.perf_counter()
        export_onnx(torch.nn.Linear(2, 2), input_shape=(2,), exporter=exporter, check_parity=False)
        warm[exporter] = time.perf_counter() - t0
    print(
        f"once per process: measuring process cold start {cold:.2f} s, first dynamo export "
        f"{warm['dynamo']:.2f} s, first TorchScript export {warm['torchscript']:.2f} s\n"
    )

    rows = []
    for name, build in (
        ("MLP 64-256-128-10", build_mlp),
        ("NB201-style cell net", lambda: build_cell_net(ARCH)),
    ):
        model = build()
        params = sum(p.numel() for p in model.parameters())
        flops = count_flops(model, (1, 8, 8))
        train_s, acc = train(model, x, y, xv, yv, args.epochs)
        times = {}
        # torch's own torch.onnx.export(dynamo=True) rebuilds its op registry on every call;
        # raynas caches it per process (hardware/_export.py `_cached_export`)
        cached = export_mod._cached_export
        export_mod._cached_export = lambda model, x, opset: None
        t0 = time.perf_counter()
        export_onnx(model, input_shape=(1, 8, 8), exporter="dynamo", check_parity=False)
        times["dynamo_public"] = time.perf_counter() - t0
        export_mod._cached_export = cached
        for exporter in ("dynamo", "torchscript"):
            t0 = time.perf_counter()
            exported = export_onnx(
                model, input_shape=(1, 8, 8), exporter=exporter, check_parity=False
            )
            times[exporter] = time.perf_counter() - t0
        t0 = time.perf_counter()
        m_onnx = measure(exported.onnx, target, runner=runner, route="local")
        times["session+protocol"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        m = measure(model, target, runner=runner, route="local")  # what a search pays per candidate
        times["total"] = time.perf_counter() - t0
        ts_target = HardwareTarget.from_dict(target.to_dict(), exporter="torchscript")
        t0 = time.perf_counter()
        m_ts = measure(model, ts_target, runner=runner, route="local")
        times["total_ts"] = time.perf_counter() - t0
        assert m.feasible and m_onnx.feasible and m_ts.feasible, (m.reason, m_onnx.reason)
        rows.append((name, params, flops, acc, train_s, times, m))

    hdr = (
        f"{'candidate':<22}{'params':>8}{'MFLOPs':>8}{'val acc':>8}{'train s':>9}"
        f"{'dynamo s':>10}{'tscript s':>10}{'sess+prot s':>12}{'total s':>9}{'/train':>8}"
        f"{'total(ts) s':>12}{'/train':>8}{'p50 ms':>8}"
    )
    print(hdr)
    for name, params, flops, acc, train_s, t, m in rows:
        print(
            f"{name:<22}{params:>8}{flops / 1e6:>8.3f}{acc:>8.3f}{train_s:>9.2f}{t['dynamo']:>10.2f}"
            f"{t['torchscript']:>10.2f}{t['session+protocol']:>12.2f}{t['total']:>9.2f}"
            f"{t['total'] / train_s:>8.2f}{t['total_ts']:>12.2f}{t['total_ts'] / train_s:>8.2f}"
            f"{m.p50_ms:>8.4f}"
        )
    for name, *_, t, _m in rows:
        print(
            f"{name}: dynamo export through torch's public call {t['dynamo_public']:.2f} s, with "
            f"raynas' cached op registry {t['dynamo']:.2f} s "
            f"({t['dynamo_public'] / t['dynamo']:.1f}x faster)"
        )
    print(
        f"\n(training: {args.epochs} epochs on digits, batch 64, Adam, {args.torch_threads} torch "
        f"thread(s); total = measure(model) with the dynamo exporter (default, TorchScript fallback) and "
        "the default protocol; total(ts) = the same with exporter='torchscript')"
    )
    runner.close()


if __name__ == "__main__":
    main()
