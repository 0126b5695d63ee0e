"""KerasTuner's tuner API on Ray Tune, for PyTorch models, with hardware objectives.

A port from KerasTuner changes the imports and the model (PyTorch layers instead of Keras
ones); the tuner calls stay::

    from raynas.tuners import Hyperband

    tuner = Hyperband(build_model, objective="val_accuracy", max_epochs=10, factor=3,
                      directory="my_dir", project_name="intro_to_kt")
    tuner.search(x_train, y_train, validation_data=(x_val, y_val))
    best_hps = tuner.get_best_hyperparameters(num_trials=1)[0]
    model = tuner.get_best_models(num_models=1)[0]     # a trained torch module

Each tuner is one :func:`raynas.search` call (trials on Ray: local Ray, or the cluster of
``RAY_ADDRESS``); ``tuner.results`` is its :class:`~raynas.results.NASResults` (Pareto front,
plot, export, evaluate, retrain). ``model.compile``'s settings come from hyperparameters named
``learning_rate``, ``optimizer`` (``adam``, ``adamw``, ``sgd``), ``weight_decay``,
``momentum``, ``lr_schedule`` and ``batch_size`` (absent ones: Adam, learning rate 1e-3, batch
size 32, as Keras); the loss is cross-entropy (classification) or mean squared error.

``import raynas.tuners`` is cheap; torch and Ray load when a tuner is built or searches.
"""

from __future__ import annotations

from raynas.tuners._base import Tuner
from raynas.tuners._objective import KERAS_METRICS, Objective
from raynas.tuners._tuners import BayesianOptimization, GridSearch, Hyperband, RandomSearch

__all__ = [
    "KERAS_METRICS",
    "BayesianOptimization",
    "GridSearch",
    "Hyperband",
    "Objective",
    "RandomSearch",
    "Tuner",
]
