"""A hardware-aware search submitted to a Ray cluster with ``ray job submit``.

Candidates train wherever the cluster has CPUs; every latency measurement for the ``edge`` target
runs as a Ray task on the node that advertises the ``hw:edge`` resource (a Jetson, a phone host,
or here a second local node). Results go to a storage path every node can reach.

Submit (see examples/cluster.yaml for a cloud cluster):
    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \
        python examples/cluster_job.py --storage /shared/runs --budget 8
"""

from __future__ import annotations

import argparse
import json
import os


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True, help="storage path reachable by every node")
    parser.add_argument("--name", default="cluster_search")
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--target", default="edge", help="hardware target; its node has hw:<target>"
    )
    args = parser.parse_args(argv)

    import raynas
    from raynas.hardware import HardwareTarget
    from raynas.search_spaces import Choice, MLPSpace

    space = MLPSpace(
        input_shape=(1, 8, 8),
        num_classes=10,
        max_layers=2,
        width=Choice([16, 32, 64, 128]),
        batch_size=64,
        learning_rate=3e-3,
        weight_decay=1e-4,
    )
    target = HardwareTarget(
        name=args.target,
        input_shape=(1, 8, 8),
        min_runs=20,
        min_seconds=0.2,
        energy="off",
        local_fallback=False,
    )
    results = raynas.search(
        space,
        "digits",
        objectives=["val_acc:max", "latency_p50_ms:min"],
        strategy="nsga2",
        hardware=[target],
        budget=args.budget,
        max_epochs=args.epochs,
        storage_path=args.storage,
        name=args.name,
        max_concurrent=2,
        verbose=0,
    )
    from raynas.hardware import MeasurementCache

    measured = MeasurementCache(os.path.join(results.path, "measurements")).records()
    summary = {
        "candidates": len(results),
        "feasible": len(results.feasible()),
        "front": len(results.pareto_front()),
        "measurements": len(measured),
        "measured_on_nodes": sorted({str(m.node_id) for _, m in measured}),
        "edge_nodes": sorted(
            n["NodeID"]
            for n in __import__("ray").nodes()
            if n["Alive"] and n["Resources"].get(f"hw:{args.target}")
        ),
    }
    with open(os.path.join(results.path, "cluster_summary.json"), "w") as f:
        json.dump(summary, f)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
