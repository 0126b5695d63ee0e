"""Transformer NAS on the review snippets: accuracy against measured CPU latency.

Three arms on the same machine, in one run, with the same epochs and data:

* ``raynas``: a multi-objective raynas search (``val_acc:max``, ``latency_p50_ms:min`` on one
  CPU thread), strategy ``predictor``;
* ``random``: random search with the same budget;
* ``hand``: one hand-picked small encoder (2 layers, 4 heads, width 128, FFN 256, all 64 ids).

Every trained candidate is scored on the held-out movies' snippets (test split) in torch. Each
arm's front is its non-dominated candidates by (validation accuracy, p50 latency), as the
search sees them; the table gives each front member's test accuracy, float p50 latency and its
int8 (dynamic quantization) test accuracy and p50 latency, and each front's hypervolume in
(test error, p50 ms) against one reference point shared by the arms: the error of always
answering the majority class (a model must beat it to count) and 10 % past the slowest. Run::

    OMP_NUM_THREADS=1 python benchmarks/transformer_reviews.py --budget 5 --epochs 1

(about 20 minutes on the shared 2 cores at that budget; ``--dump F`` keeps the rows and
``--rescore F`` prints their table again.)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from typing import Any

import numpy as np

HAND = {
    "embed_dim": 128,
    "max_length": 64,
    "layers": [{"num_heads": 4, "ffn_dim": 256}, {"num_heads": 4, "ffn_dim": 256}],
    "dropout": 0.1,
    "pooling": "mean",
}


def space_kwargs() -> dict[str, Any]:
    return {
        "embed_dim": [32, 64, 128],
        "num_heads": [1, 2, 4],
        "ffn_dim": [64, 128, 256],
        "max_layers": 3,
        "max_length": [16, 32, 64],
        "dropout": 0.1,
        "learning_rate": 1e-3,
        "weight_decay": 1e-4,
        "batch_size": 64,
    }


def target(name: str = "cpu", quantization: str | None = None) -> Any:
    from raynas.hardware import HardwareTarget

    return HardwareTarget(
        name=name,
        intra_op_threads=1,
        input_shape=(64,),
        input_dtype="int64",
        warmup_runs=5,
        min_runs=30,
        min_seconds=0.3,
        energy="off",
        quantization=quantization,
    )


def run_arm(arm: str, args: argparse.Namespace, storage: str) -> Any:
    import raynas

    kwargs: dict[str, Any] = {}
    if arm == "raynas":
        strategy, budget = "predictor", args.budget
        kwargs["strategy_kwargs"] = {"num_initial": max(2, args.budget // 2)}
    elif arm == "random":
        strategy, budget = "random", args.budget
    else:
        strategy, budget = "random", 1
        kwargs["points_to_evaluate"] = [
            {**HAND, "learning_rate": 1e-3, "weight_decay": 1e-4, "batch_size": 64}
        ]
    return raynas.search(
        "transformer",
        "reviews",
        objectives=["val_acc:max", "latency_p50_ms:min"],
        strategy=strategy,
        space_kwargs=space_kwargs(),
        data_kwargs={"vocab_size": 4000, "max_length": 64, "seed": args.seed},
        hardware=[target()],
        budget=budget,
        max_epochs=args.epochs,
        max_concurrent=1,
        storage_path=storage,
        name=arm,
        seed=args.seed,
        verbose=0,
        **kwargs,
    )


def score_front(results: Any, dm: Any) -> list[dict[str, Any]]:
    """Test accuracy (torch), and int8 test accuracy and p50 latency, of each front member."""
    import torch

    from raynas._export import load_trained_model
    from raynas.hardware import export_onnx, measure

    x, y = dm.arrays("test")
    rows = []
    for c in sorted(results.pareto_front(), key=lambda c: c.metrics["latency_p50_ms"]):
        model = load_trained_model(results.space, c.config, c.checkpoint_path)
        with torch.no_grad():
            acc = float((model(x).argmax(1) == y).float().mean())
        onnx = export_onnx(model, input_shape=(64,), dtype="int64").onnx
        # int8: quantized in the measuring process, scored there on the test split
        int8 = measure(onnx, target("int8", "dynamic"), eval_data=(x.numpy(), y.numpy()))
        rows.append(
            {
                "config": results.space.key(c.config),
                "val_acc": c.metrics["val_acc"],
                "test_acc": acc,
                "p50_ms": c.metrics["latency_p50_ms"],
                "onnx_test_acc": int8.float_acc,
                "int8_test_acc": int8.quantized_acc,
                "int8_p50_ms": int8.p50_ms,
                "params": c.metrics.get("params"),
            }
        )
    return rows


def hypervolume(rows: list[dict[str, Any]], ref: tuple[float, float], acc: str, ms: str) -> float:
    from raynas.pareto import hypervolume as hv
    from raynas.pareto import pareto_front

    pts = np.array([[1.0 - r[acc], r[ms]] for r in rows], dtype=float)
    return float(hv(pts[pareto_front(pts)], np.array(ref)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--majority", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump", default=None, help="write the rows as JSON here")
    parser.add_argument("--rescore", default=None, help="print the table of a --dump file")
    args = parser.parse_args()
    if args.rescore:
        with open(args.rescore) as fh:
            saved = json.load(fh)
        majority = saved.pop("majority", None)
        if majority is None:  # a dump written before the majority class was kept
            saved.pop("ref", None)
            majority = args.majority
        report(saved, majority, f"rescored {args.rescore}")
        return

    import ray

    from raynas.data import get_datamodule

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    dm = get_datamodule("reviews", vocab_size=4000, max_length=64, seed=args.seed)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="raynas-bench-text-") as storage:
        for arm in ("raynas", "random", "hand"):
            t0 = time.perf_counter()
            results = run_arm(arm, args, storage)
            rows = score_front(results, dm)
            out[arm] = {
                "rows": rows,
                "wall_s": time.perf_counter() - t0,
                "feasible": len(results.feasible()),
                "trials": len(results),
            }
    y = dm.arrays("test")[1].numpy()
    majority = float(max(np.mean(y), 1 - np.mean(y)))
    header = f"reviews: {dm.sizes} snippets, vocab {dm.vocab_size}; {args.epochs} epochs"
    report(out, majority, header)
    if args.dump:
        os.makedirs(os.path.dirname(os.path.abspath(args.dump)), exist_ok=True)
        with open(args.dump, "w") as fh:
            json.dump({"majority": majority, **out}, fh, indent=1)


def report(out: dict[str, Any], majority: float, header: str) -> None:
    """Print each arm's front and hypervolumes against one reference shared by the arms: the
    error of always answering the test split's majority class, and 10 % past the slowest."""
    every = [r for a in out.values() for r in a["rows"]]
    ref = (1.0 - majority, 1.1 * max(max(r["p50_ms"], r["int8_p50_ms"]) for r in every))
    print(f"{header}; majority class {majority:.4f}; reference (error, ms) {ref}")
    for arm, a in out.items():
        a["hv_float"] = hypervolume(a["rows"], ref, "test_acc", "p50_ms")
        a["hv_int8"] = hypervolume(a["rows"], ref, "int8_test_acc", "int8_p50_ms")
        print(
            f"\n{arm}: {a['trials']} trials ({a['feasible']} feasible), {a['wall_s']:.0f} s; "
            f"front hypervolume float {a['hv_float']:.5f}, int8 {a['hv_int8']:.5f}"
        )
        print(" test_acc  p50_ms  int8_acc  int8_ms   params  config")
        for r in a["rows"]:
            print(
                f"  {r['test_acc']:.4f}  {r['p50_ms']:6.3f}    {r['int8_test_acc']:.4f}  "
                f"{r['int8_p50_ms']:6.3f}  {r['params']:>7}  {r['config']}"
            )


if __name__ == "__main__":
    main()
