"""The main job: a hardware-aware search on the bundled digits data with local Ray.

Multi-objective: validation accuracy (max) against the latency measured with onnxruntime on this
machine's CPU (min, p50 of batch-1 inference with one thread). MLP candidates are proposed by
NSGA-II style multi-objective evolution, trained as Lightning modules in Tune trials, stopped early
by multi-objective ASHA, measured on the CPU target, and the Pareto front is printed, plotted
scored on the held-out test split, and exported as ONNX models.

Run:  python examples/hardware_aware_digits.py [--budget 20] [--epochs 5] [--out runs]
"""

from __future__ import annotations

import argparse
import os
import time


def main_job_space():
    """The main job's space: MLPs of 1 to 3 layers for the 8x8 digits."""
    from raynas.search_spaces import Choice, MLPSpace

    return MLPSpace(
        input_shape=(1, 8, 8),
        num_classes=10,
        min_layers=1,
        max_layers=3,
        width=Choice([16, 32, 64, 128, 256, 512]),
        batch_size=64,
        learning_rate=Choice([3e-3, 1e-3]),
        weight_decay=1e-4,
    )


def main_job_kwargs(budget: int = 20, epochs: int = 5, seed: int = 0) -> dict:
    """Everything of the main job's ``raynas.search`` call but the storage folder and name
    (``benchmarks/`` time this same search)."""
    from raynas.hardware import HardwareTarget

    cpu = HardwareTarget(
        name="cpu",
        provider="CPUExecutionProvider",
        intra_op_threads=1,
        input_shape=(1, 8, 8),
        batch_size=1,
        min_seconds=0.5,
    )
    return {
        "space": main_job_space(),
        "data": "digits",
        "objectives": ["val_acc:max", "latency_p50_ms:min"],
        "strategy": "nsga2",
        "scheduler": "moasha",
        "hardware": [cpu],
        "budget": budget,
        "max_epochs": epochs,
        "resources_per_trial": {"cpu": 1},
        "seed": seed,
    }


def main(argv: list[str] | None = None) -> object:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=20, help="number of candidates")
    parser.add_argument("--epochs", type=int, default=5, help="max epochs per candidate")
    parser.add_argument("--out", default="runs", help="storage folder for the experiment")
    parser.add_argument("--name", default="hardware_aware_digits", help="experiment folder name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress table")
    args = parser.parse_args(argv)

    import raynas

    t0 = time.time()
    results = raynas.search(
        **main_job_kwargs(args.budget, args.epochs, args.seed),
        storage_path=os.path.abspath(args.out),
        name=args.name,
        verbose=0 if args.quiet else 1,
    )
    wall = time.time() - t0
    front = results.pareto_front()
    for c in front:  # scored once on the test split the search never saw (kept in the folder)
        results.evaluate(c, split="test")
    print(f"\nPareto front ({len(front)} of {len(results)} candidates, {wall:.0f} s wall):")
    print(results.summary_table())
    folder = results.path
    plot = results.plot_pareto(os.path.join(folder, "pareto.png"))
    exported = results.export(os.path.join(folder, "export"))
    print(f"\nPareto plot: {plot}")
    print(
        f"Exported {len(exported)} models (ONNX + config + weights + metrics) to "
        f"{os.path.join(folder, 'export')}"
    )
    return results


if __name__ == "__main__":
    main()
