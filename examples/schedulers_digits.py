"""Schedulers on digits: multi-objective early stopping, and PBT that changes the architecture.

1. ``MultiObjectiveASHA`` searches the MLP space for accurate *and* small networks: trials
   dominated at a rung (less accurate and larger than others) stop early; the scheduler reports
   the Pareto set and its hypervolume.
2. ``ArchitecturePBT`` trains a population; every 2 epochs the worst quarter continues from a
   top trial's checkpoint with a mutated architecture (wider/narrower/deeper...) and mutated
   training values, inheriting the donor's weights (``NASTrainable`` does the transfer).

Run:  python examples/schedulers_digits.py [--samples 12] [--population 4] [--epochs 9]
"""

from __future__ import annotations

import argparse

import ray
from ray import tune

from raynas.evaluation import NASTrainable
from raynas.schedulers import ArchitecturePBT, MultiObjectiveASHA
from raynas.search_spaces import MLPSpace


def multi_objective(space: MLPSpace, samples: int, epochs: int) -> None:
    sched = MultiObjectiveASHA(
        objectives=["val_acc", "params:min"],
        max_t=epochs,
        grace_period=1,
        reduction_factor=3,
        reference_point={"val_acc": 0.0, "params": 100_000},
    )
    tuner = tune.Tuner(
        NASTrainable(space, "digits", max_epochs=epochs, cpus=1),
        param_space=space.to_tune(),
        tune_config=tune.TuneConfig(scheduler=sched, num_samples=samples, reuse_actors=True),
        run_config=tune.RunConfig(verbose=0),
    )
    results = tuner.fit()
    stopped = sum(r.metrics.get("epoch", 0) < epochs for r in results)
    print(f"\nMultiObjectiveASHA: {len(results)} candidates, {stopped} stopped early")
    print(
        f"Pareto set of the fully trained ones (hypervolume {sched.hypervolume(min_time=epochs):.1f}):"
    )
    for e in sched.pareto_set(min_time=epochs):
        widths = [layer["width"] for layer in e.config["layers"]]
        print(f"  val_acc {e.metrics['val_acc']:.3f}  params {e.metrics['params']:>7.0f}  "
              f"layers {widths}")  # fmt: skip


def architecture_pbt(space: MLPSpace, population: int, epochs: int) -> None:
    pbt = ArchitecturePBT(space=space, metric="val_acc", mode="max", perturbation_interval=2,
                          quantile_fraction=0.25, seed=0)  # fmt: skip
    tuner = tune.Tuner(
        NASTrainable(space, "digits", max_epochs=epochs, cpus=1),
        param_space=space.to_tune(),
        tune_config=tune.TuneConfig(scheduler=pbt, num_samples=population, reuse_actors=True),
        run_config=tune.RunConfig(verbose=0),
    )
    results = tuner.fit()
    print(f"\n{pbt.debug_string()}")
    for h in pbt.history:
        if h["architecture_changed"]:
            print(f"  {h['trial_id']} <- {h['donor_id']}: {h['changes']}")
    best = results.get_best_result(metric="val_acc", mode="max")
    widths = [layer["width"] for layer in best.config["layers"]]
    print(f"best final val_acc {best.metrics['val_acc']:.3f} with layers {widths}, "
          f"lr {best.config['learning_rate']:.2g}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=12)
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=9)
    args = ap.parse_args()
    space = MLPSpace(input_shape=(1, 8, 8), num_classes=10, max_layers=3, width=[16, 32, 64, 128])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        multi_objective(space, args.samples, args.epochs)
        architecture_pbt(space, args.population, args.epochs)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
