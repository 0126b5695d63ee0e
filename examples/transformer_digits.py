"""Transformer encoder search on digits: layers, heads, embedding and per-layer FFN widths.

Each 8x8 digit enters as 8 row tokens. Accuracy against measured CPU latency, regularized
evolution on accuracy with a latency constraint, ASHA early stopping.

Run:  python examples/transformer_digits.py [--budget 12] [--epochs 4] [--max-latency-ms 2]
"""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-latency-ms", type=float, default=2.0)
    parser.add_argument("--out", default="runs")
    args = parser.parse_args(argv)

    import raynas
    from raynas.hardware import HardwareTarget
    from raynas.search_spaces import Choice, TransformerSpace

    space = TransformerSpace(
        input_shape=(1, 8, 8),
        num_classes=10,
        tokens="rows",
        min_layers=1,
        max_layers=3,
        embed_dim=Choice([32, 64]),
        num_heads=Choice([2, 4]),
        ffn_dim=Choice([64, 128, 256]),
        learning_rate=Choice([1e-3, 3e-3]),
        weight_decay=1e-4,
        batch_size=64,
    )
    cpu = HardwareTarget(
        name="cpu", input_shape=(1, 8, 8), min_runs=20, min_seconds=0.2, energy="off"
    )
    results = raynas.search(
        space,
        "digits",
        objectives=["val_acc:max", f"latency_p50_ms <= {args.max_latency_ms}"],
        strategy="evolution",
        scheduler="asha",
        hardware=[cpu],
        budget=args.budget,
        max_epochs=args.epochs,
        storage_path=os.path.abspath(args.out),
        name="transformer_digits",
        verbose=0,
    )
    best = results.best("val_acc")
    print(results.summary_table(results.feasible()))
    print(
        f"\nbest within {args.max_latency_ms} ms: val_acc={best.value('val_acc'):.3f}, "
        f"latency={best.value('latency_p50_ms'):.3f} ms, config={best.config}"
    )
    return results


if __name__ == "__main__":
    main()
