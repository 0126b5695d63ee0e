"""The main job against plain Ray Tune random search: same space, data, budget and epochs.

raynas: the main job's own search (``examples/hardware_aware_digits.py``): NSGA-II + multi-objective
ASHA + measured CPU latency. Baseline: ``tune.Tuner`` over ``space.to_tune()`` (Tune's random
sampling, FIFO, no early stopping), training candidates with the same NASTrainable and, as raynas
does, reusing worker processes (``reuse_actors=True``). For each run the candidate with the
best validation accuracy is evaluated on the held-out test split of digits; the script prints
both test accuracies, the wall times and their ratio.

Run:  python benchmarks/frontdoor_vs_tune_random.py [--budget 20] [--epochs 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

# the main job's own search (examples/ is not a package)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from hardware_aware_digits import main_job_kwargs  # noqa: E402


def test_accuracy(space, config, checkpoint_dir) -> float:
    import torch

    from raynas._export import load_trained_model
    from raynas.data import get_datamodule

    model = load_trained_model(space, config, checkpoint_dir)
    dm = get_datamodule("digits")
    dm.setup("test")
    correct = total = 0
    with torch.no_grad():
        for x, y in dm.test_dataloader():
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    return correct / total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import numpy as np
    import ray
    from ray import tune

    import raynas
    from raynas.evaluation import NASTrainable

    main_job = main_job_kwargs(args.budget, args.epochs, args.seed)
    space = main_job["space"]
    storage = tempfile.mkdtemp(prefix="raynas-bench-")
    ray.init(include_dashboard=False, log_to_driver=False, resources={"hw:cpu": 1.0})

    t0 = time.time()
    res = raynas.search(**main_job, storage_path=storage, name="raynas", verbose=0)
    t_raynas = time.time() - t0
    best = res.best("val_acc")
    acc_raynas = test_accuracy(space, best.config, best.checkpoint_path)

    np.random.seed(args.seed)
    t0 = time.time()
    grid = tune.Tuner(
        NASTrainable(space, "digits", max_epochs=args.epochs, seed=args.seed),
        param_space=space.to_tune(),
        tune_config=tune.TuneConfig(
            metric="val_acc", mode="max", num_samples=args.budget, reuse_actors=True
        ),
        run_config=tune.RunConfig(storage_path=storage, name="tune_random", verbose=0),
    ).fit()
    t_tune = time.time() - t0
    top = grid.get_best_result()
    config = space.validate({k: v for k, v in top.config.items() if k in space.fields})
    acc_tune = test_accuracy(space, config, top.checkpoint.path)
    ray.shutdown()

    print(
        f"budget {args.budget} candidates x {args.epochs} epochs, seed {args.seed}, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"raynas (nsga2 + moasha + latency): best val_acc {best.value('val_acc'):.4f}, "
        f"test acc {acc_raynas:.4f}, latency {best.value('latency_p50_ms'):.4f} ms, "
        f"wall {t_raynas:.0f} s, front {len(res.pareto_front())}"
    )
    print(
        f"tune random search (FIFO):         best val_acc {top.metrics['val_acc']:.4f}, "
        f"test acc {acc_tune:.4f}, wall {t_tune:.0f} s"
    )
    print(
        f"test accuracy ratio raynas / tune random: {acc_raynas / acc_tune:.4f}; "
        f"wall time ratio: {t_raynas / t_tune:.2f}"
    )


if __name__ == "__main__":
    main()
