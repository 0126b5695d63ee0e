"""NAS-Bench-201 cells on MNIST-1D with a latency constraint.

The cell space (6 edges x 5 ops) is stacked into a small 1-D NAS-Bench-201 network for MNIST-1D
(40 samples per signal, generated offline). Regularized evolution maximizes validation accuracy
among cells whose measured CPU latency stays under a bound; cells over it are infeasible and the
evolution never selects them as parents.

Run:  python examples/nb201_mnist1d_latency.py [--budget 16] [--epochs 4] [--max-latency-ms 1.0]
"""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-latency-ms", type=float, default=1.0)
    parser.add_argument("--out", default="runs")
    args = parser.parse_args(argv)

    import raynas
    from raynas.hardware import HardwareTarget
    from raynas.search_spaces import NB201CellSpace

    space = NB201CellSpace(
        input_shape=(1, 40),
        num_classes=10,
        channels=8,
        cells_per_stage=1,
        learning_rate=3e-3,
        weight_decay=1e-4,
        batch_size=128,
    )
    cpu = HardwareTarget(
        name="cpu", input_shape=(1, 40), min_runs=20, min_seconds=0.2, energy="off"
    )
    results = raynas.search(
        space,
        "mnist1d",
        objectives=["val_acc:max", f"latency_p50_ms <= {args.max_latency_ms}"],
        strategy="evolution",
        strategy_kwargs={"population_size": 6, "sample_size": 3},
        hardware=[cpu],
        budget=args.budget,
        max_epochs=args.epochs,
        storage_path=os.path.abspath(args.out),
        name="nb201_mnist1d",
        verbose=0,
    )
    print(results.summary_table(results.feasible()))
    best = results.best("val_acc")
    print(
        f"\nbest cell {space.to_arch_str(best.config)}: val_acc={best.value('val_acc'):.3f}, "
        f"latency={best.value('latency_p50_ms'):.3f} ms"
    )
    infeasible = [c for c in results.candidates if not c.feasible]
    print(f"{len(infeasible)} infeasible: " + "; ".join(c.reason for c in infeasible[:3]))
    return results


if __name__ == "__main__":
    main()
