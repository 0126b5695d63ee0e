"""Transformer search on movie-review snippets: accuracy against measured CPU latency, and int8.

The Rotten Tomatoes snippets (fresh / rotten, split by movie) become token ids of a WordPiece
vocabulary fitted on the training movies. The space searches the embedding width, the depth,
the heads and FFN width of each layer, how many ids a model reads (``max_length``: latency grows
with it) and the pooling. Two targets measure every candidate on one CPU thread: the float model
and its int8 dynamic quantization. The script prints the accuracy-latency front and exports it,
each model with the ``tokenizer.json`` its ids come from, then classifies raw text with the
first exported model through onnxruntime.

Run:  python examples/transformer_reviews.py [--budget 12] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os

SAMPLES = ["A gripping, beautifully acted drama.", "Dull, overlong and painfully unfunny."]


def classify(folder: str, texts: list[str]) -> list[str]:
    """Label raw texts with an exported model and its tokenizer (onnxruntime + tokenizers)."""
    import numpy as np
    import onnxruntime as ort
    import tokenizers

    tok = tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    ids = np.array([e.ids for e in tok.encode_batch(texts)], dtype=np.int64)
    sess = ort.InferenceSession(
        os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"]
    )
    name = sess.get_inputs()[0].name
    logits = np.concatenate([sess.run(None, {name: row[None]})[0] for row in ids])
    return ["fresh" if k == 1 else "rotten" for k in logits.argmax(axis=1)]


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-fraction", type=float, default=1.0)
    parser.add_argument("--out", default="runs")
    args = parser.parse_args(argv)

    import raynas
    from raynas.hardware import HardwareTarget

    def target(name: str, quantization: str | None = None) -> HardwareTarget:
        return HardwareTarget(
            name=name,
            resource="hw:cpu",  # float and int8 both measure on this CPU, one at a time
            intra_op_threads=1,
            min_runs=20,
            min_seconds=0.2,
            energy="off",
            quantization=quantization,
        )

    results = raynas.search(
        "transformer",  # shaped by the data: vocab_size, tokenizer, input (64,) of int64 ids
        "reviews",
        objectives=["val_acc:max", "latency_p50_ms:min"],
        strategy="nsga2",
        strategy_kwargs={"population_size": max(2, args.budget // 3)},
        space_kwargs={
            "embed_dim": [32, 64, 128],
            "num_heads": [1, 2, 4],
            "ffn_dim": [64, 128, 256],
            "max_layers": 3,
            "max_length": [16, 32, 64],
            "learning_rate": 1e-3,
            "batch_size": 64,
        },
        data_kwargs={"vocab_size": 4000, "max_length": 64},
        hardware=[target("cpu"), target("int8", "dynamic")],
        budget=args.budget,
        max_epochs=args.epochs,
        train_fraction=args.train_fraction,
        storage_path=os.path.abspath(args.out),
        name="transformer_reviews",
        max_concurrent=1,
        verbose=0,
    )
    print("accuracy-latency front (float and int8 p50 on one CPU thread):")
    print(results.summary_table())
    for c in sorted(results.pareto_front(), key=lambda c: c.metrics["latency_p50_ms"]):
        m = c.metrics
        print(
            f"  val_acc {m['val_acc']:.3f}  p50 {m['latency_p50_ms']:.3f} ms  "
            f"int8 p50 {m['int8_latency_p50_ms']:.3f} ms  max_length {c.config['max_length']}  "
            f"layers {[(la['num_heads'], la['ffn_dim']) for la in c.config['layers']]}"
        )
    folders = results.export(os.path.join(results.path, "export"))
    print(f"exported {len(folders)} models with their tokenizer to {results.path}/export")
    for text, label in zip(SAMPLES, classify(folders[0], SAMPLES), strict=True):
        print(f"  {label:6s} <- {text!r}")
    return results


if __name__ == "__main__":
    main()
