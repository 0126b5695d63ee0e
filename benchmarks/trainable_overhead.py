"""Per-trial overhead of raynas' NASTrainable against a bare ``tune.report`` loop, same run.

Tune runs with the same number of trials and reports per trial (one report per epoch), with
Tune's default loggers on:

1. ``bare``: a function trainable that only calls ``tune.report`` once per "epoch";
2. ``bare+ckpt``: the same, also handing Tune a 64 kB checkpoint folder with every report;
3. ``raynas``: ``NASTrainable`` training an MLP on digits (Lightning, per-epoch report and
   checkpoint).

Each kind runs ``--repeats`` times, interleaved (bare, bare+ckpt, raynas, bare, ...), and the
fastest run of each kind counts (the machine may be shared). It prints the wall time per trial
of each kind and the ratio raynas / bare; the time to the first result (worker start-up: new
processes importing torch and Lightning, once per actor with ``reuse_actors``); the time spent
inside the trials (Tune's ``time_total_s``) split into training (``train_time_s``) and the
rest; and the MLP's epochs per second on digits, inside the trials and in-process without Tune
(with and without checkpoints). The MLP is the built-in ``MLPSpace`` default config when it is
available, else a local one-hidden-layer MLP (the script says which).

Run:  python benchmarks/trainable_overhead.py [--trials 8] [--epochs 5] [--cpus 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


def _mlp_space():
    try:
        from raynas.search_spaces import MLPSpace

        return MLPSpace(input_shape=(1, 8, 8), num_classes=10), "MLPSpace"
    except (ImportError, AttributeError):
        pass
    from torch import nn

    from raynas.search_spaces import Choice, Float, Int, SearchSpace

    class LocalMLP(SearchSpace):
        input_shape, num_classes = (1, 8, 8), 10

        def build(self, config):
            c = self.validate(config)
            return nn.Sequential(
                nn.Flatten(), nn.Linear(64, c["width"]), nn.ReLU(), nn.Linear(c["width"], 10)
            )

    space = LocalMLP(
        {
            "width": Int(16, 256, step=16),
            "learning_rate": Float(1e-4, 1e-1, log=True),
            "batch_size": Choice([32, 64, 128]),
        }
    )
    return space, "local one-hidden-layer MLP (MLPSpace not merged yet)"


def _bare(config):
    from ray import tune

    for epoch in range(1, config["epochs"] + 1):
        tune.report({"epoch": epoch, "val_acc": 0.0})


def _bare_ckpt(config):
    from ray import tune

    for epoch in range(1, config["epochs"] + 1):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.bin"), "wb") as f:
                f.write(b"\0" * 64_000)
            tune.report(
                {"epoch": epoch, "val_acc": 0.0}, checkpoint=tune.Checkpoint.from_directory(d)
            )


def _fit(trainable, param_space, trials, storage, name):
    """One Tune run: (wall s, s until the first result, the last result of each trial)."""
    from ray import tune

    last: dict[str, dict] = {}
    first: list[float] = []

    class Keep(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            last[trial.trial_id] = dict(result)
            if not first:
                first.append(time.perf_counter())

    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=trials, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0, callbacks=[Keep()]),
    )
    t0 = time.perf_counter()
    results = tuner.fit()
    wall = time.perf_counter() - t0
    if results.errors:
        raise RuntimeError(f"{name}: {results.errors}")
    return wall, first[0] - t0, list(last.values())


def _in_process(space, config, dm, epochs):
    """Seconds for ``epochs`` epochs without Tune, without and with per-epoch checkpoints."""
    from raynas.evaluation import EvaluationSettings, InMemoryReporter, run_candidate

    out = {}
    for every in (0, 1):
        run_candidate(  # warm-up
            config,
            space=space,
            datamodule=dm,
            reporter=InMemoryReporter(),
            settings=EvaluationSettings(max_epochs=1),
            num_threads=1,
        )
        reporter = InMemoryReporter()
        t0 = time.perf_counter()
        run_candidate(
            config,
            space=space,
            datamodule=dm,
            reporter=reporter,
            settings=EvaluationSettings(max_epochs=epochs, checkpoint_every=every),
            num_threads=1,
        )
        out[every] = (time.perf_counter() - t0, reporter.reports[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs given to the local Ray")
    parser.add_argument("--repeats", type=int, default=2, help="runs per kind; the best counts")
    args = parser.parse_args()
    n, e = args.trials, args.epochs

    import ray
    import torch

    from raynas import NASTrainable
    from raynas.data import DigitsDataModule

    space, space_name = _mlp_space()
    config = space.default_config()
    dm = DigitsDataModule()
    inproc = _in_process(space, config, dm, e)

    ray.init(
        num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False
    )
    runs: dict[str, list] = {}
    try:
        with tempfile.TemporaryDirectory() as storage:
            kinds = (
                ("bare", _bare, {"epochs": e}),
                ("bare+ckpt", _bare_ckpt, {"epochs": e}),
                ("raynas", NASTrainable(space, dm, max_epochs=e, cpus=1), config),
            )
            for rep in range(args.repeats):
                for name, trainable, param_space in kinds:
                    run = _fit(trainable, param_space, n, storage, f"{name}-{rep}")
                    runs.setdefault(name, []).append(run)
    finally:
        ray.shutdown()

    best = {name: min(rs, key=lambda r: r[0]) for name, rs in runs.items()}
    print(
        f"torch {torch.__version__}, ray {ray.__version__}, {os.cpu_count()} cores visible, "
        f"Ray CPUs {args.cpus}, {n} trials x {e} epochs (reports), 1 CPU per trial, "
        f"reuse_actors=True, Tune's default loggers on, best of {args.repeats} runs per kind"
    )
    print(f"network: {space_name}, default config {config}")
    print()
    print(
        f"{'run':<10} {'wall s':>8} {'wall s/trial':>13} {'first result s':>15} "
        f"{'then s/trial':>13} {'in-trial s/trial':>17}   all walls"
    )
    for name, (wall, first, results) in best.items():
        in_trial = statistics.mean(r["time_total_s"] for r in results)
        walls = ", ".join(f"{r[0]:.1f}" for r in runs[name])
        print(
            f"{name:<10} {wall:>8.2f} {wall / n:>13.3f} {first:>15.2f} {(wall - first) / n:>13.3f} "
            f"{in_trial:>17.3f}   {walls}"
        )
    print()
    w = {name: b[0] for name, b in best.items()}
    print(
        f"wall time per trial, raynas / bare: {w['raynas'] / w['bare']:.2f}x "
        f"(raynas / bare+ckpt: {w['raynas'] / w['bare+ckpt']:.2f}x); "
        f"extra wall per trial over bare: {(w['raynas'] - w['bare']) / n:.2f} s"
    )
    r = best["raynas"][2]
    train = statistics.mean(x["train_time_s"] for x in r)
    total = statistics.mean(x["time_total_s"] for x in r)
    print(
        f"raynas inside a trial: {total:.3f} s, of which training+validation {train:.3f} s and "
        f"the rest (config check, build, FLOPs, Trainer set-up, reports, checkpoints) "
        f"{total - train:.3f} s"
    )
    print(
        f"MLP on digits, epochs/s: {e * len(r) / sum(x['train_time_s'] for x in r):.1f} inside "
        f"trials (train_time_s); in-process without Tune, whole call incl. build and set-up: "
        f"{e / inproc[0][0]:.1f} without checkpoints, {e / inproc[1][0]:.1f} with one per epoch"
    )
    print(f"final val_acc after {e} epochs (in-process run): {inproc[1][1]['val_acc']:.3f}")


if __name__ == "__main__":
    main()
