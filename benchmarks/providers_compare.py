"""Two execution providers, one set of candidates: do their latencies rank the networks alike,
and do the accuracy-latency fronts agree?

Samples ``--n`` NAS-Bench-201-style cell networks (``NB201CellSpace`` on 8x8 digits; or the
README's MLPs with ``--space mlp``), trains
each briefly on scikit-learn digits (plain torch, ``--epochs`` epochs, one thread) for its
validation accuracy, then measures every exported network on both targets in the same run and
the same measuring process: the built-in CPU provider and ``--provider`` (a plugin EP, OpenVINO
by default) on ``--device``. Prints per provider the median over the candidates of their p50
latency, the ratio, the Spearman rank correlation of the two providers' p50s, the share of graph
nodes the second provider ran, and which candidates stand on one accuracy-latency front but not
on the other.

Measured (2026-12-08, AMD EPYC, 2 cores, onnxruntime 1.32.0, one process, one thread): OpenVINO's
plugin offers no device on AMD CPUs, so the second provider was the ggml plugin EP 0.2.0
(``onnxruntime-ggml``, its library from the wheel; the package itself pins onnxruntime < 1.31)
with ``--space mlp --n 30 --epochs 3``: ggml ran none of the nodes of the 15 MLPs with batch
norm (infeasible, with that reason); on the other 15 the median p50 was 0.0307 ms on the CPU
provider and 0.0983 ms on ggml (ratio 2.91, range 2.66 .. 4.06), Spearman 0.868, and the
accuracy-latency fronts (3 candidates each) share 2: a 32-wide ReLU MLP is only on the CPU
front, a 128-wide GELU one only on ggml's. ggml also claims none of the NB201 cell networks'
nodes (AveragePool, BatchNormalization, GlobalAveragePool).

Run (one process, one thread per session):
    OMP_NUM_THREADS=1 python benchmarks/providers_compare.py --n 30
    python benchmarks/providers_compare.py --provider ggml --provider-library /path/libonnxruntime_ggml.so \\
        --provider-option threads=1 --parity-tolerance 1e-2 1e-2
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np


def train_accuracy(space, config, x_tr, y_tr, x_va, y_va, epochs: int, seed: int):
    import torch

    torch.manual_seed(seed)
    model = space.build(config)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.as_tensor(x_tr), torch.as_tensor(y_tr)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.as_tensor(x_va)).argmax(1).numpy() == y_va).mean()
    return model, float(acc)


def front(acc: np.ndarray, lat: np.ndarray) -> set[int]:
    from raynas.objectives import Objective
    from raynas.pareto import losses, pareto_front

    objs = [Objective("val_acc", "max"), Objective("latency_p50_ms", "min")]
    pts = losses(objs, [{"val_acc": a, "latency_p50_ms": t} for a, t in zip(acc, lat, strict=True)])
    return {int(i) for i in pareto_front(pts)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=30, help="candidates (default: %(default)s)")
    p.add_argument("--space", choices=["nb201", "mlp"], default="nb201")
    p.add_argument("--epochs", type=int, default=3, help="training epochs (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--provider", default="OpenVINOExecutionProvider")
    p.add_argument("--device", default="CPU")
    p.add_argument("--provider-library", default=None)
    p.add_argument("--provider-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--parity-tolerance", type=float, nargs=2, default=None)
    p.add_argument("--min-seconds", type=float, default=0.5)
    p.add_argument("--json", default=None, help="also write every candidate's numbers here")
    args = p.parse_args()

    import torch
    from scipy.stats import spearmanr
    from sklearn.datasets import load_digits

    from raynas.hardware import HardwareTarget, measure
    from raynas.search_spaces import MLPSpace, NB201CellSpace

    torch.set_num_threads(1)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(args.seed).permutation(len(x))
    tr, va = order[:1400], order[1400:]
    if args.space == "nb201":
        space: Any = NB201CellSpace(
            input_shape=(1, 8, 8), num_classes=10, channels=8, cells_per_stage=1
        )
    else:  # the README's MLP search space
        space = MLPSpace(input_shape=(1, 8, 8), num_classes=10, max_layers=3)
    common = dict(
        input_shape=(1, 8, 8),
        intra_op_threads=1,
        min_runs=50,
        min_seconds=args.min_seconds,
        energy="off",
        exporter="torchscript",
    )
    cpu = HardwareTarget(name="cpu", **common)
    other = HardwareTarget(
        name="other",
        provider=args.provider,
        device=args.device,
        provider_library=args.provider_library,
        provider_options=dict(o.split("=", 1) for o in args.provider_option),
        parity_tolerance=tuple(args.parity_tolerance) if args.parity_tolerance else None,
        **common,
    )
    rng = np.random.default_rng(args.seed)
    configs, seen = [], set()
    while len(configs) < args.n:
        c = space.sample(rng)
        if space.key(c) not in seen:
            seen.add(space.key(c))
            configs.append(c)

    rows = []
    t0 = time.perf_counter()
    for i, c in enumerate(configs):
        model, acc = train_accuracy(space, c, x[tr], y[tr], x[va], y[va], args.epochs, args.seed)
        a, b = measure(model, cpu, route="local"), measure(model, other, route="local")
        nodes = dict(b.ep_nodes)
        rows.append(
            {
                "arch": space.to_arch_str(c) if args.space == "nb201" else space.key(c),
                "val_acc": acc,
                "cpu_p50_ms": a.p50_ms,
                "other_p50_ms": b.p50_ms,
                "cpu_feasible": a.feasible,
                "other_feasible": b.feasible,
                "other_reason": b.reason,
                "other_provider": b.provider,
                "other_device": b.device,
                "other_share": nodes.get(args.provider, 0) / max(1, sum(nodes.values())),
            }
        )
        print(
            f"[{i + 1:2d}/{args.n}] acc {acc:.3f}  cpu {a.p50_ms or float('nan'):.4f} ms  "
            f"{args.provider} {b.p50_ms or float('nan'):.4f} ms ({b.provider}, {b.device}, "
            f"nodes {nodes})" + ("" if b.feasible else f"  infeasible: {b.reason}"),
            flush=True,
        )
    ok = [r for r in rows if r["cpu_feasible"] and r["other_feasible"]]
    acc = np.array([r["val_acc"] for r in ok])
    lat_cpu = np.array([r["cpu_p50_ms"] for r in ok])
    lat_other = np.array([r["other_p50_ms"] for r in ok])
    rho = spearmanr(lat_cpu, lat_other).statistic if len(ok) > 2 else float("nan")
    f_cpu, f_other = front(acc, lat_cpu), front(acc, lat_other)
    print(
        f"\n{len(ok)} of {len(rows)} candidates measured on both ({time.perf_counter() - t0:.0f} s)"
    )
    print(f"median p50 CPUExecutionProvider  {np.median(lat_cpu):.4f} ms")
    print(f"median p50 {args.provider:<22}{np.median(lat_other):.4f} ms")
    print(
        f"ratio {args.provider} / CPU: median {np.median(lat_other / lat_cpu):.3f} "
        f"(range {np.min(lat_other / lat_cpu):.3f} .. {np.max(lat_other / lat_cpu):.3f})"
    )
    print(f"Spearman rank correlation of the p50s: {rho:.3f}")
    print(
        f"share of graph nodes on {args.provider}: median "
        f"{np.median([r['other_share'] for r in ok]):.2f}"
    )
    print(
        f"front on CPU: {len(f_cpu)} candidates; on {args.provider}: {len(f_other)}; "
        f"on both: {len(f_cpu & f_other)}"
    )
    for name, only in (("CPU", f_cpu - f_other), (args.provider, f_other - f_cpu)):
        for i in sorted(only):
            r = ok[i]
            print(
                f"  only on the {name} front: {r['arch']} acc {r['val_acc']:.3f} "
                f"cpu {r['cpu_p50_ms']:.4f} ms, {args.provider} {r['other_p50_ms']:.4f} ms"
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
