"""KerasTuner's introductory example ("Introduction to the Keras Tuner"), ported to raynas.

The tuner calls are KerasTuner's; what changes is where PyTorch differs from Keras: the
imports, the layers, and ``model.compile``, whose settings become hyperparameters named
``learning_rate`` / ``optimizer`` that raynas's trainer reads. The data is scikit-learn's
digits (8x8 images, no download) instead of Fashion-MNIST. The diff against the Keras version::

    -import keras_tuner as kt
    -from tensorflow import keras
    +from raynas import tuners as kt
    +from torch import nn

     def model_builder(hp):
    -    model = keras.Sequential()
    -    model.add(keras.layers.Flatten(input_shape=(28, 28)))
         hp_units = hp.Int("units", min_value=32, max_value=512, step=32)
    -    model.add(keras.layers.Dense(units=hp_units, activation="relu"))
    -    model.add(keras.layers.Dense(10))
         hp_learning_rate = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    -    model.compile(optimizer=keras.optimizers.Adam(learning_rate=hp_learning_rate),
    -                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    -                  metrics=["accuracy"])
    -    return model
    +    # compile: Adam and cross-entropy on logits are the defaults; `learning_rate` feeds Adam
    +    return nn.Sequential(nn.Flatten(), nn.Linear(64, hp_units), nn.ReLU(),
    +                         nn.Linear(hp_units, 10))

     tuner = kt.Hyperband(model_builder, objective="val_accuracy", max_epochs=10, factor=3,
                          directory="my_dir", project_name="intro_to_kt")
    -stop_early = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    -tuner.search(img_train, label_train, epochs=50, validation_split=0.2, callbacks=[stop_early])
    +tuner.search(img_train, label_train, validation_split=0.2, test_data=(img_test, label_test))
     best_hps = tuner.get_best_hyperparameters(num_trials=1)[0]
    -model = tuner.hypermodel.build(best_hps)
    -history = model.fit(img_train, label_train, epochs=50, validation_split=0.2)
    -...
    -eval_result = hypermodel.evaluate(img_test, label_test)
    +final = tuner.results.retrain(epochs=10, on="train+val")   # the best, on train + validation
    +final.metrics["test_acc"]

Hyperband's successive halving does what the early-stopping callback did; the trials run on
Ray (local Ray, or the cluster of ``RAY_ADDRESS``). ``--tuner`` runs the same model function
through ``random``, ``grid``, ``bayesian`` or ``hyperband``; ``--latency`` adds the measured CPU
latency as a second objective (a Pareto front instead of KerasTuner's sum).

Run: ``python examples/kerastuner_port.py --tuner hyperband --directory my_dir``
"""

from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from raynas import tuners as kt


def model_builder(hp: Any) -> nn.Module:
    """KerasTuner's intro model in PyTorch: one hidden layer of ``units``, Adam's learning rate."""
    hp_units = hp.Int("units", min_value=32, max_value=512, step=32)
    hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])  # read by the trainer (Adam)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hp_units), nn.ReLU(), nn.Linear(hp_units, 10))


def load_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Digits as float32 images in [0, 1]: 80% to search on, 20% to test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")
    return tuple(train_test_split(x, digits.target, test_size=0.2, random_state=seed))  # type: ignore[return-value]


def make_tuner(args: argparse.Namespace) -> kt.Tuner:
    common: dict[str, Any] = {
        "objective": ["val_accuracy", "latency_p50_ms"] if args.latency else "val_accuracy",
        "directory": args.directory,
        "project_name": f"intro_to_kt_{args.tuner}",
        "seed": args.seed,
        "overwrite": args.overwrite,
        "verbose": 0 if args.quiet else 1,
    }
    if args.tuner == "hyperband":
        return kt.Hyperband(model_builder, max_epochs=args.max_epochs, factor=args.factor, **common)
    cls = {"random": kt.RandomSearch, "grid": kt.GridSearch, "bayesian": kt.BayesianOptimization}
    return cls[args.tuner](model_builder, max_trials=args.max_trials, **common)


def main(argv: list[str] | None = None) -> kt.Tuner:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--tuner", choices=["random", "grid", "bayesian", "hyperband"], default="hyperband"
    )
    p.add_argument("--max-epochs", type=int, default=10, help="Hyperband's max_epochs")
    p.add_argument("--factor", type=int, default=3, help="Hyperband's factor")
    p.add_argument("--max-trials", type=int, default=10, help="the other tuners' max_trials")
    p.add_argument("--epochs", type=int, default=10, help="the other tuners' epochs")
    p.add_argument("--directory", default="my_dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency", action="store_true", help="add CPU latency as an objective")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    img_train, img_test, label_train, label_test = load_data(args.seed)
    tuner = make_tuner(args)
    tuner.search_space_summary()
    tuner.search(
        img_train,
        label_train,
        epochs=args.epochs,
        validation_split=0.2,
        test_data=(img_test, label_test),
    )
    tuner.results_summary(num_trials=3)
    best_hps = tuner.get_best_hyperparameters(num_trials=1)[0]
    print(
        f"The optimal number of units is {best_hps.get('units')} and the optimal learning rate "
        f"for Adam is {best_hps.get('learning_rate')}."
    )
    epochs = args.max_epochs if args.tuner == "hyperband" else args.epochs
    final = tuner.results.retrain(tuner.oracle.get_best_trials(1)[0].candidate, epochs=epochs)
    print(f"[test accuracy, retrained on train + validation]: {final.metrics['test_acc']:.4f}")
    return tuner


if __name__ == "__main__":
    main()
