"""In-memory train / val / test splits for one-shot search (digits, MNIST-1D, or your arrays).

A one-shot search needs two training-time splits: the supernet's weights learn on ``train``
and the architecture parameters (or the weight-sharing scores) on ``val``; ``test`` is held out
for the final from-scratch training of the derived config. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .errors import OneShotError

DATASETS = ("digits", "mnist1d")
PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class Splits:
    """Inputs and labels of the three parts, as float32 / int64 tensors.

    Attributes:
        parts: ``{"train": (x, y), "val": (x, y), "test": (x, y)}``.
        input_shape: shape of one input without the batch dimension.
        num_classes: number of classes.

    Example:
        >>> splits = load_splits("digits", seed=0)
        >>> splits.input_shape, splits.num_classes, splits.sizes
        ((1, 8, 8), 10, {'train': 719, 'val': 719, 'test': 359})
    """

    parts: dict[str, tuple[torch.Tensor, torch.Tensor]]
    input_shape: tuple[int, ...]
    num_classes: int

    @property
    def sizes(self) -> dict[str, int]:
        return {k: int(v[0].shape[0]) for k, v in self.parts.items()}

    def loader(
        self, part: str, *, batch_size: int, shuffle: bool = False, seed: int = 0
    ) -> DataLoader:
        """A loader over ``part``; shuffling uses its own generator seeded by ``seed``."""
        if part not in PARTS:
            raise OneShotError(f"`part` must be one of {list(PARTS)}, but got {part!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise OneShotError(f"`batch_size` must be an int >= 1, but got {batch_size!r}.")
        gen = torch.Generator().manual_seed(int(seed)) if shuffle else None
        return DataLoader(
            TensorDataset(*self.parts[part]), batch_size=batch_size, shuffle=shuffle, generator=gen
        )

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        val_fraction: float = 0.5,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> Splits:
        """Split arrays by ``seed``: ``test_fraction`` of all (unless ``x_test`` is given), then
        ``val_fraction`` of the rest for ``val`` (DARTS uses half of the training data)."""
        if not 0.0 < val_fraction < 1.0:
            raise OneShotError(f"`val_fraction` must be in (0, 1), but got {val_fraction!r}.")
        if x_test is None and not 0.0 < test_fraction < 1.0:
            raise OneShotError(f"`test_fraction` must be in (0, 1), but got {test_fraction!r}.")
        x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(x))
        if x_test is None or y_test is None:
            n_test = int(round(len(x) * test_fraction))
            test_idx, order = order[:n_test], order[n_test:]
            x_test, y_test = x[test_idx], y[test_idx]
        n_val = int(round(len(order) * val_fraction))
        val_idx, train_idx = order[:n_val], order[n_val:]
        if len(train_idx) == 0 or n_val == 0:
            raise OneShotError(
                f"`val_fraction`={val_fraction} leaves an empty split of {len(order)} samples."
            )

        def t(a: np.ndarray, b: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.as_tensor(np.asarray(a, np.float32)), torch.as_tensor(
                np.asarray(b, np.int64)
            )

        return cls(
            parts={
                "train": t(x[train_idx], y[train_idx]),
                "val": t(x[val_idx], y[val_idx]),
                "test": t(x_test, y_test),
            },
            input_shape=tuple(int(d) for d in x.shape[1:]),
            num_classes=int(max(y.max(), np.asarray(y_test).max()) + 1),
        )


def load_splits(dataset: str, *, seed: int = 0, val_fraction: float = 0.5) -> Splits:
    """The splits of a built-in dataset.

    - ``"digits"``: scikit-learn's 1,797 8x8 digits as ``(1, 8, 8)`` images scaled to [0, 1];
      20% test, the rest halved into train / val.
    - ``"mnist1d"``: MNIST-1D (``mnist1d`` defaults, 4,000 + 1,000 test signals of length 40)
      as ``(1, 40)``; the 4,000 halved into train / val. Numpy's global RNG, which
      ``mnist1d`` seeds, is restored afterwards.
    """
    if dataset == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.data / 16.0).reshape(-1, 1, 8, 8)
        return Splits.from_arrays(x, d.target, val_fraction=val_fraction, seed=seed)
    if dataset == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        state = np.random.get_state()
        try:
            data = make_dataset(args)
        finally:
            np.random.set_state(state)
        return Splits.from_arrays(
            data["x"][:, None, :],
            data["y"],
            x_test=data["x_test"][:, None, :],
            y_test=data["y_test"],
            val_fraction=val_fraction,
            seed=seed,
        )
    raise OneShotError(f"`dataset` must be one of {list(DATASETS)}, but got {dataset!r}.")


def as_splits(data: Any, *, seed: int = 0) -> Splits:
    """``data`` itself if it is a :class:`Splits`, else :func:`load_splits` of its name."""
    if isinstance(data, Splits):
        return data
    if isinstance(data, str):
        return load_splits(data, seed=seed)
    raise OneShotError(
        f"`data` must be a Splits or one of {list(DATASETS)}, but got {type(data).__name__}."
    )
