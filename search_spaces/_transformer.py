"""The Transformer encoder space for sequence classification (images as rows or patches)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._builtin import (
    BATCH_SIZE,
    LEARNING_RATE,
    WEIGHT_DECAY,
    BuiltinSpace,
    as_domain,
    check_input_shape,
    check_int,
    check_numbers,
    check_values,
    nearest,
)
from ._domains import Domain, Float
from ._structure import Repeat, Struct
from .errors import SpaceDefinitionError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: How the built network turns an input into tokens.
TOKENIZERS = {"image": ("rows", "patches"), "sequence": ("chunks",)}


def _finite(domain: Domain, name: str) -> list[int]:
    values = domain.finite_values()
    if values is None:
        raise SpaceDefinitionError(
            f"`{name}` must have finitely many values (a Choice or a small Int), but got {domain!r}."
        )
    return values


class TransformerSpace(BuiltinSpace):
    """Pre-norm Transformer encoders that classify a sequence of tokens.

    Config::

        {"embed_dim": 64, "num_heads": 4, "layers": [{"ffn_dim": 128}, {"ffn_dim": 256}],
         "dropout": 0.1, "pooling": "cls", "learning_rate": ..., "weight_decay": ...,
         "batch_size": ...}

    Inputs become tokens: an image ``(C, H, W)`` as its ``H`` rows (``tokens="rows"``, each row
    a token of ``C * W`` values: digits ``(1, 8, 8)`` give 8 tokens of 8) or as
    ``patch_size x patch_size`` patches (``tokens="patches"``); a sequence ``(L,)`` or
    ``(C, L)`` as chunks of ``patch_size`` steps. Tokens are embedded linearly, get a learned
    positional embedding, pass the encoder layers and are pooled by a CLS token or by their
    mean. Every head count must divide every embedding width; that is checked at
    construction. Module names are listed in ``raynas.search_spaces._torch_transformer``.

    Args:
        input_shape, num_classes: the data.
        embed_dim: candidate embedding widths (list or Domain).
        num_heads: candidate numbers of attention heads (list or Domain).
        ffn_dim: candidate feed-forward widths, chosen per layer (list or Domain).
        min_layers, max_layers: bounds of the number of encoder layers.
        dropout: a Domain or a value in ``[0, 1)``.
        pooling: ``"cls"``, ``"mean"``, a list of them or a Domain.
        tokens: ``"rows"`` or ``"patches"`` for images (default rows); ``"chunks"`` for
            sequences (the only choice, the default).
        patch_size: side of an image patch, or length of a sequence chunk.
        learning_rate, weight_decay, batch_size, optimizer, epochs: see :class:`NB201CellSpace`.

    Example:
        >>> space = TransformerSpace(input_shape=(1, 8, 8), num_classes=10)
        >>> net = space.build(space.default_config())
        >>> net(__import__("torch").zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    _size_neutral = ("dropout",)

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        num_classes: int,
        embed_dim: Domain | Sequence[int] = (32, 64, 128),
        num_heads: Domain | Sequence[int] = (1, 2, 4),
        ffn_dim: Domain | Sequence[int] = (64, 128, 256),
        min_layers: int = 1,
        max_layers: int = 4,
        dropout: Domain | float = Float(0.0, 0.3),  # noqa: B008 - immutable
        pooling: Domain | str | Sequence[str] = ("cls", "mean"),
        tokens: str | None = None,
        patch_size: int = 4,
        learning_rate: Domain | float = LEARNING_RATE,
        weight_decay: Domain | float = WEIGHT_DECAY,
        batch_size: Domain | int = BATCH_SIZE,
        optimizer: Domain | str | None = None,
        epochs: Domain | int | None = None,
    ) -> None:
        input_shape = check_input_shape(input_shape, self._input_dims)
        embed_d = as_domain(embed_dim, "embed_dim")
        check_numbers(embed_d, "embed_dim", low=1, integer=True)
        heads_d = as_domain(num_heads, "num_heads")
        check_numbers(heads_d, "num_heads", low=1, integer=True)
        widths, heads = _finite(embed_d, "embed_dim"), _finite(heads_d, "num_heads")
        for h in heads:
            for w in widths:
                if w % h:
                    raise SpaceDefinitionError(
                        f"`num_heads` = {h} does not divide `embed_dim` = {w}; every head count "
                        f"must divide every embedding width (num_heads: {heads}, embed_dim: "
                        f"{widths})."
                    )
        ffn_d = as_domain(ffn_dim, "ffn_dim")
        check_numbers(ffn_d, "ffn_dim", low=1, integer=True)
        self.min_layers = check_int(min_layers, "min_layers", low=1)
        self.max_layers = check_int(max_layers, "max_layers", low=1)
        if self.min_layers > self.max_layers:
            raise SpaceDefinitionError(
                f"`min_layers` must be less than or equal to `max_layers`, but got "
                f"min_layers={min_layers} > max_layers={max_layers}."
            )
        dropout_d = as_domain(dropout, "dropout")
        check_numbers(dropout_d, "dropout", low=0.0, high=0.99)
        pooling_d = as_domain(pooling, "pooling")
        check_values(pooling_d, "pooling", ["cls", "mean"])
        self.patch_size = check_int(patch_size, "patch_size", low=1)
        self.tokens = self._check_tokens(input_shape, tokens)
        super().__init__(
            {
                "embed_dim": embed_d,
                "num_heads": heads_d,
                "layers": Repeat(Struct({"ffn_dim": ffn_d}), self.min_layers, self.max_layers),
                "dropout": dropout_d,
                "pooling": pooling_d,
            },
            input_shape=input_shape,
            num_classes=num_classes,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            optimizer=optimizer,
            epochs=epochs,
        )
        self._ffn = ffn_d

    def _check_tokens(self, input_shape: tuple[int, ...], tokens: str | None) -> str:
        kind = "image" if len(input_shape) == 3 else "sequence"
        allowed = TOKENIZERS[kind]
        tokens = allowed[0] if tokens is None else tokens
        if tokens not in allowed:
            raise SpaceDefinitionError(
                f"`tokens` must be one of {list(allowed)} for the {kind} input_shape "
                f"{input_shape!r}, but got {tokens!r}."
            )
        p = self.patch_size
        if tokens == "patches" and (input_shape[1] % p or input_shape[2] % p):
            raise SpaceDefinitionError(
                f"`patch_size` = {p} must divide the image height and width of `input_shape` "
                f"{input_shape!r}."
            )
        if tokens == "chunks" and input_shape[-1] % p:
            raise SpaceDefinitionError(
                f"`patch_size` = {p} must divide the sequence length {input_shape[-1]} of "
                f"`input_shape` {input_shape!r}."
            )
        return tokens

    def num_tokens(self) -> int:
        """Tokens per input (without the CLS token)."""
        from math import prod

        if self.tokens == "rows":
            return self.input_shape[1]
        if self.tokens == "patches":
            return prod(d // self.patch_size for d in self.input_shape[1:])
        return self.input_shape[-1] // self.patch_size

    def default_arch(self) -> dict[str, Any]:
        embed, heads = self.fields["embed_dim"], self.fields["num_heads"]
        pooling, dropout = self.fields["pooling"], self.fields["dropout"]
        assert isinstance(embed, Domain) and isinstance(heads, Domain)
        assert isinstance(pooling, Domain) and isinstance(dropout, Domain)
        depth = min(max(2, self.min_layers), self.max_layers)
        return {
            "embed_dim": nearest(embed, 64),
            "num_heads": nearest(heads, 4),
            "layers": [{"ffn_dim": nearest(self._ffn, 128)} for _ in range(depth)],
            "dropout": nearest(dropout, 0.1),
            "pooling": "cls" if pooling.contains("cls") else "mean",
        }

    def _build(self, config: dict[str, Any]) -> torch.nn.Module:
        from ._torch_transformer import TransformerNetwork

        return TransformerNetwork(
            [layer["ffn_dim"] for layer in config["layers"]],
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            tokens=self.tokens,
            patch_size=self.patch_size,
            embed_dim=config["embed_dim"],
            num_heads=config["num_heads"],
            dropout=config["dropout"],
            pooling=config["pooling"],
        )
