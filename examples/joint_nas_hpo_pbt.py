"""Joint NAS + HPO: population-based training over MLP candidates on digits.

A population of MLP architectures is sampled from the space; Ray's PBT tunes each member's
learning rate and weight decay while it trains, and a weak member continues from a strong one's
checkpoint. With ``--architecture`` raynas's ArchitecturePBT also mutates the architecture at
each exploit and carries the weights over (Net2Net widening, slicing).

Run:  python examples/joint_nas_hpo_pbt.py [--population 4] [--epochs 6] [--architecture]
"""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--architecture", action="store_true", help="use ArchitecturePBT")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args(argv)

    import raynas
    from raynas.search_spaces import Choice, Float, MLPSpace

    space = MLPSpace(
        input_shape=(1, 8, 8),
        num_classes=10,
        max_layers=2,
        width=Choice([32, 64, 128]),
        learning_rate=Float(1e-4, 3e-2, log=True),
        weight_decay=Float(1e-6, 1e-2, log=True),
        batch_size=64,
        dropout=0.0,
        batch_norm=False,
    )
    results = raynas.search(
        space,
        "digits",
        objectives=["val_acc:max"],
        strategy="random",
        scheduler="architecture_pbt" if args.architecture else "pbt",
        scheduler_kwargs={"perturbation_interval": 2},
        budget=args.population,
        max_epochs=args.epochs,
        storage_path=os.path.abspath(args.out),
        name="joint_pbt" + ("_arch" if args.architecture else ""),
        verbose=0,
    )
    print(results.summary_table(results.candidates))
    best = results.best()
    print(f"\nbest: val_acc={best.value('val_acc'):.3f} config={best.config}")
    return results


if __name__ == "__main__":
    main()
