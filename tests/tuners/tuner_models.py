"""Model functions and data shared by the tuner tests (importable by Ray workers)."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn


def build_model(hp: Any) -> nn.Module:
    """KerasTuner's intro model, small: one hidden layer, Adam's learning rate."""
    units = hp.Int("units", min_value=16, max_value=64, step=16)
    hp.Choice("learning_rate", values=[1e-2, 1e-3])
    return nn.Sequential(nn.Flatten(), nn.Linear(64, units), nn.ReLU(), nn.Linear(units, 10))


def digits(seed: int = 0) -> dict[str, Any]:
    """Digits split as in the benchmark: test 20%, validation 20% of the rest."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype("float32")
    x_rest, x_test, y_rest, y_test = train_test_split(x, d.target, test_size=0.2, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.2, random_state=seed
    )
    return {
        "train": (x_train, y_train),
        "val": (x_val, y_val),
        "test": (x_test, y_test),
    }


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    import torch

    with torch.no_grad():
        return float((model(torch.as_tensor(x)).argmax(-1).numpy() == y).mean())
