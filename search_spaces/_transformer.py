"""The Transformer encoder space for sequence classification: token ids (text), images as rows
or patches, signals as chunks."""

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

#: How the built network turns an input into tokens (``"ids"``: token ids, given ``vocab_size``).
TOKENIZERS = {"image": ("rows", "patches"), "sequence": ("chunks",), "text": ("ids",)}


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

    Token ids (text): with ``vocab_size``, an input ``(L,)`` holds int64 token ids (0 is
    padding, so the attention mask is ``ids != pad_id``) embedded by ``nn.Embedding``. The
    config then also searches ``max_length`` (the network reads the first ``max_length`` ids:
    latency grows with it) and the heads per layer::

        {"embed_dim": 64, "max_length": 32, "layers": [{"num_heads": 2, "ffn_dim": 128}, ...],
         "dropout": 0.1, "pooling": "mean", ...}

    Args:
        input_shape, num_classes: the data.
        embed_dim: candidate embedding widths (list or Domain).
        num_heads: candidate numbers of attention heads (list or Domain).
        ffn_dim: candidate feed-forward widths, chosen per layer (list or Domain).
        min_layers, max_layers: bounds of the number of encoder layers.
        dropout: a Domain or a value in ``[0, 1)``.
        pooling: ``"cls"``, ``"mean"``, a list of them or a Domain.
        tokens: ``"rows"`` or ``"patches"`` for images (default rows); ``"chunks"`` for
            sequences (the only choice, the default); ``"ids"`` with ``vocab_size``.
        patch_size: side of an image patch, or length of a sequence chunk.
        vocab_size: number of token ids; makes ``(L,)`` inputs token ids (a text dataset
            passes it, with its ``tokenizer``, through ``raynas.search``).
        max_length: candidate numbers of ids read (list or Domain, each in ``1..L``); default
            ``L // 4``, ``L // 2`` and ``L``. Only with ``vocab_size``.
        pad_id: the padding id (masked out of attention and mean pooling).
        tokenizer: the data's tokenizer (an object with ``save(path)``), written next to each
            exported model; not part of the config.
        learning_rate, weight_decay, batch_size, optimizer, epochs: see :class:`NB201CellSpace`.

    Example:
        >>> space = TransformerSpace(input_shape=(1, 8, 8), num_classes=10)
        >>> net = space.build(space.default_config())
        >>> net(__import__("torch").zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
        >>> text = TransformerSpace(input_shape=(32,), num_classes=2, vocab_size=100)
        >>> text.build(text.default_config())(__import__("torch").ones(2, 32).long()).shape
        torch.Size([2, 2])
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
        vocab_size: int | None = None,
        max_length: Domain | Sequence[int] | None = None,
        pad_id: int = 0,
        tokenizer: Any = None,
    ) -> None:
        input_shape = check_input_shape(input_shape, self._input_dims)
        self.vocab_size = None if vocab_size is None else check_int(vocab_size, "vocab_size", low=2)
        self.pad_id = check_int(pad_id, "pad_id", low=0)
        self.tokenizer = tokenizer
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
        if self.tokens == "ids":
            length_d = self._check_text(input_shape, max_length)
            arch: dict[str, Any] = {
                "embed_dim": embed_d,
                "max_length": length_d,
                "layers": Repeat(
                    Struct({"num_heads": heads_d, "ffn_dim": ffn_d}),
                    self.min_layers,
                    self.max_layers,
                ),
            }
        else:
            if max_length is not None:
                raise SpaceDefinitionError(
                    "`max_length` is searched over token ids only; pass `vocab_size` too."
                )
            arch = {
                "embed_dim": embed_d,
                "num_heads": heads_d,
                "layers": Repeat(Struct({"ffn_dim": ffn_d}), self.min_layers, self.max_layers),
            }
        super().__init__(
            {**arch, "dropout": dropout_d, "pooling": pooling_d},
            input_shape=input_shape,
            num_classes=num_classes,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            optimizer=optimizer,
            epochs=epochs,
        )
        self._ffn, self._heads = ffn_d, heads_d

    @property
    def input_dtype(self) -> str:
        """dtype of the built network's input: ``"int64"`` for token ids, else ``"float32"``."""
        return "int64" if self.tokens == "ids" else "float32"

    def _check_text(self, input_shape: tuple[int, ...], max_length: Any) -> Domain:
        if len(input_shape) != 1:
            raise SpaceDefinitionError(
                f"token ids (`vocab_size` = {self.vocab_size}) need an `input_shape` (L,), but "
                f"got {input_shape!r}."
            )
        (length,) = input_shape
        if max_length is None:
            max_length = sorted({max(1, length // 4), max(1, length // 2), length})
        length_d = as_domain(max_length, "max_length")
        check_numbers(length_d, "max_length", low=1, high=length, integer=True)
        return length_d

    def _check_tokens(self, input_shape: tuple[int, ...], tokens: str | None) -> str:
        if self.vocab_size is not None:
            if tokens not in (None, "ids"):
                raise SpaceDefinitionError(
                    f"`tokens` must be 'ids' (or None) with `vocab_size`, but got {tokens!r}."
                )
            return "ids"
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

        if self.tokens == "ids":
            return self.input_shape[0]
        if self.tokens == "rows":
            return self.input_shape[1]
        if self.tokens == "patches":
            return prod(d // self.patch_size for d in self.input_shape[1:])
        return self.input_shape[-1] // self.patch_size

    def default_arch(self) -> dict[str, Any]:
        embed, heads = self.fields["embed_dim"], self._heads
        pooling, dropout = self.fields["pooling"], self.fields["dropout"]
        assert isinstance(embed, Domain) and isinstance(heads, Domain)
        assert isinstance(pooling, Domain) and isinstance(dropout, Domain)
        depth = min(max(2, self.min_layers), self.max_layers)
        if self.tokens == "ids":
            length = self.fields["max_length"]
            assert isinstance(length, Domain)
            return {
                "embed_dim": nearest(embed, 64),
                "max_length": nearest(length, self.input_shape[0]),
                "layers": [
                    {"num_heads": nearest(heads, 4), "ffn_dim": nearest(self._ffn, 128)}
                    for _ in range(depth)
                ],
                "dropout": nearest(dropout, 0.1),
                "pooling": "mean" if pooling.contains("mean") else "cls",
            }
        return {
            "embed_dim": nearest(embed, 64),
            "num_heads": nearest(heads, 4),
            "layers": [{"ffn_dim": nearest(self._ffn, 128)} for _ in range(depth)],
            "dropout": nearest(dropout, 0.1),
            "pooling": "cls" if pooling.contains("cls") else "mean",
        }

    def _build(self, config: dict[str, Any]) -> torch.nn.Module:
        from ._torch_transformer import TextTransformerNetwork, TransformerNetwork

        if self.tokens == "ids":
            assert self.vocab_size is not None
            return TextTransformerNetwork(
                [layer["num_heads"] for layer in config["layers"]],
                [layer["ffn_dim"] for layer in config["layers"]],
                vocab_size=self.vocab_size,
                max_length=config["max_length"],
                num_classes=self.num_classes,
                embed_dim=config["embed_dim"],
                dropout=config["dropout"],
                pooling=config["pooling"],
                pad_id=self.pad_id,
            )
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
