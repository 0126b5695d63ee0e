"""ArchitecturePBT with weight inheritance vs the same without it: best validation accuracy.

Task: MLPSpace on sklearn's digits (or MNIST-1D with ``--data mnist1d``, harder for MLPs, so
training time is scarcer and inheriting it matters more). One population of candidates
(architecture + training hyperparameters) is sampled from the space per seed; every method
starts from that same population and trains every trial until its checkpoint lineage reaches
``max_epochs`` epochs (an exploiting trial continues at its donor's epoch count). The epochs
actually trained (one per report) are counted and printed: exploits make them differ between
methods and runs.

- ``ArchitecturePBT + inheritance``: explore mutates the architecture (and the training values);
  the trainable inherits the donor's weights into the mutated network (copy / Net2Net widen /
  slice; new layers fresh; ``noise=0.01`` breaks the symmetry of replicated units).
- ``ArchitecturePBT, no inheritance``: the same scheduler, but a mutated network starts from
  scratch (its weights are re-initialised) - the ablation.
- ``PBT (hyperparameters only)``: Ray's PBT via ``joint_pbt``; architectures stay fixed.

Figures: the best final validation accuracy of the population, and the mean final accuracy,
averaged over seeds. Real ``tune.Tuner`` runs on a local Ray with 2 CPUs.

Run: ``python benchmarks/schedulers_arch_pbt.py`` (a few minutes on 2 shared cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["PYTHONPATH"] = os.pathsep.join([HERE, *filter(None, [os.environ.get("PYTHONPATH")])])
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")

from _sched_digits import mlp_space, pbt_trainable  # noqa: E402


def run(method: str, population: list[dict[str, Any]], args: argparse.Namespace, seed: int) -> dict:
    from ray import tune

    from raynas.schedulers import ArchitecturePBT, joint_pbt

    space = mlp_space(args.data)
    common = {"metric": "val_acc", "mode": "max", "perturbation_interval": args.interval,
              "quantile_fraction": 0.25}  # fmt: skip
    if method == "PBT (hyperparameters only)":
        sched = joint_pbt(space, **common)
    else:
        sched = ArchitecturePBT(space=space, seed=seed, **common)
    inherit = method == "ArchitecturePBT + inheritance"
    param_space = {
        "cand": tune.grid_search(list(range(len(population)))),
        **{k: tune.sample_from(lambda c, k=k: population[c["cand"]][k]) for k in population[0]},
        "max_epochs": args.max_epochs,
        "inherit": inherit,
        "seed": seed,
        "data": args.data,
    }

    class Count(tune.Callback):
        """Every report is one trained epoch: the compute actually spent."""

        reports = 0

        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            Count.reports += 1

    Count.reports = 0
    t0 = time.perf_counter()
    tuner = tune.Tuner(
        pbt_trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(scheduler=sched, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=args.storage, verbose=0, callbacks=[Count()]),
    )
    results = tuner.fit()
    if results.errors:
        raise RuntimeError(f"{method}: {results.errors}")
    final = [r.metrics["val_acc"] for r in results]
    history = getattr(sched, "history", [])
    return {
        "best": float(max(final)),
        "mean": float(np.mean(final)),
        "epochs": int(sum(r.metrics["epoch"] for r in results)),
        "trained_epochs": int(Count.reports),
        "arch_mutations": int(sum(h["architecture_changed"] for h in history)),
        "exploits": int(sched._num_perturbations),
        "wall_s": time.perf_counter() - t0,
    }


def _sd(a: np.ndarray) -> float:
    return float(a.std(ddof=1)) if len(a) > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--population", type=int, default=6)
    ap.add_argument("--max-epochs", type=int, default=12)
    ap.add_argument("--interval", type=int, default=2, help="perturbation interval (epochs)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data", default="digits", choices=["digits", "mnist1d"])
    ap.add_argument("--storage", default="/tmp/raynas_bench_pbt")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import ray

    ray.init(
        address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
        configure_logging=False,
    )  # fmt: skip
    methods = ["ArchitecturePBT + inheritance", "ArchitecturePBT, no inheritance",
               "PBT (hyperparameters only)"]  # fmt: skip
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    t0 = time.perf_counter()
    try:
        for seed in range(args.seeds):
            space = mlp_space(args.data)
            rng = np.random.default_rng(seed)
            population = [space.sample(rng) for _ in range(args.population)]
            for m in methods:
                out = run(m, population, args, seed)
                rows[m].append(out)
                print(
                    f"seed {seed} {m:<32} best {out['best']:.4f} mean {out['mean']:.4f} "
                    f"final epochs {out['epochs']} trained epochs {out['trained_epochs']} "
                    f"exploits {out['exploits']} "
                    f"arch mutations {out['arch_mutations']} ({out['wall_s']:.0f}s)",
                    flush=True,
                )
    finally:
        ray.shutdown()
    print()
    print(
        f"{args.data}: population {args.population}, {args.max_epochs} epochs per trial, "
        "perturbation every "
        f"{args.interval} epochs, {args.seeds} seeds (same initial population per seed)"
    )
    print(f"{'method':<34} {'best final val_acc':>20} {'mean final val_acc':>20} "
          f"{'trained epochs':>15}")  # fmt: skip
    summary = {}
    for m, outs in rows.items():
        best, mean = np.array([o["best"] for o in outs]), np.array([o["mean"] for o in outs])
        summary[m] = {"best_mean": float(best.mean()), "best_std": _sd(best),
                      "mean_mean": float(mean.mean()), "mean_std": _sd(mean),
                      "runs": outs}  # fmt: skip
        trained = float(np.mean([o["trained_epochs"] for o in outs]))
        summary[m]["trained_epochs_mean"] = trained
        print(
            f"{m:<34} {best.mean():.4f} +- {_sd(best):.4f}   {mean.mean():.4f} +- {_sd(mean):.4f}"
            f"   {trained:>12.1f}"
        )
    print(f"total wall time {time.perf_counter() - t0:.0f}s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
