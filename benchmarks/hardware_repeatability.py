"""Repeatability of a latency measurement: p50 of 5 repeated measurements of one small CNN.

Each repetition is a full :func:`raynas.hardware.measure` call (new onnxruntime session in the
measuring process, warm-up, timed runs), on the CPU execution provider with 1 thread. The
figure is the coefficient of variation (std / mean) of the five p50 values; target <= 3 %.
The machine's load average is printed with it: other processes sharing the cores are the main
source of variation.

Run:
    python benchmarks/hardware_repeatability.py [--repeats 5] [--min-seconds 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def small_cnn():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--min-runs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from raynas.hardware import HardwareTarget, export_onnx, measure

    torch.manual_seed(0)
    model = small_cnn().eval()
    onnx_bytes = export_onnx(model, input_shape=(3, 32, 32), exporter="torchscript").onnx
    target = HardwareTarget(
        name="cpu",
        intra_op_threads=args.threads,
        input_shape=(3, 32, 32),
        warmup_runs=20,
        min_runs=args.min_runs,
        min_seconds=args.min_seconds,
        energy="off",
    )
    print(f"load average before: {os.getloadavg()}")
    p50s, p90s = [], []
    for k in range(args.repeats):
        t0 = time.perf_counter()
        m = measure(onnx_bytes, target, route="local")
        if not m.feasible:
            raise SystemExit(f"measurement failed: {m.reason}")
        p50s.append(m.p50_ms)
        p90s.append(m.p90_ms)
        print(
            f"  repeat {k + 1}: p50 {m.p50_ms:.4f} ms  p90 {m.p90_ms:.4f} ms  runs {m.runs}  "
            f"({time.perf_counter() - t0:.1f} s)"
        )
    p50 = np.asarray(p50s)
    cv = p50.std(ddof=1) / p50.mean()
    print(f"load average after: {os.getloadavg()}")
    print(
        f"p50 over {args.repeats} measurements: mean {p50.mean():.4f} ms, std {p50.std(ddof=1):.4f}"
        f" ms, coefficient of variation {100 * cv:.2f} % (target <= 3 %: "
        f"{'met' if cv <= 0.03 else 'NOT met'})"
    )
    p90 = np.asarray(p90s)
    print(f"(p90 coefficient of variation {100 * p90.std(ddof=1) / p90.mean():.2f} %)")


if __name__ == "__main__":
    main()
