"""Moving a hardware-aware search to a new device: what the first search's results are worth.

Accuracy does not depend on the device; latency does, and measuring it needs no training. So a
search for a new device can start from an earlier search's trained candidates: re-measure their
latency on the new device and tell both figures to the new search before it asks anything
(``Searcher(points_to_evaluate=..., evaluated_rewards=...)`` in a Tune pipeline; ``Strategy.tell``
here, in process). This script measures that on NAS-Bench-201 (validation accuracy vs latency),
per seed:

* ``transfer``: a search on ``--source`` (``--budget`` queries), then a search on ``--target``
  told the source search's cells with their target latency, running ``--budget`` new queries;
  scored on the cells of both (the user holds all of them), and on the new cells alone;
* the baselines of the same run: a fresh search on the target with ``--budget`` queries (the same
  number of new trainings) and with ``2 * --budget`` (the same number of trainings in all).

It prints the hypervolume ratio and the front recall of ``search_efficiency.py --parts mo`` on
the target's true front, and the transfer's recall as a ratio to each fresh baseline's.

Usage (from the project root)::

    python benchmarks/device_transfer.py --table ../shared/benchmarks/nb201_cifar10.csv \\
        --latency ../shared/benchmarks/nb201_latency.csv --source lat_ms_raspi4 \\
        --target lat_ms_pixel3 --seeds 12 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import search_efficiency as se  # noqa: E402

_SOURCE: dict[str, Any] = {}


def _source_latency(args: argparse.Namespace) -> np.ndarray:
    """The source device's latency of every row of the target's table (once per process)."""
    if _SOURCE.get("args") != vars(args):
        from raynas.tabular import TabularBenchmark

        b = se.load(args)
        bench = TabularBenchmark(
            args.table,
            space=b["space"],
            signal=args.signal,
            report=args.report,
            costs=[args.source],
            join=args.latency,
        )
        _SOURCE.update(args=vars(args), lat=bench.values(args.source))
    return _SOURCE["lat"]


def search(
    args: argparse.Namespace, lat: np.ndarray, seed: int, budget: int, prior: Sequence[int] = ()
) -> list[int]:
    """Rows a strategy queries, after being told ``prior`` rows with the target's figures."""
    from raynas.strategies import get_strategy

    b = se.load(args)
    space, bench = b["space"], b["bench"]
    acc, target = bench.values(args.signal), bench.values(args.target)
    strategy = get_strategy(
        args.strategy,
        space=space,
        objectives=[f"{args.signal}:max", "latency:min"],
        seed=seed,
        **se.strategy_args(args.strategy, budget),
    )
    for r in prior:  # the earlier search's cells: accuracy as trained, latency re-measured
        strategy.tell(bench.config(int(r)), {args.signal: acc[r], "latency": target[r]})
    rows: list[int] = []
    while len(rows) < budget:
        config = strategy.ask()
        r = bench.row(config)
        rows.append(r)
        strategy.tell(config, {args.signal: acc[r], "latency": lat[r]})
    return rows


def _run(task: tuple[str, int, argparse.Namespace]) -> tuple[str, list[int], list[int]]:
    kind, seed, args = task
    b = se.load(args)
    target = b["bench"].values(args.target)
    if kind == "fresh":
        return kind, [], search(args, target, seed, 2 * args.budget)
    first = search(args, _source_latency(args), seed + 10_000, args.budget)
    return kind, first, search(args, target, seed, args.budget, prior=first)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--table", required=True)
    p.add_argument("--latency", required=True)
    p.add_argument("--signal", default="cifar10valid_val_12ep")
    p.add_argument("--source", default="lat_ms_raspi4")
    p.add_argument("--target", default="lat_ms_pixel3")
    p.add_argument("--strategy", default="predictor")
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--seeds", type=int, default=12)
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args(argv)
    if a.source == a.target:
        p.error(f"--source and --target must be different devices, both are {a.source!r}")
    args = argparse.Namespace(
        table=a.table,
        latency=a.latency,
        signal=a.signal,
        report=a.signal,
        mo_cost=a.target,
        source=a.source,
        target=a.target,
        strategy=a.strategy,
        budget=a.budget,
        dedup="cell",
        repeats="count",
    )
    b = se.load(args)
    _source_latency(args)  # a wrong --source fails here, naming the column, before any search
    from raynas.strategies import STRATEGIES

    if a.strategy not in STRATEGIES:
        p.error(f"--strategy: unknown {a.strategy!r}; allowed: {sorted(STRATEGIES)}")
    start = time.perf_counter()
    tasks = [(kind, s, args) for kind in ("fresh", "transfer") for s in range(a.seeds)]
    if a.jobs > 1:
        with ProcessPoolExecutor(a.jobs) as pool:
            out = list(pool.map(_run, tasks, chunksize=1))
    else:
        out = [_run(t) for t in tasks]
    fresh = [rows for kind, _, rows in out if kind == "fresh"]
    transfer = [(first, rows) for kind, first, rows in out if kind == "transfer"]
    n = a.budget
    lines = {
        f"fresh on the target, {n} queries": [rows[:n] for rows in fresh],
        f"fresh on the target, {2 * n} queries": fresh,
        f"the source search's {n} cells alone": [first for first, _ in transfer],
        f"transfer: {n} new queries only": [rows for _, rows in transfer],
        f"transfer: source {n} + {n} new": [first + rows for first, rows in transfer],
    }
    print(
        f"# {a.strategy}, {a.source} -> {a.target}, seeds 0..{a.seeds - 1}, "
        f"true front {len(b['front'])} cells, {time.perf_counter() - start:.0f} s"
    )
    print("| run | trainings | HV ratio | front recall (cells) | front cells found, per seed |")
    print("| --- | --- | --- | --- | --- |")
    recall = {}
    for (name, runs), trainings in zip(lines.items(), [n, 2 * n, n, n, 2 * n], strict=True):
        figs = np.array([se.mo_figures(rows, b)[:2] for rows in runs])
        recall[name] = figs[:, 1].mean()
        found = " ".join(str(round(r * len(b["front"]))) for r in figs[:, 1])
        print(
            f"| {name} | {trainings} | {figs[:, 0].mean():.4f} ± {figs[:, 0].std():.4f} | "
            f"{100 * figs[:, 1].mean():.1f}% ± {100 * figs[:, 1].std():.1f} | {found} |"
        )
    names = list(lines)
    print(
        f"\ntransfer's front recall / fresh {n}-query search's: "
        f"{recall[names[4]] / max(recall[names[0]], 1e-12):.2f}; "
        f"/ fresh {2 * n}-query search's (same trainings in all): "
        f"{recall[names[4]] / max(recall[names[1]], 1e-12):.2f}"
    )


if __name__ == "__main__":
    main()
