"""Compare search strategies on tabular NAS-Bench-201 data, without training anything.

Each strategy searches the NAS-Bench-201 cell space through ask/tell, looking only at the
search-signal column (12-epoch validation accuracy); the report column (200-epoch test accuracy)
of the best cell it saw is what counts. The tables are not bundled: pass them by path.

Run:  python examples/tabular_benchmark.py --table ../shared/benchmarks/nb201_cifar10.csv \
          [--budget 100] [--seeds 5] [--strategies random,evolution,tpe,predictor]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(bench, strategy_name: str, budget: int, seed: int) -> float:
    """One search of ``budget`` distinct cells; returns the report value of the best seen."""
    from raynas.strategies import get_strategy

    strategy = get_strategy(strategy_name, space=bench.space, objectives=[bench.signal], seed=seed)
    best_signal, best_report = -np.inf, np.nan
    for _ in range(budget):
        config = strategy.ask()
        row = bench.query(config)
        strategy.tell(config, {bench.signal: row[bench.signal]})
        if row[bench.signal] > best_signal:
            best_signal, best_report = row[bench.signal], row[bench.report]
    return float(best_report)


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="CSV with arch_str and accuracy columns")
    parser.add_argument("--signal", default="cifar10valid_val_12ep")
    parser.add_argument("--report", default="cifar10_test_200ep")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategies", default="random,evolution,tpe,predictor")
    args = parser.parse_args(argv)

    from raynas.search_spaces import NB201CellSpace
    from raynas.tabular import TabularBenchmark

    space = NB201CellSpace(
        input_shape=(3, 32, 32),
        num_classes=10,
        learning_rate=0.1,
        weight_decay=5e-4,
        batch_size=256,
    )
    bench = TabularBenchmark(args.table, space=space, signal=args.signal, report=args.report)
    print(f"{len(bench)} cells; best {args.report} in the table: {bench.oracle():.2f}")
    out = {}
    for name in args.strategies.split(","):
        t0 = time.time()
        values = [run(bench, name, args.budget, seed) for seed in range(args.seeds)]
        out[name] = (float(np.mean(values)), float(np.std(values)))
        print(
            f"{name:>10}: {out[name][0]:.2f} +- {out[name][1]:.2f} over {args.seeds} seeds "
            f"({args.budget} queries, {time.time() - t0:.1f} s)"
        )
    return out


if __name__ == "__main__":
    main()
