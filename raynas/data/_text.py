"""Text classification data: a WordPiece vocabulary fitted on the training split, token ids.

:class:`TextTokenizer` wraps a Hugging Face ``tokenizers`` WordPiece tokenizer (BERT's
normalizer and pre-tokenizer, lower case) that pads and truncates to a fixed length and gives
attention masks. :class:`TextDataModule` splits labelled texts once by seed (by group, e.g. by
movie, when groups are given), fits the vocabulary on the training texts only and keeps every
split as int64 token ids ``(n, max_length)``; padding is id 0, so a network's attention mask is
``ids != 0``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from raynas.data._arrays import ArrayDataModule, _check_fraction
from raynas.data.errors import DataError

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID = 0
TOKENIZER_FILE = "tokenizer.json"
#: fitted vocabularies of this process: fit key (training texts + size) -> tokenizer JSON
_FITTED: dict[str, str] = {}


def _positive_int(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise DataError(f"`{name}` must be an int >= {low}, but got {value!r}.")
    return int(value)


class TextTokenizer:
    """A WordPiece vocabulary with padding and truncation to ``max_length`` tokens.

    No special tokens are added around a text (a network adds its own CLS position), so
    truncating to fewer tokens is the same as keeping the first ones: a model that reads only
    the first ``k`` ids sees what a tokenizer truncating at ``k`` gives.

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` whose id 0 is ``[PAD]``.
        max_length: every encoding is padded or truncated to this many ids.

    Example:
        >>> tok = TextTokenizer.fit(["a fine film", "a dull film"], vocab_size=50, max_length=6)
        >>> ids, mask = tok.encode(["a fine film"])
        >>> ids.shape, mask.tolist()
        ((1, 6), [[1, 1, 1, 0, 0, 0]])
    """

    def __init__(self, tokenizer: Any, *, max_length: int) -> None:
        self.max_length = _positive_int(max_length, "max_length")
        if tokenizer.token_to_id(PAD) != PAD_ID:
            raise DataError(f"the tokenizer's id {PAD_ID} must be {PAD!r}.")
        tokenizer.enable_padding(pad_id=PAD_ID, pad_token=PAD, length=self.max_length)
        tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer = tokenizer
        #: identifies the training texts and size of a fitted vocabulary (None when loaded)
        self.fit_key: str | None = None

    @classmethod
    def fit(
        cls, texts: Iterable[str], *, vocab_size: int = 4000, max_length: int = 64
    ) -> TextTokenizer:
        """Train a WordPiece vocabulary of at most ``vocab_size`` entries on ``texts``.

        The trainer breaks ties between equally frequent merges in a run-dependent order, so
        two fits on the same texts can differ in a few rare sub-words. A vocabulary is
        therefore fitted once per process for the same texts and size (and a tokenizer that
        comes back from a pickle, e.g. inside a resumed search's space, is taken as that fit):
        every datamodule built from the same data in one search numbers tokens alike.
        """
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        vocab_size = _positive_int(vocab_size, "vocab_size", low=3)
        texts = list(texts)
        digest = hashlib.sha256(f"wordpiece/{vocab_size}\n".encode())
        for t in texts:
            digest.update(t.encode("utf-8", "surrogatepass") + b"\0")
        key = digest.hexdigest()
        if key in _FITTED:
            out = cls.from_str(_FITTED[key], max_length=max_length)
            out.fit_key = key
            return out
        tok = Tokenizer(models.WordPiece(unk_token=UNK))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, special_tokens=[PAD, UNK], show_progress=False
        )
        tok.train_from_iterator(texts, trainer)
        # the trainer numbers its tokens in a run-dependent order: renumber them in sorted order
        # (the specials first) so that one vocabulary always gives the same ids
        learned = sorted(t for t in tok.get_vocab() if t not in (PAD, UNK))
        vocab = {t: i for i, t in enumerate([PAD, UNK, *learned])}
        tok.model = models.WordPiece(vocab, unk_token=UNK)
        out = cls(tok, max_length=max_length)
        out.fit_key = key
        _FITTED[key] = out.to_str()
        return out

    @classmethod
    def from_str(cls, text: str, *, max_length: int | None = None) -> TextTokenizer:
        """A tokenizer from its JSON (:meth:`to_str`); ``max_length`` overrides the saved one."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_str(text)
        saved = (tok.truncation or {}).get("max_length")
        length = max_length if max_length is not None else saved
        if length is None:
            raise DataError("the tokenizer JSON has no truncation length; pass `max_length`.")
        return cls(tok, max_length=length)

    @classmethod
    def from_file(cls, path: str, *, max_length: int | None = None) -> TextTokenizer:
        """Load a ``tokenizer.json`` written by :meth:`save`."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_str(fh.read(), max_length=max_length)

    def to_str(self) -> str:
        """The tokenizer as Hugging Face JSON (padding and truncation included)."""
        return str(self.tokenizer.to_str())

    def save(self, path: str) -> str:
        """Write the JSON to ``path`` (loadable by ``tokenizers.Tokenizer.from_file``)."""
        self.tokenizer.save(path)
        return path

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer.get_vocab_size())

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, attention_mask)``, both int64 of shape ``(len(texts), max_length)``."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(-1, self.max_length)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask.reshape(-1, self.max_length)

    def __getstate__(self) -> dict[str, Any]:
        return {"json": self.to_str(), "max_length": self.max_length, "fit_key": self.fit_key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            type(self).from_str(state["json"]).tokenizer, max_length=state["max_length"]
        )
        self.fit_key = state.get("fit_key")
        if self.fit_key is not None:
            _FITTED.setdefault(self.fit_key, state["json"])


def split_groups(
    groups: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Sample positions per split such that no group has samples in two splits.

    The distinct groups are shuffled by ``seed``; the first ``test_fraction`` of them go to the
    test split, the next ``val_fraction`` to validation, the rest to training.
    """
    names = np.unique(groups)  # sorted: the shuffle depends on the seed only
    order = np.random.default_rng(seed).permutation(len(names))
    n_test = int(round(len(names) * test_fraction))
    n_val = max(1, int(round(len(names) * val_fraction)))
    chosen = {
        "test": names[order[:n_test]],
        "val": names[order[n_test : n_test + n_val]],
        "train": names[order[n_test + n_val :]],
    }
    return {k: np.flatnonzero(np.isin(groups, v)) for k, v in chosen.items()}


class TextDataModule(ArrayDataModule):
    """Labelled texts as token ids, split once by seed, with a vocabulary of the training split.

    Args:
        texts: the raw texts.
        labels: integer class labels, one per text.
        groups: optional group of each text (e.g. its movie): a group's texts all land in one
            split. Without groups, texts are split one by one.
        val_fraction, test_fraction: shares of the groups (or texts) held out.
        vocab_size: the WordPiece vocabulary's maximum size (fitted on the training texts).
        max_length: token ids per text after padding / truncation.
        batch_size: default batch size (a candidate's config replaces it).
        num_classes: number of classes (inferred from ``labels`` when None).
        seed: seeds the split and the default shuffling.

    Attributes:
        tokenizer: the fitted :class:`TextTokenizer`.
        texts: the raw texts of each split (``"train"``, ``"val"``, ``"test"``).
        vocab_size: size of the fitted vocabulary (ids are ``0 .. vocab_size - 1``).
        space_kwargs: what a space over token ids needs from this data (``vocab_size``,
            ``tokenizer``); ``raynas.search`` passes them to a built-in space by name.

    Example:
        >>> texts = ["good", "bad", "fine", "awful"] * 5
        >>> dm = TextDataModule(texts, [1, 0, 1, 0] * 5, vocab_size=20, max_length=4)
        >>> dm.input_shape, dm.arrays("train")[0].dtype
        ((4,), torch.int64)
    """

    input_dtype = "int64"

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[int] | np.ndarray,
        *,
        groups: Sequence[Any] | np.ndarray | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        vocab_size: int = 4000,
        max_length: int = 64,
        batch_size: int = 64,
        num_classes: int | None = None,
        seed: int = 0,
    ) -> None:
        import pytorch_lightning as pl

        pl.LightningDataModule.__init__(self)
        self.task = "classification"
        texts_a = np.asarray(list(texts), dtype=object)
        y = np.asarray(labels)
        if len(y) != len(texts_a) or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"`labels` must be {len(texts_a)} integer class labels (one per text), but got "
                f"shape {y.shape} and dtype {y.dtype}."
            )
        if not all(isinstance(t, str) for t in texts_a):
            raise DataError("`texts` must be strings.")
        val_fraction = _check_fraction("val_fraction", val_fraction, low_open=True, allow_one=False)
        test_fraction = _check_fraction(
            "test_fraction", test_fraction, low_open=False, allow_one=False
        )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise DataError(f"`seed` must be an int, but got {seed!r}.")
        self.seed = int(seed)
        g = np.arange(len(texts_a)) if groups is None else np.asarray(groups, dtype=object)
        if len(g) != len(texts_a):
            raise DataError(
                f"`groups` must have one entry per text ({len(texts_a)}), got {len(g)}."
            )
        self.split_indices = split_groups(
            g.astype(str) if groups is not None else g,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=self.seed,
        )
        if len(self.split_indices["train"]) == 0:
            raise DataError(
                f"no training texts are left: `val_fraction`={val_fraction}, "
                f"`test_fraction`={test_fraction}."
            )
        self.texts = {k: [str(t) for t in texts_a[v]] for k, v in self.split_indices.items()}
        self.groups = {k: g[v] for k, v in self.split_indices.items()}
        self.tokenizer = TextTokenizer.fit(
            self.texts["train"], vocab_size=vocab_size, max_length=max_length
        )
        self.vocab_size = self.tokenizer.vocab_size
        self.max_length = self.tokenizer.max_length
        parts = {
            k: (self.tokenizer.encode(self.texts[k])[0], y[v])
            for k, v in self.split_indices.items()
        }
        self._set_parts(parts, num_classes=num_classes, batch_size=batch_size)

    @property
    def space_kwargs(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "tokenizer": self.tokenizer}

    def _to_tensors(self, x: np.ndarray, y: np.ndarray) -> Any:
        import torch

        return torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y, dtype=torch.long)

    def describe(self) -> dict[str, Any]:
        """The summary of :class:`ArrayDataModule` plus the vocabulary size and token length."""
        return {**super().describe(), "vocab_size": self.vocab_size, "max_length": self.max_length}
