"""ListOps (Nangia & Bowman 2018; the Long Range Arena's text task), generated in-process.

An expression nests the operators ``MAX``, ``MIN``, ``MED`` (median, rounded down) and ``SM``
(sum modulo 10) over the digits 0-9, e.g. ``[MAX 2 9 [MIN 4 7 ] 0 ]`` (= 9); its value is the
label (10 classes). Depth is the difficulty knob: a deeper tree needs more steps of reasoning
over longer token sequences.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raynas.data._text import TextDataModule, _positive_int
from raynas.data.errors import DataError

OPERATORS = ("MAX", "MIN", "MED", "SM")


def _value(op: str, args: list[int]) -> int:
    if op == "MAX":
        return max(args)
    if op == "MIN":
        return min(args)
    if op == "MED":
        return int(np.median(args))  # median of the digits, rounded down as LRA does
    return sum(args) % 10


def _expression(rng: np.random.Generator, depth: int, max_depth: int, max_args: int) -> Any:
    """``(tokens, value)`` of a random expression whose root is at ``depth``."""
    op = OPERATORS[int(rng.integers(len(OPERATORS)))]
    tokens, values = ["[" + op], []
    for _ in range(int(rng.integers(2, max_args + 1))):
        if depth < max_depth and rng.random() < 0.3:
            sub, v = _expression(rng, depth + 1, max_depth, max_args)
            tokens += sub
        else:
            v = int(rng.integers(10))
            tokens.append(str(v))
        values.append(v)
    return [*tokens, "]"], _value(op, values)


def _depth(tokens: list[str]) -> int:
    level = deepest = 0
    for t in tokens:
        level += t.startswith("[")
        level -= t == "]"
        deepest = max(deepest, level)
    return deepest


def generate_listops(
    num_samples: int, *, max_depth: int, max_args: int, max_length: int, seed: int
) -> tuple[list[str], np.ndarray]:
    """``num_samples`` distinct expressions whose deepest operator is at ``max_depth``.

    An expression fits ``max_length`` word pieces (``[MAX`` is two: ``[`` and ``max``), so no
    token a label depends on is truncated away. Each text appears once in all: the splits
    cannot share an expression.
    """
    rng = np.random.default_rng(seed)
    seen: dict[str, int] = {}
    tries = 0
    while len(seen) < num_samples:
        tries += 1
        if tries > 50 * num_samples:
            raise DataError(
                f"only {len(seen)} distinct expressions of depth {max_depth} fit in "
                f"`max_length`={max_length} word pieces; raise `max_length` or lower "
                f"`num_samples`/`max_depth`."
            )
        tokens, value = _expression(rng, 1, max_depth, max_args)
        pieces = len(tokens) + sum(t.startswith("[") for t in tokens)
        if pieces > max_length or _depth(tokens) != max_depth:
            continue
        seen.setdefault(" ".join(tokens), value)
    return list(seen), np.fromiter(seen.values(), dtype=np.int64, count=len(seen))


class ListOpsDataModule(TextDataModule):
    """Generated ListOps expressions as token ids; the label is the expression's value (0-9).

    Args:
        num_samples: distinct expressions in all (split 80 / 10 / 10 by default).
        max_depth: nesting depth of every expression (the difficulty knob; 1 is a flat list).
        max_args: most arguments of one operator (at least 2).
        max_length: token ids per expression; longer expressions are not generated.
        val_fraction, test_fraction: shares held out.
        vocab_size: maximum WordPiece vocabulary size (the symbols need about 20).
        batch_size: default batch size.
        seed: seeds the generation and the split.

    Example:
        >>> dm = ListOpsDataModule(num_samples=200, max_depth=2, seed=0)
        >>> dm.input_shape, dm.num_classes, dm.sizes
        ((64,), 10, {'test': 20, 'val': 20, 'train': 160})
    """

    def __init__(
        self,
        *,
        num_samples: int = 4000,
        max_depth: int = 3,
        max_args: int = 4,
        max_length: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        vocab_size: int = 64,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        num_samples = _positive_int(num_samples, "num_samples", low=10)
        self.max_depth = _positive_int(max_depth, "max_depth")
        self.max_args = _positive_int(max_args, "max_args", low=2)
        max_length = _positive_int(max_length, "max_length", low=4)
        texts, labels = generate_listops(
            num_samples,
            max_depth=self.max_depth,
            max_args=self.max_args,
            max_length=max_length,
            seed=seed,
        )
        super().__init__(
            texts,
            labels,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            vocab_size=vocab_size,
            max_length=max_length,
            batch_size=batch_size,
            num_classes=10,
            seed=seed,
        )
