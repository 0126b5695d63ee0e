"""What the built-in spaces share: input shape, class count and the training hyperparameters.

Every built-in space is a :class:`SearchSpace` whose config holds the architecture decisions
followed by the training hyperparameters ``learning_rate``, ``weight_decay`` and ``batch_size``
(plus ``optimizer`` and ``epochs`` when asked for), so that NAS and HPO run jointly. Each of them
is given either as a :class:`Domain` (searched) or as a plain value (fixed, kept in the config as
a :class:`Fixed`). Nothing here imports torch; ``build`` does, when called.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._domains import Choice, Domain, Fixed, Float, _same
from ._structure import Node, SearchSpace, When
from .errors import SpaceDefinitionError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Default searched domains of the training hyperparameters (domains are immutable, so shared).
LEARNING_RATE = Float(1e-4, 1e-1, log=True)
WEIGHT_DECAY = Float(1e-6, 1e-2, log=True)
BATCH_SIZE = Choice([32, 64, 128, 256])

TRAINING_KEYS = ("learning_rate", "weight_decay", "batch_size", "optimizer", "epochs")
OPTIMIZERS = ("adam", "adamw", "sgd")

# Preferred defaults of the training hyperparameters, used when the domain holds them.
_TRAINING_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "weight_decay": 1e-4,
    "batch_size": 64,
    "optimizer": "adam",
}


def as_domain(value: Any, name: str) -> Domain:
    """``value`` itself if it is a Domain, a :class:`Choice` for a list/tuple, else a Fixed."""
    if isinstance(value, Domain):
        return value
    if isinstance(value, (list, tuple)):
        if not value:
            raise SpaceDefinitionError(f"`{name}` must not be an empty list of choices.")
        return Choice(list(value))
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return Fixed(value)
    raise SpaceDefinitionError(
        f"`{name}` must be a Domain (Choice, Int, Float, ...), a list of choices or a plain "
        f"value, but got {value!r}."
    )


def check_values(domain: Domain, name: str, allowed: Sequence[Any]) -> list[Any]:
    """The values of a finite ``domain``, each checked to be one of ``allowed``."""
    values = domain.finite_values()
    if values is None:
        raise SpaceDefinitionError(
            f"`{name}` must have finitely many values (a Choice or a small Int), but got {domain!r}."
        )
    for v in values:
        if not any(_same(v, a) for a in allowed):
            raise SpaceDefinitionError(
                f"`{name}` has the value {v!r}, which is not allowed; allowed: {list(allowed)}."
            )
    return list(values)


def check_numbers(
    domain: Domain, name: str, *, low: float, high: float | None = None, integer: bool = False
) -> list[Any] | None:
    """Check that every value of ``domain`` is a number (an int if ``integer``) in ``[low, high]``.

    Infinite domains are checked by their bounds; ``integer`` requires an Int, Choice or Fixed.
    """
    kind = "integers" if integer else "numbers"
    bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
    if integer and isinstance(domain, Float):
        raise SpaceDefinitionError(
            f"`{name}` must only hold {kind} {bounds}, so it cannot be {domain!r}; use an Int or "
            f"a Choice of ints."
        )
    values = domain.finite_values()
    if values is None:
        lo, hi = getattr(domain, "low", None), getattr(domain, "high", None)
        if lo is None or hi is None:
            raise SpaceDefinitionError(f"`{name}` must be a numeric domain, but got {domain!r}.")
        values_to_check: list[Any] = [lo, hi]
    else:
        values_to_check = values
    for v in values_to_check:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if ok and integer:
            ok = isinstance(v, int)
        if not ok or v < low or (high is not None and v > high):
            raise SpaceDefinitionError(
                f"`{name}` must only hold {kind} {bounds}, but it holds {v!r} ({domain!r})."
            )
    return values


def check_input_shape(input_shape: Any, dims: Sequence[int]) -> tuple[int, ...]:
    """A tuple of positive ints whose length is one of ``dims``."""
    if not isinstance(input_shape, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in input_shape
    ):
        raise SpaceDefinitionError(
            f"`input_shape` must be a tuple of positive ints, but got {input_shape!r}."
        )
    if len(input_shape) not in dims:
        raise SpaceDefinitionError(
            f"`input_shape` must have {' or '.join(map(str, dims))} dimensions (without the batch "
            f"dimension), but got {tuple(input_shape)!r}."
        )
    return tuple(int(d) for d in input_shape)


def check_int(value: Any, name: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise SpaceDefinitionError(f"`{name}` must be an int >= {low}, but got {value!r}.")
    return int(value)


def training_fields(
    *,
    learning_rate: Any,
    weight_decay: Any,
    batch_size: Any,
    optimizer: Any = None,
    epochs: Any = None,
) -> dict[str, Domain]:
    """The training part of a built-in space, checked; ``optimizer``/``epochs`` only if given."""
    fields = {
        "learning_rate": as_domain(learning_rate, "learning_rate"),
        "weight_decay": as_domain(weight_decay, "weight_decay"),
        "batch_size": as_domain(batch_size, "batch_size"),
    }
    lr = fields["learning_rate"]
    lr_values = check_numbers(lr, "learning_rate", low=0.0)
    if 0 in (lr_values if lr_values is not None else [getattr(lr, "low", 1.0)]):
        raise SpaceDefinitionError(
            f"`learning_rate` must be greater than 0, but it can be 0 ({lr!r})."
        )
    check_numbers(fields["weight_decay"], "weight_decay", low=0.0)
    check_numbers(fields["batch_size"], "batch_size", low=1, integer=True)
    if optimizer is not None:
        fields["optimizer"] = as_domain(optimizer, "optimizer")
        check_values(fields["optimizer"], "optimizer", OPTIMIZERS)
    if epochs is not None:
        fields["epochs"] = as_domain(epochs, "epochs")
        check_numbers(fields["epochs"], "epochs", low=1, integer=True)
    return fields


@contextlib.contextmanager
def _torch_seed(seed: int | None) -> Iterator[None]:
    """Seed torch's initialisation inside the block without touching the caller's RNG state."""
    if seed is None:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class BuiltinSpace(SearchSpace):
    """Base of the built-in spaces: a :class:`SearchSpace` that builds a ``torch.nn.Module``.

    Subclasses pass their architecture fields; the training fields are appended after them.

    Attributes:
        input_shape: shape of one input, without the batch dimension.
        num_classes: number of logits the built module returns.
    """

    _input_dims: tuple[int, ...] = (1, 2, 3)
    #: Ordered architecture fields that do not set the model's size (e.g. dropout): they keep
    #: their default in :meth:`extremes`.
    _size_neutral: tuple[str, ...] = ()

    def __init__(
        self,
        arch_fields: Mapping[str, Node | When],
        *,
        input_shape: Sequence[int],
        num_classes: int,
        learning_rate: Any,
        weight_decay: Any,
        batch_size: Any,
        optimizer: Any = None,
        epochs: Any = None,
    ) -> None:
        self.input_shape = check_input_shape(input_shape, self._input_dims)
        self.num_classes = check_int(num_classes, "num_classes", low=1)
        fields: dict[str, Node | When] = dict(arch_fields)
        fields.update(
            training_fields(
                learning_rate=learning_rate,
                weight_decay=weight_decay,
                batch_size=batch_size,
                optimizer=optimizer,
                epochs=epochs,
            )
        )
        super().__init__(fields)

    # -- config helpers ------------------------------------------------------------------------
    @property
    def training_keys(self) -> list[str]:
        """The training hyperparameters present in this space's configs."""
        return [k for k in TRAINING_KEYS if k in self.fields]

    def training_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The training hyperparameters of ``config`` (after validation)."""
        config = self.validate(config)
        return {k: config[k] for k in self.training_keys}

    def default_training(self) -> dict[str, Any]:
        """Sensible training values: lr 1e-3, weight decay 1e-4, batch 64, Adam, where allowed."""
        out: dict[str, Any] = {}
        for k in self.training_keys:
            dom = self.fields[k]
            assert isinstance(dom, Domain)  # set by training_fields
            preferred = _TRAINING_DEFAULTS.get(k)
            if preferred is not None and dom.contains(preferred):
                out[k] = dom.normalize(preferred, k)
            else:
                out[k] = dom.default()
        return out

    def default_config(self) -> dict[str, Any]:
        """The architecture default of the subclass plus :meth:`default_training`."""
        config = super().default_config()
        config.update(self.default_arch())
        config.update(self.default_training())
        return self.validate(config)

    def default_arch(self) -> dict[str, Any]:
        """Architecture values that override the generic middle-of-the-range default."""
        return {}

    def extremes(self) -> list[dict[str, Any]]:
        """The smallest and largest architectures (see ``SearchSpace.extremes``), trained with
        :meth:`default_training`: the anchors are about size, not about the learning rate."""
        default = self.default_config()
        neutral = {k: default[k] for k in self._size_neutral if k in default}
        return self._two_ends(
            [
                self.validate({**config, **neutral, **self.default_training()})
                for config in super().extremes()
            ]
        )

    # -- building ------------------------------------------------------------------------------
    def build(self, config: Mapping[str, Any], *, seed: int | None = None) -> torch.nn.Module:
        """Build the network of ``config``: input ``(batch, *input_shape)``, output logits.

        Args:
            config: a config of this space (validated first).
            seed: seeds the weight initialisation (torch's global RNG state is left as it was).
        """
        config = self.validate(config)
        with _torch_seed(seed):
            return self._build(config)

    def _build(self, config: dict[str, Any]) -> torch.nn.Module:
        """Build the module of a validated config (each built-in space implements it)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement `_build`.")


def nearest(domain: Domain, target: Any) -> Any:
    """The value of ``domain`` closest to ``target`` (``target`` itself when allowed)."""
    if domain.contains(target):
        return domain.normalize(target, "")
    values = domain.finite_values()
    if values is None:
        low, high = getattr(domain, "low", None), getattr(domain, "high", None)
        if isinstance(target, (int, float)) and low is not None and high is not None:
            clamped = min(max(target, low), high)
            if domain.contains(clamped):
                return domain.normalize(clamped, "")
        return domain.default()
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers or not isinstance(target, (int, float)):
        return domain.default()
    return min(numbers, key=lambda v: (abs(v - target), v))


def make_divisible(value: float, divisor: int) -> int:
    """MobileNet's channel rounding: nearest multiple of ``divisor``, never below 90 %."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new
