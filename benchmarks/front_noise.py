"""How far the exact cells of NAS-Bench-201's accuracy-latency front are set by noise.

`search_efficiency.py --parts mo` scores front recall by cells: a search must ask for the very
cell on the true front, not another member of its isomorphism class (same function, so the same
expected accuracy, but its own training run and its own latency measurement with the dead
operations). Where a class holds several cells, which of them lies on the front is decided by
the table's training noise and latency, and a search can only find it if a model can tell the
members apart. This script measures that, on the table alone (no search):

* the front: its cells, its classes, how many cells are their class's fastest member, the
  accuracy spread within its classes next to the accuracy gaps between neighbouring front cells;
* for latency models (ridge and extra trees on ``NB201CellSpace.features``) fitted on random
  training sets of ``--train-sizes`` cells (``--seeds`` draws each), which member of each
  multi-cell front class the model predicts fastest: the share of classes where that is the true
  fastest member, and that member's latency rank in its class, each as a ratio to a random
  member's (1/k and (k+1)/2 for a class of k cells), the baseline of the same run.

Usage (from the project root)::

    python benchmarks/front_noise.py --table ../shared/benchmarks/nb201_cifar10.csv \\
        --latency ../shared/benchmarks/nb201_latency.csv
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import search_efficiency as se  # noqa: E402


def front_rows(acc: np.ndarray, lat: np.ndarray) -> list[int]:
    """Rows of the true front (max accuracy, min latency), fastest first."""
    from raynas.pareto import pareto_front

    points = np.c_[1.0 - acc / 100.0, lat]
    return sorted(pareto_front(points).tolist(), key=lambda i: lat[i])


def picks(pred: np.ndarray, lat: np.ndarray, classes: list[np.ndarray]) -> tuple[float, float]:
    """Share of ``classes`` whose predicted-fastest member is the fastest, and its mean rank."""
    hits, ranks = [], []
    for members in classes:
        chosen = members[int(np.argmin(pred[members]))]
        rank = int((lat[members] < lat[chosen]).sum()) + 1
        hits.append(rank == 1)
        ranks.append(rank)
    return float(np.mean(hits)), float(np.mean(ranks))


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", required=True, help="nb201_cifar10.csv (with an iso_group column)")
    p.add_argument("--latency", required=True, help="nb201_latency.csv")
    p.add_argument("--signal", default="cifar10valid_val_12ep")
    p.add_argument("--mo-cost", default="lat_ms_pixel3")
    p.add_argument("--train-sizes", default="300,3000,12000")
    p.add_argument("--seeds", type=int, default=5)
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.train_sizes.split(",") if s]
    args = se.table_args(a)
    b = se.load(args)
    bench, space = b["bench"], b["space"]
    if "iso_group" not in bench.frame:
        p.error(f"--table: {a.table} has no iso_group column; the classes come from it")
    iso = bench.frame["iso_group"].to_numpy()
    acc, lat = bench.values(a.signal), bench.values(a.mo_cost)
    n = len(bench)
    for size in sizes:
        if not 2 <= size < n:
            p.error(f"--train-sizes: {size} is not between 2 and {n - 1} (the table's cells)")
    front = front_rows(acc, lat)
    by_class = {g: np.flatnonzero(iso == g) for g in {iso[i] for i in front}}
    fastest = sum(lat[i] == lat[by_class[iso[i]]].min() for i in front)
    multi = [m for m in by_class.values() if len(m) > 1]
    spread = [float(np.ptp(acc[m])) for m in multi]
    gaps = np.diff(acc[front])
    print(f"# front noise on {a.table} ({a.signal} max vs {a.mo_cost} min)\n")
    print(
        f"True front: {len(front)} cells in {len(by_class)} isomorphism classes; {fastest} cells "
        f"are their class's fastest member. {len(multi)} front classes hold several cells "
        f"(median {int(np.median([len(m) for m in multi]))}, up to {max(len(m) for m in multi)})."
    )
    print(
        f"Accuracy spread (max - min) within those classes: median {np.median(spread):.2f} "
        f"points; gap between neighbouring front cells: median {np.median(gaps):.2f} points.\n"
    )
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.linear_model import Ridge

    x = np.array([space.features(bench.config(r)) for r in range(n)])
    rand_hit = float(np.mean([1 / len(m) for m in multi]))
    rand_rank = float(np.mean([(len(m) + 1) / 2 for m in multi]))
    print(f"Which member of the {len(multi)} multi-cell front classes a latency model predicts")
    print(f"fastest; baseline: a random member (picks the fastest {rand_hit:.3f} of the time,")
    print(f"mean latency rank {rand_rank:.1f}).\n")
    print(
        "| model | training cells | held-out RMSE (ms) | fastest picked | ratio to random "
        "| mean rank | ratio to random |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    models = {
        "ridge": lambda seed: Ridge(alpha=1.0),
        "extra trees": lambda seed: ExtraTreesRegressor(
            200, min_samples_leaf=2, n_jobs=2, random_state=seed
        ),
    }
    for name, make in models.items():
        for size in sizes:
            hit, rank, rmse = [], [], []
            for seed in range(a.seeds):
                rng = np.random.default_rng(seed)
                train = rng.choice(n, size, replace=False)
                test = np.setdiff1d(np.arange(n), train)
                pred = make(seed).fit(x[train], lat[train]).predict(x)
                h, r = picks(pred, lat, multi)
                hit.append(h)
                rank.append(r)
                rmse.append(float(np.sqrt(np.mean((pred[test] - lat[test]) ** 2))))
            print(
                f"| {name} | {size} | {np.mean(rmse):.2f} | {np.mean(hit):.3f} | "
                f"{np.mean(hit) / rand_hit:.2f} | {np.mean(rank):.1f} | "
                f"{np.mean(rank) / rand_rank:.2f} |"
            )


if __name__ == "__main__":
    main()
