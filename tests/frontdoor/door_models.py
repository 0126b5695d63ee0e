"""A KerasTuner-style ``build_model(hp)`` shared by the front-door tests."""

from __future__ import annotations

from torch import nn


def build_model(hp):
    """KerasTuner's classic example in PyTorch (digits: 64 inputs, 10 classes)."""
    layers, width = [nn.Flatten()], 64
    for i in range(hp.Int("num_layers", 1, 2)):
        units = hp.Int(f"units_{i}", min_value=16, max_value=64, step=16)
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    hp.Choice("learning_rate", [1e-2, 3e-3])
    return nn.Sequential(*layers, nn.Linear(width, 10))
