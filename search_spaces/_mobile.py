"""The mobile inverted-bottleneck space (MobileNetV2/V3, FBNet, Once-for-All style)."""

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
    make_divisible,
    nearest,
)
from ._domains import Boolean, Domain
from ._structure import Repeat, Struct
from .errors import SpaceDefinitionError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: The activations the mobile network may use.
MOBILE_ACTIVATIONS = ("relu", "relu6", "hswish", "silu")


def _int_tuple(value: Any, name: str, low: int) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
        raise SpaceDefinitionError(
            f"`{name}` must be a non-empty tuple of ints, but got {value!r}."
        )
    return tuple(check_int(v, f"{name}[{i}]", low=low) for i, v in enumerate(value))


class MobileBlockSpace(BuiltinSpace):
    """Stages of inverted-bottleneck (MBConv) blocks, searched per block and per stage.

    Per block: ``kernel_size`` (depthwise, 3/5/7), ``expand_ratio`` (3/4/6) and ``se``
    (squeeze-excite on/off). Per stage: the number of blocks (``min_depth`` to ``max_depth``)
    and ``width_mult``, which scales the stage's base width (rounded to a multiple of
    ``channel_divisor``). Stage ``s`` has base width ``stage_channels[s]`` and its first block
    has stride ``strides[s]``. Config::

        {"stages": [{"width_mult": 1.0,
                     "blocks": [{"kernel_size": 3, "expand_ratio": 6, "se": False}, ...]},
                    ...],
         "activation": "relu6", "learning_rate": ..., "weight_decay": ..., "batch_size": ...}

    The defaults (stem stride 1, strides 1, 2, 2, 2) suit 8x8 digits and 32x32 images alike.
    Images ``(C, H, W)`` use 2-D layers, sequences ``(L,)`` / ``(C, L)`` 1-D layers. Module
    names are listed in ``raynas.search_spaces._torch_mobile``.

    Args:
        input_shape, num_classes: the data.
        stage_channels: base output width of each stage.
        strides: stride of the first block of each stage (same length as ``stage_channels``).
        min_depth, max_depth: bounds of the number of blocks per stage (at least 1).
        kernel_sizes, expand_ratios: the candidate values (lists or Domains, odd kernels).
        se: squeeze-excite: a bool (fixed) or a Domain (``Boolean()``, the default).
        width_mults: candidate width multipliers of each stage.
        stem_channels, stem_stride, head_channels: the fixed stem and head.
        activation: one of :data:`MOBILE_ACTIVATIONS`, a list of them or a Domain.
        channel_divisor: widths are rounded to multiples of this (MobileNet: 8).
        learning_rate, weight_decay, batch_size, optimizer, epochs: see :class:`NB201CellSpace`.

    Example:
        >>> space = MobileBlockSpace(input_shape=(1, 8, 8), num_classes=10)
        >>> net = space.build(space.default_config())
        >>> net(__import__("torch").zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        num_classes: int,
        stage_channels: Sequence[int] = (16, 24, 32, 64),
        strides: Sequence[int] = (1, 2, 2, 2),
        min_depth: int = 1,
        max_depth: int = 3,
        kernel_sizes: Domain | Sequence[int] = (3, 5, 7),
        expand_ratios: Domain | Sequence[int] = (3, 4, 6),
        se: Domain | bool = Boolean(),  # noqa: B008 - immutable
        width_mults: Domain | Sequence[float] = (0.5, 0.75, 1.0),
        stem_channels: int = 16,
        stem_stride: int = 1,
        head_channels: int = 256,
        activation: Domain | str | Sequence[str] = "relu6",
        channel_divisor: int = 8,
        learning_rate: Domain | float = LEARNING_RATE,
        weight_decay: Domain | float = WEIGHT_DECAY,
        batch_size: Domain | int = BATCH_SIZE,
        optimizer: Domain | str | None = None,
        epochs: Domain | int | None = None,
    ) -> None:
        self.stage_channels = _int_tuple(stage_channels, "stage_channels", 1)
        self.strides = _int_tuple(strides, "strides", 1)
        if len(self.strides) != len(self.stage_channels):
            raise SpaceDefinitionError(
                f"`strides` must have one entry per stage ({len(self.stage_channels)} stages in "
                f"`stage_channels`), but got {len(self.strides)}: {tuple(strides)!r}."
            )
        self.min_depth = check_int(min_depth, "min_depth", low=1)
        self.max_depth = check_int(max_depth, "max_depth", low=1)
        if self.min_depth > self.max_depth:
            raise SpaceDefinitionError(
                f"`min_depth` must be less than or equal to `max_depth`, but got "
                f"min_depth={min_depth} > max_depth={max_depth}."
            )
        self.stem_channels = check_int(stem_channels, "stem_channels", low=1)
        self.stem_stride = check_int(stem_stride, "stem_stride", low=1)
        self.head_channels = check_int(head_channels, "head_channels", low=1)
        self.channel_divisor = check_int(channel_divisor, "channel_divisor", low=1)

        kernel_d = as_domain(kernel_sizes, "kernel_sizes")
        check_numbers(kernel_d, "kernel_sizes", low=1, integer=True)
        for k in kernel_d.finite_values() or []:
            if k % 2 == 0:
                raise SpaceDefinitionError(
                    f"`kernel_sizes` must only hold odd kernel sizes (so that a smaller kernel "
                    f"is the centre of a larger one), but it holds {k} ({kernel_d!r})."
                )
        expand_d = as_domain(expand_ratios, "expand_ratios")
        check_numbers(expand_d, "expand_ratios", low=1, integer=True)
        se_d = as_domain(se, "se")
        check_values(se_d, "se", [False, True])
        width_d = as_domain(width_mults, "width_mults")
        check_numbers(width_d, "width_mults", low=1e-6)
        act_d = as_domain(activation, "activation")
        check_values(act_d, "activation", MOBILE_ACTIVATIONS)

        block = Struct({"kernel_size": kernel_d, "expand_ratio": expand_d, "se": se_d})
        stage = Struct(
            {"width_mult": width_d, "blocks": Repeat(block, self.min_depth, self.max_depth)}
        )
        n = len(self.stage_channels)
        super().__init__(
            {"stages": Repeat(stage, n, n), "activation": act_d},
            input_shape=input_shape,
            num_classes=num_classes,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            optimizer=optimizer,
            epochs=epochs,
        )
        self._domains = {"kernel_size": kernel_d, "expand_ratio": expand_d, "se": se_d}
        self._width = width_d

    def stage_widths(self, config: dict[str, Any]) -> list[int]:
        """The output width of each stage of ``config`` after the multiplier and rounding."""
        config = self.validate(config)
        return [
            make_divisible(base * stage["width_mult"], self.channel_divisor)
            for stage, base in zip(config["stages"], self.stage_channels, strict=True)
        ]

    def default_arch(self) -> dict[str, Any]:
        k, e, se = self._domains["kernel_size"], self._domains["expand_ratio"], self._domains["se"]
        block = {
            "kernel_size": nearest(k, 3),
            "expand_ratio": nearest(e, 6),
            "se": False if se.contains(False) else True,
        }
        depth = min(max(2, self.min_depth), self.max_depth)
        stage = {"width_mult": nearest(self._width, 1.0), "blocks": [dict(block)] * depth}
        return {"stages": [dict(stage) for _ in self.stage_channels]}

    def _build(self, config: dict[str, Any]) -> torch.nn.Module:
        from ._torch_mobile import MobileNetwork

        return MobileNetwork(
            config["stages"],
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            stage_channels=self.stage_channels,
            strides=self.strides,
            stem_channels=self.stem_channels,
            stem_stride=self.stem_stride,
            head_channels=self.head_channels,
            activation=config["activation"],
            divisor=self.channel_divisor,
        )
