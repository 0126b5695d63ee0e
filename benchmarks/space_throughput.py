"""Throughput of the space verbs per built-in space, and the cost of ``import raynas``.

For each built-in space and a define-by-run space (KerasTuner's classic MLP example) this
measures how many configs per second go through ``sample + validate + key + encode`` (the
loop a search strategy runs per candidate), with the time of each verb and of ``mutate`` and
``crossover`` beside it. A flat space of six plain choices is the baseline measured in the same
run; the ratio column compares each space with it.

Then it measures ``import raynas`` (and ``import raynas.search_spaces``) in fresh interpreters,
reports which heavy modules each import loaded (it must be none of torch, ray, onnxruntime)
and compares with ``import torch`` measured the same way.

Run: ``python benchmarks/space_throughput.py [--seconds 1.0] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

HEAVY = ("torch", "ray", "onnxruntime", "pytorch_lightning", "lightning", "hyperopt", "onnx")


def classic_build_model(hp: Any) -> Any:
    """KerasTuner's classic example, in PyTorch."""
    from torch import nn

    layers: list[Any] = [nn.Flatten()]
    width = 64
    for i in range(hp.Int("num_layers", 1, 3)):
        units = hp.Int(f"units_{i}", 32, 512, step=32)
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])
    return nn.Sequential(*layers, nn.Linear(width, 10))


def make_spaces() -> dict[str, Callable[[], Any]]:
    import raynas.search_spaces as ss

    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    return {
        "baseline: 6 flat choices": lambda: ss.SearchSpace(
            {f"edge_{i}": ss.Choice(ops, ordered=False) for i in range(6)}
        ),
        "NB201CellSpace (3,32,32)": lambda: ss.NB201CellSpace(
            input_shape=(3, 32, 32), num_classes=10
        ),
        "MLPSpace (1,8,8)": lambda: ss.MLPSpace(input_shape=(1, 8, 8), num_classes=10),
        "MobileBlockSpace (3,32,32)": lambda: ss.MobileBlockSpace(
            input_shape=(3, 32, 32), num_classes=10
        ),
        "TransformerSpace (1,8,8)": lambda: ss.TransformerSpace(
            input_shape=(1, 8, 8), num_classes=10
        ),
        "DefineByRunSpace (KerasTuner MLP)": lambda: ss.DefineByRunSpace(classic_build_model),
    }


def measure(space: Any, seconds: float, seed: int = 0) -> dict[str, float]:
    """Microseconds per call of each verb and configs/s of the whole loop."""
    rng = np.random.default_rng(seed)
    pool = [space.sample(rng) for _ in range(64)]
    for c in pool[:8]:  # warm up
        space.key(space.validate(c)), space.encode(c)
    totals = {"sample": 0.0, "validate": 0.0, "key": 0.0, "encode": 0.0}
    n = 0
    clock = time.perf_counter
    start = clock()
    while clock() - start < seconds:
        for _ in range(50):
            t0 = clock()
            c = space.sample(rng)
            t1 = clock()
            c = space.validate(c)
            t2 = clock()
            space.key(c)
            t3 = clock()
            space.encode(c)
            t4 = clock()
            totals["sample"] += t1 - t0
            totals["validate"] += t2 - t1
            totals["key"] += t3 - t2
            totals["encode"] += t4 - t3
            n += 1
    loop = sum(totals.values())
    out = {k: 1e6 * v / n for k, v in totals.items()}
    out["configs_per_s"] = n / loop
    out["n"] = n
    # mutate / crossover, for evolution-style strategies
    m = 0
    t0 = clock()
    while clock() - t0 < seconds / 2:
        a, b = pool[m % len(pool)], pool[(m * 7 + 3) % len(pool)]
        space.mutate(a, rng)
        space.crossover(a, b, rng)
        m += 1
    out["mutate+crossover"] = 1e6 * (clock() - t0) / m
    out["encode_len"] = space.encode_len
    return out


def import_cost(module: str, repeats: int) -> tuple[float, list[str]]:
    """Median seconds of ``import module`` in fresh interpreters, and heavy modules it loaded."""
    code = (
        "import sys, time, json\n"
        "t = time.perf_counter()\n"
        f"import {module}\n"
        "dt = time.perf_counter() - t\n"
        f"print(json.dumps([dt, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n"
    )
    times, loaded = [], []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        dt, loaded = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(dt)
    return statistics.median(times), loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per space and verb set")
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per import")
    args = parser.parse_args()

    rows = []
    for name, factory in make_spaces().items():
        t0 = time.perf_counter()
        space = factory()
        built = time.perf_counter() - t0
        r = measure(space, args.seconds)
        r["construct_ms"] = 1e3 * built
        rows.append((name, r))
    base = rows[0][1]["configs_per_s"]
    print("\n## sample + validate + key + encode per space (one process, one core)\n")
    print(
        "| space | configs/s | vs baseline | sample µs | validate µs | key µs | encode µs "
        "| mutate+crossover µs | encode_len | construct ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        print(
            f"| {name} | {r['configs_per_s']:,.0f} | {r['configs_per_s'] / base:.2f}x "
            f"| {r['sample']:.1f} | {r['validate']:.1f} | {r['key']:.1f} | {r['encode']:.1f} "
            f"| {r['mutate+crossover']:.1f} | {r['encode_len']} | {r['construct_ms']:.1f} |"
        )

    print(f"\n## import cost (median of {args.repeats} fresh interpreters)\n")
    print("| import | seconds | vs import torch | heavy modules loaded |")
    print("| --- | ---: | ---: | --- |")
    torch_s, torch_loaded = import_cost("torch", args.repeats)
    for module in ("raynas", "raynas.search_spaces"):
        s, loaded = import_cost(module, args.repeats)
        print(
            f"| `import {module}` | {s:.3f} | {s / torch_s:.3f}x | {', '.join(loaded) or 'none'} |"
        )
    print(f"| `import torch` (reference) | {torch_s:.3f} | 1x | {', '.join(torch_loaded)} |")


if __name__ == "__main__":
    main()
