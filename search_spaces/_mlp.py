"""The multilayer-perceptron space: depth, width per layer, activation, dropout, batch norm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._builtin import (
    BATCH_SIZE,
    LEARNING_RATE,
    WEIGHT_DECAY,
    BuiltinSpace,
    as_domain,
    check_int,
    check_numbers,
    check_values,
    nearest,
)
from ._domains import Boolean, Domain, Float, Int
from ._structure import Repeat, Struct
from .errors import SpaceDefinitionError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: The activations an MLP may use.
MLP_ACTIVATIONS = ("relu", "gelu", "tanh", "silu")


class MLPSpace(BuiltinSpace):
    """Fully connected networks on flattened inputs, with the training hyperparameters.

    Config::

        {"layers": [{"width": 128}, {"width": 64}],   # depth = len(layers)
         "activation": "relu", "dropout": 0.1, "batch_norm": False,
         "learning_rate": 1e-3, "weight_decay": 1e-4, "batch_size": 64}

    The built module (names are stable; Net2Net-style widening edits them)::

        flatten                    Flatten
        layers.<i>.linear          Linear(in, width_i)  (in = prod(input_shape) or width_{i-1})
        layers.<i>.bn              BatchNorm1d(width_i) when batch_norm, else Identity
        layers.<i>.act             the activation
        layers.<i>.dropout         Dropout(dropout)
        head                       Linear(width_last, num_classes)

    Args:
        input_shape: shape of one input without the batch dimension (flattened by the net).
        num_classes: number of logits.
        min_layers, max_layers: bounds of the number of hidden layers (0 gives a linear model).
        width: the width of each hidden layer: a Domain (``Int`` or ``Choice``) or a list.
        activation: a name from :data:`MLP_ACTIVATIONS`, a list of them or a Domain.
        dropout: a Domain or a value in ``[0, 1)``.
        batch_norm: a bool (fixed) or a Domain (searched: ``Boolean()``, the default).
        learning_rate, weight_decay, batch_size, optimizer, epochs: see :class:`NB201CellSpace`.

    Example:
        >>> space = MLPSpace(input_shape=(1, 8, 8), num_classes=10)
        >>> config = space.default_config()
        >>> [layer["width"] for layer in config["layers"]]
        [128, 128]
        >>> space.build(config)(__import__("torch").zeros(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """

    _size_neutral = ("dropout",)

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        num_classes: int,
        min_layers: int = 1,
        max_layers: int = 4,
        width: Domain | Sequence[int] = Int(16, 256, step=16),  # noqa: B008 - immutable
        activation: Domain | str | Sequence[str] = MLP_ACTIVATIONS,
        dropout: Domain | float = Float(0.0, 0.5),  # noqa: B008 - immutable
        batch_norm: Domain | bool = Boolean(),  # noqa: B008 - immutable
        learning_rate: Domain | float = LEARNING_RATE,
        weight_decay: Domain | float = WEIGHT_DECAY,
        batch_size: Domain | int = BATCH_SIZE,
        optimizer: Domain | str | None = None,
        epochs: Domain | int | None = None,
    ) -> None:
        self.min_layers = check_int(min_layers, "min_layers", low=0)
        self.max_layers = check_int(max_layers, "max_layers", low=0)
        if self.min_layers > self.max_layers:
            raise SpaceDefinitionError(
                f"`min_layers` must be less than or equal to `max_layers`, but got "
                f"min_layers={min_layers} > max_layers={max_layers}."
            )
        width_d = as_domain(width, "width")
        check_numbers(width_d, "width", low=1, integer=True)
        act_d = as_domain(activation, "activation")
        check_values(act_d, "activation", MLP_ACTIVATIONS)
        dropout_d = as_domain(dropout, "dropout")
        check_numbers(dropout_d, "dropout", low=0.0, high=0.99)
        bn_d = as_domain(batch_norm, "batch_norm")
        check_values(bn_d, "batch_norm", [False, True])
        super().__init__(
            {
                "layers": Repeat(Struct({"width": width_d}), self.min_layers, self.max_layers),
                "activation": act_d,
                "dropout": dropout_d,
                "batch_norm": bn_d,
            },
            input_shape=input_shape,
            num_classes=num_classes,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            optimizer=optimizer,
            epochs=epochs,
        )
        self._width = width_d

    def default_arch(self) -> dict[str, Any]:
        depth = min(max(2, self.min_layers), self.max_layers)
        width = nearest(self._width, 128)
        act = self.fields["activation"]
        dropout = self.fields["dropout"]
        bn = self.fields["batch_norm"]
        assert isinstance(act, Domain) and isinstance(dropout, Domain) and isinstance(bn, Domain)
        return {
            "layers": [{"width": width} for _ in range(depth)],
            "activation": "relu" if act.contains("relu") else act.default(),
            "dropout": nearest(dropout, 0.1),
            "batch_norm": False if bn.contains(False) else True,
        }

    def _build(self, config: dict[str, Any]) -> torch.nn.Module:
        from ._torch_mlp import MLPNetwork

        return MLPNetwork(
            [layer["width"] for layer in config["layers"]],
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            activation=config["activation"],
            dropout=config["dropout"],
            batch_norm=config["batch_norm"],
        )
