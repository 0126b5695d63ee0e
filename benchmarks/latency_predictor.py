"""Latency predictor accuracy on the NAS-Bench-201 latency table.

For each device column: train :class:`raynas.hardware.LatencyPredictor` on 100 random cells,
test on all the others, and report the share of predictions within ±10 % and the Spearman rank
correlation (targets: >= 90 % and >= 0.98 on every column). Several feature sets and regressors
are compared; every number printed is measured here, over ``--splits`` random splits.

Features (parsed from the arch string here, so the script does not need NB201CellSpace):
* ``onehot``: the 6 edges' ops, one-hot (30 dims) -- what ``NB201CellSpace.encode`` gives.
* ``eng``: one-hot + op counts over all edges (a shared per-op cost that ridge shrinks
  per-edge deviations towards) + one-hot and counts of the edges that reach the cell output
  through non-``none`` edges (graph compilers drop the others) + edges reachable from the input
  + a flag for degenerate cells (no input -> output path: the output is constant) + the number
  of nodes on input -> output paths.

Run:
    python benchmarks/latency_predictor.py --table ../shared/benchmarks/nb201_latency.csv \\
        --cifar ../shared/benchmarks/nb201_cifar10.csv
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from raynas.hardware import LatencyPredictor
from raynas.hardware._predictor import report

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]  # (to, from), arch-string order


def parse_arch(arch: str) -> list[str]:
    """``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` -> the 6 ops in edge order."""
    ops = []
    for node in arch.strip("|").split("|+|"):
        for tok in node.strip("|").split("|"):
            op, _, src = tok.partition("~")
            if op not in OPS:
                raise ValueError(f"unknown op {op!r} in {arch!r}")
            ops.append(op)
    if len(ops) != 6:
        raise ValueError(f"expected 6 edges in {arch!r}, got {len(ops)}")
    return ops


def onehot(ops: list[str]) -> np.ndarray:
    v = np.zeros(30)
    for k, op in enumerate(ops):
        v[5 * k + OPS.index(op)] = 1.0
    return v


def engineered(ops: list[str]) -> np.ndarray:
    fwd = {0}
    for (i, j), op in zip(EDGES, ops, strict=True):
        if op != "none" and j in fwd:
            fwd.add(i)
    bwd = {3}
    for (i, j), op in sorted(zip(EDGES, ops, strict=True), key=lambda e: -e[0][0]):
        if op != "none" and i in bwd:
            bwd.add(j)
    live = np.zeros(30)
    counts, live_counts, fwd_counts = np.zeros(5), np.zeros(5), np.zeros(5)
    for k, ((i, j), op) in enumerate(zip(EDGES, ops, strict=True)):
        o = OPS.index(op)
        counts[o] += 1
        if op == "none":
            continue
        if i in bwd:
            live[5 * k + o] = 1.0
            live_counts[o] += 1
        if j in fwd:
            fwd_counts[o] += 1
    degenerate = 0.0 if 3 in fwd else 1.0
    return np.concatenate(
        [onehot(ops), counts, live, live_counts, fwd_counts, [degenerate, len(fwd & bwd)]]
    )


FEATURES = {"onehot": onehot, "eng": engineered}
# (estimator, log_target, n_models)
MODELS = {
    "ridge": ("ridge", False, 5),
    "ridge-log": ("ridge", True, 5),
    "gbm": ("gbm", False, 5),
    "gbm-log": ("gbm", True, 5),
    "mlp-log": ("mlp", True, 3),
}


def run(table: pd.DataFrame, cols: list[str], n_train: int, splits: int, models, features):
    rows = []
    for col in cols:
        y_all = table[col].to_numpy(float)
        for fname in features:
            X_all = np.stack(table["ops"].map(FEATURES[fname]).to_list())
            for mname in models:
                est, logt, n = MODELS[mname]
                w, r, secs = [], [], []
                for split in range(splits):
                    rng = np.random.default_rng(split)
                    idx = rng.permutation(len(y_all))
                    tr, te = idx[:n_train], idx[n_train:]
                    t0 = time.perf_counter()
                    p = LatencyPredictor(estimator=est, log_target=logt, n_models=n, seed=split)
                    p.fit(X_all[tr], y_all[tr])
                    pred = p.predict(X_all[te])
                    secs.append(time.perf_counter() - t0)
                    rep = report(pred, y_all[te])
                    w.append(rep.within_10pct)
                    r.append(rep.spearman)
                rows.append(
                    {
                        "device": col.removeprefix("lat_ms_"),
                        "features": fname,
                        "model": mname,
                        "within10": np.mean(w),
                        "within10_sd": np.std(w),
                        "spearman": np.mean(r),
                        "spearman_sd": np.std(r),
                        "fit_s": np.mean(secs),
                    }
                )
                print(
                    f"{rows[-1]['device']:>14} {fname:>6} {mname:>9}  within±10% "
                    f"{np.mean(w):.3f}±{np.std(w):.3f}  spearman {np.mean(r):.4f}±{np.std(r):.4f}",
                    flush=True,
                )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", required=True, help="nb201_latency.csv")
    ap.add_argument("--cifar", required=True, help="nb201_cifar10.csv (for the arch strings)")
    ap.add_argument("--train", type=int, default=100, help="training cells per device")
    ap.add_argument("--splits", type=int, default=5, help="random train/test splits")
    ap.add_argument("--models", default=",".join(MODELS), help="comma list of " + ",".join(MODELS))
    ap.add_argument("--features", default=",".join(FEATURES), help="onehot,eng")
    args = ap.parse_args()

    lat = pd.read_csv(args.table)
    arch = pd.read_csv(args.cifar, usecols=["arch_index", "arch_str"])
    table = lat.merge(arch, on="arch_index")
    table["ops"] = table["arch_str"].map(parse_arch)
    cols = [c for c in lat.columns if c.startswith("lat_ms_")]
    near_zero = {c: int((table[c] < 0.1).sum()) for c in cols}
    print(f"{len(table)} cells; near-zero (< 0.1 ms) latencies per column: {near_zero}")
    res = run(
        table, cols, args.train, args.splits, args.models.split(","), args.features.split(",")
    )
    print("\nBest model per device (by within±10%), mean over splits:")
    best = res.loc[res.groupby("device")["within10"].idxmax()]
    print(best.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for _, row in best.iterrows():
        ok = row.within10 >= 0.9 and row.spearman >= 0.98
        print(
            f"  {row.device}: {'meets' if ok else 'MISSES'} the target "
            f"(>= 0.90 within ±10%, Spearman >= 0.98)"
        )


if __name__ == "__main__":
    main()
