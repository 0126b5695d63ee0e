"""What reusing Ray worker processes is worth to the main job, measured in one run.

The main job's own search (``examples/hardware_aware_digits.py``: 20 MLPs on digits, NSGA-II,
multi-objective ASHA, CPU latency measured with onnxruntime) runs with ``reuse_actors=True``
(raynas' default: a worker process trains one candidate after another) and ``reuse_actors=False``
(a fresh process per candidate, importing torch and Lightning and loading the data again),
``--repeats`` times each, interleaved (on, off, on, off, ...), on one local Ray.

It prints, per run, the wall time of ``raynas.search`` and the worker processes the trials ran in;
then the median wall time of each way and their ratio. It also checks that reuse changes nothing
a candidate learns: for every config that two runs trained to the same epoch (multi-objective ASHA
stops trials at times that depend on which trial finishes first, so the sets differ a little),
the largest difference in validation accuracy is printed; it should be 0.

Run:  python benchmarks/actor_reuse.py [--budget 20] [--epochs 5] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

# the main job's own search (examples/ is not a package)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from hardware_aware_digits import main_job_kwargs  # noqa: E402


def worker_pids(experiment: str) -> set[int]:
    """The process ids the trials of a finished experiment reported from."""
    pids = set()
    for entry in os.listdir(experiment):
        result = os.path.join(experiment, entry, "result.json")
        if os.path.exists(result):
            with open(result) as f:
                pids.add(json.loads(f.readline())["pid"])
    return pids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    args = parser.parse_args(argv)

    import ray

    import raynas

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    storage = tempfile.mkdtemp(prefix="raynas-reuse-")
    walls: dict[bool, list[float]] = {True: [], False: []}
    trained: list[dict[tuple[str, int], float]] = []
    print(
        f"main job: {args.budget} candidates x {args.epochs} epochs, {args.cpus} CPUs, "
        f"{args.repeats} runs each way"
    )
    for i in range(args.repeats):
        for reuse in (True, False):
            t0 = time.time()
            res = raynas.search(
                **main_job_kwargs(args.budget, args.epochs, args.seed),
                storage_path=storage,
                name=f"reuse_{reuse}_{i}",
                verbose=0,
                reuse_actors=reuse,
            )
            wall = time.time() - t0
            walls[reuse].append(wall)
            pids = worker_pids(res.path)
            trained.append(
                {
                    (json.dumps(c.config, sort_keys=True), int(c.metrics["epoch"])): float(
                        c.metrics["val_acc"]
                    )
                    for c in res.feasible()
                }
            )
            print(
                f"  reuse_actors={reuse!s:5}  wall {wall:6.1f} s  {len(res)} candidates in "
                f"{len(pids)} worker processes, {len(res.feasible())} feasible"
            )
    ray.shutdown()

    on, off = statistics.median(walls[True]), statistics.median(walls[False])
    print(f"median wall: reuse {on:.1f} s, fresh process per candidate {off:.1f} s")
    print(f"ratio fresh / reuse: {off / on:.2f}x")
    diffs = [
        abs(a[key] - b[key])
        for j, a in enumerate(trained)
        for b in trained[j + 1 :]
        for key in a.keys() & b.keys()
    ]
    print(
        f"same config, same epoch across runs: {len(diffs)} pairs, largest val_acc difference "
        f"{max(diffs, default=float('nan')):.2g}"
    )


if __name__ == "__main__":
    main()
