"""KerasTuner's Hyperband against raynas's, with the same model function, in one run.

KerasTuner (Keras 3 on the torch backend) and :class:`raynas.tuners.Hyperband` search
KerasTuner's introductory model (one hidden layer of 32..512 units, Adam with a learning rate
of 1e-2, 1e-3 or 1e-4; batch size 32) on scikit-learn's digits: test 20%, validation 20% of the
rest, ``max_epochs=10``, ``factor=3``, one seed after another. Per seed it prints the wall time
of the search and the test accuracy of the best after KerasTuner's protocol: the best
hyperparameters retrained on training + validation for ``max_epochs``
(raynas: ``NASResults.retrain(best, epochs=max_epochs, on="train+val")``).

raynas's figures are taken with Ray already started (its start is printed apart); each raynas
trial has 1 CPU, so two train at a time on a 2-core machine, while KerasTuner trains one model
after another with the torch threads it has.

Needs the ``bench`` extra (``pip install -e .[bench]``: keras, keras-tuner, six).

Run: ``OMP_NUM_THREADS=1 python benchmarks/kerastuner_side_by_side.py --seeds 0 1 2``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")


def split(seed: int) -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype("float32")
    x_rest, x_test, y_rest, y_test = train_test_split(x, d.target, test_size=0.2, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.2, random_state=seed
    )
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


# -- the model function, in its two forms ------------------------------------------------------
def keras_model(hp: Any) -> Any:
    import keras

    model = keras.Sequential()
    model.add(keras.Input(shape=(8, 8)))
    model.add(keras.layers.Flatten())
    units = hp.Int("units", min_value=32, max_value=512, step=32)
    model.add(keras.layers.Dense(units=units, activation="relu"))
    model.add(keras.layers.Dense(10))
    learning_rate = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def torch_model(hp: Any) -> Any:
    from torch import nn

    units = hp.Int("units", min_value=32, max_value=512, step=32)
    hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])  # Adam's, read by the trainer
    return nn.Sequential(nn.Flatten(), nn.Linear(64, units), nn.ReLU(), nn.Linear(units, 10))


# -- the two searches ----------------------------------------------------------------------------
def run_kerastuner(data: dict[str, Any], seed: int, args: argparse.Namespace, root: str) -> dict:
    import keras
    import keras_tuner as kt
    import numpy as np

    keras.utils.set_random_seed(seed)
    tuner = kt.Hyperband(
        keras_model,
        objective="val_accuracy",
        max_epochs=args.max_epochs,
        factor=args.factor,
        seed=seed,
        directory=root,
        project_name=f"kt_{seed}",
        overwrite=True,
    )
    t0 = time.perf_counter()
    tuner.search(*data["train"], validation_data=data["val"], verbose=0)
    search_s = time.perf_counter() - t0
    best = tuner.get_best_hyperparameters(1)[0]
    model = tuner.hypermodel.build(best)
    x = np.concatenate([data["train"][0], data["val"][0]])
    y = np.concatenate([data["train"][1], data["val"][1]])
    model.fit(x, y, epochs=args.max_epochs, verbose=0)
    _, test_acc = model.evaluate(*data["test"], verbose=0)
    return {
        "search_s": search_s,
        "test_acc": float(test_acc),
        "best": {k: v for k, v in best.values.items() if not k.startswith("tuner/")},
        "trials": len(tuner.oracle.trials),
    }


def run_raynas(data: dict[str, Any], seed: int, args: argparse.Namespace, root: str) -> dict:
    from raynas.tuners import Hyperband

    tuner = Hyperband(
        torch_model,
        objective="val_accuracy",
        max_epochs=args.max_epochs,
        factor=args.factor,
        seed=seed,
        directory=root,
        project_name=f"raynas_{seed}",
        overwrite=True,
        verbose=0,
    )
    t0 = time.perf_counter()
    tuner.search(*data["train"], validation_data=data["val"], test_data=data["test"])
    search_s = time.perf_counter() - t0
    best = tuner.oracle.get_best_trials(1)[0]
    final = tuner.results.retrain(best.candidate, epochs=args.max_epochs, on="train+val")
    values = {k: v for k, v in best.hyperparameters.values.items() if k != "batch_size"}
    return {
        "search_s": search_s,
        "test_acc": float(final.metrics["test_acc"]),
        "best": values,
        "trials": len(tuner.results),
    }


def main(argv: list[str] | None = None) -> dict[str, list[dict]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-epochs", type=int, default=10)
    p.add_argument("--factor", type=int, default=3)
    p.add_argument("--only", choices=["both", "kerastuner", "raynas"], default="both")
    args = p.parse_args(argv)

    runs: dict[str, list[dict]] = {"kerastuner": [], "raynas": []}
    root = tempfile.mkdtemp(prefix="kt_side_by_side_")
    if args.only != "kerastuner":
        from raynas.frontdoor.run import ensure_ray

        t0 = time.perf_counter()
        ensure_ray(verbose=0)
        print(f"Ray started in {time.perf_counter() - t0:.1f} s (not counted below)", flush=True)
    for seed in args.seeds:
        data = split(seed)
        for name, run in (("kerastuner", run_kerastuner), ("raynas", run_raynas)):
            if args.only not in ("both", name):
                continue
            r = run(data, seed, args, root)
            runs[name].append(r)
            print(
                f"seed {seed}  {name:<10}  search {r['search_s']:6.1f} s  {r['trials']:2d} trials"
                f"  test acc {r['test_acc']:.4f}  best {r['best']}",
                flush=True,
            )
    print()
    print("tuner       search wall time (s)      test accuracy (best, retrained on train+val)")
    for name, rs in runs.items():
        if not rs:
            continue
        times = [r["search_s"] for r in rs]
        accs = [r["test_acc"] for r in rs]
        print(
            f"{name:<10}  mean {statistics.mean(times):6.1f} [{min(times):.1f}-{max(times):.1f}]"
            f"      mean {statistics.mean(accs):.4f} [{min(accs):.4f}-{max(accs):.4f}]"
        )
    if runs["kerastuner"] and runs["raynas"]:
        kt_t = statistics.mean(r["search_s"] for r in runs["kerastuner"])
        rn_t = statistics.mean(r["search_s"] for r in runs["raynas"])
        kt_a = statistics.mean(r["test_acc"] for r in runs["kerastuner"])
        rn_a = statistics.mean(r["test_acc"] for r in runs["raynas"])
        print(
            f"raynas / KerasTuner wall time: {rn_t / kt_t:.2f} (target <= 0.33); test accuracy "
            f"{rn_a:.4f} vs {kt_a:.4f} (target >=)"
        )
    return runs


if __name__ == "__main__":
    main()
