"""How well accuracy surrogates predict the good NAS-Bench-201 cells they have not seen.

`search_efficiency.py --parts mo` lets `PredictorGuided` model accuracy on what a cell computes
(`NB201CellSpace.function_paths`) with extra trees, and latency on what it runs
(`space.features`) with ridge regression. This script measures why, on the table alone: each
surrogate (ridge or the predictor's extra trees, on `features` or on `function_paths`) is
fitted on the validation accuracy of a training set of cells and scored on the unseen cells of
at least `--top` accuracy (the region a search spends its queries in) and on the unseen cells of
the table's accuracy-latency front: Spearman rank correlation, RMSE, and the mean error (the
bias) on the front cells. The baseline is ridge on `features`, the predictor's default, in the
same run.

Training sets: `--train-sizes` random cells (`--seeds` draws each), and with `--runs DUMP` (a
`search_efficiency.py --dump` file) the first cells each dumped search asked for, the biased
samples a surrogate sees inside a search.

Usage (from the project root)::

    python benchmarks/accuracy_surrogate.py --table ../shared/benchmarks/nb201_cifar10.csv \\
        --latency ../shared/benchmarks/nb201_latency.csv [--runs runs.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import search_efficiency as se  # noqa: E402
from front_noise import front_rows  # noqa: E402

BASELINE = "ridge on features"


def surrogates() -> dict[str, tuple[str, str]]:
    """name -> (inputs, regressor name of raynas.strategies._predictor)."""
    return {
        BASELINE: ("features", "ridge"),
        "extra trees on features": ("features", "trees"),
        "ridge on function_paths": ("function_paths", "ridge"),
        "extra trees on function_paths": ("function_paths", "trees"),
    }


def scores(
    make: Callable[[int], Any],
    x: np.ndarray,
    acc: np.ndarray,
    train: np.ndarray,
    top: np.ndarray,
    front: np.ndarray,
    seed: int,
) -> tuple[float, float, float]:
    """Spearman and RMSE on the unseen ``top`` cells, mean error on the unseen ``front`` ones."""
    from scipy.stats import spearmanr

    y = acc[train]
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    pred = make(seed).fit(x[train], (y - mu) / sd).predict(x) * sd + mu
    unseen_top = np.setdiff1d(top, train)
    unseen_front = np.setdiff1d(front, train)
    rho = float(spearmanr(pred[unseen_top], acc[unseen_top])[0])
    rmse = float(np.sqrt(np.mean((pred[unseen_top] - acc[unseen_top]) ** 2)))
    bias = float(np.mean(pred[unseen_front] - acc[unseen_front])) if len(unseen_front) else 0.0
    return rho, rmse, bias


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", required=True, help="nb201_cifar10.csv")
    p.add_argument("--latency", required=True, help="nb201_latency.csv")
    p.add_argument("--signal", default="cifar10valid_val_12ep")
    p.add_argument("--mo-cost", default="lat_ms_pixel3")
    p.add_argument("--top", type=float, default=80.0, help="accuracy of the cells scored")
    p.add_argument("--train-sizes", default="100,300")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--runs", help="a search_efficiency.py --dump file: its searches' first cells")
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.train_sizes.split(",") if s]
    args = se.table_args(a)
    b = se.load(args)
    bench, space = b["bench"], b["space"]
    acc, lat = bench.values(a.signal), bench.values(a.mo_cost)
    n = len(bench)
    for size in sizes:
        if not 2 <= size < n:
            p.error(f"--train-sizes: {size} is not between 2 and {n - 1} (the table's cells)")
    top = np.flatnonzero(acc >= a.top)
    if len(top) < 10:
        p.error(f"--top: {a.top} leaves {len(top)} cells of the table; take a lower accuracy")
    front = np.array(front_rows(acc, lat))
    dumped: list[list[int]] = []
    if a.runs:
        try:
            with open(a.runs) as f:
                dumped = [r["rows"] for r in json.load(f)["runs"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            p.error(f"--runs: {a.runs} is not a search_efficiency.py --dump file ({e})")
    from raynas.strategies._predictor import _make_regressor

    configs = [bench.config(r) for r in range(n)]
    inputs = {
        "features": np.array([space.features(c) for c in configs]),
        "function_paths": np.array([space.function_paths(c) for c in configs]),
    }
    print(f"# accuracy surrogates on {a.table} ({a.signal}; front: {a.mo_cost} min)\n")
    print(
        f"Scored on the unseen cells of at least {a.top}% ({len(top)} in the table) and the "
        f"unseen cells of the true front ({len(front)}).\n"
    )
    print(
        "| training cells | surrogate | Spearman (top) | RMSE (top) | ratio to baseline "
        "| mean error on front cells |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    sets: list[tuple[str, list[np.ndarray]]] = []
    for size in sizes:
        draws = [np.random.default_rng(s).choice(n, size, replace=False) for s in range(a.seeds)]
        sets.append((f"{size} random", draws))
        if dumped:
            sets.append((f"first {size} of a search", [np.array(r[:size]) for r in dumped]))
    for label, draws in sets:
        rows: dict[str, tuple[float, float, float]] = {}
        for name, (inp, reg) in surrogates().items():
            runs = [
                scores(
                    lambda seed, r=reg: _make_regressor(r, seed),
                    inputs[inp],
                    acc,
                    t,
                    top,
                    front,
                    seed,
                )
                for seed, t in enumerate(draws)
            ]
            rho, rmse, bias = np.mean(runs, axis=0)
            rows[name] = (float(rho), float(rmse), float(bias))
        base = rows[BASELINE][1]
        for name, (rho, rmse, bias) in rows.items():
            print(
                f"| {label} ({len(draws)}) | {name} | {rho:.3f} | {rmse:.2f} | "
                f"{rmse / base:.2f} | {bias:+.2f} |"
            )


if __name__ == "__main__":
    main()
