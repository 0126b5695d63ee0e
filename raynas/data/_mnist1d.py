"""MNIST-1D generated offline with the ``mnist1d`` package, as a LightningDataModule."""

from __future__ import annotations

import numpy as np

from raynas.data._arrays import ArrayDataModule
from raynas.data.errors import DataError


class MNIST1DDataModule(ArrayDataModule):
    """MNIST-1D: 10 classes of 1-d signals with 40 features, generated in-process.

    The data comes from ``mnist1d.data.make_dataset`` with ``get_dataset_args()`` defaults
    (5,000 samples: 4,000 for training and the library's own 1,000 as the test set); nothing is
    downloaded. A ``val_fraction`` of the 4,000 is held out for validation (800 by default).
    Samples have shape ``(1, 40)`` (one channel, for 1-d convolutions) or ``(40,)`` with
    ``flatten=True``. Convolutional and MLP networks differ strongly on this dataset.

    ``make_dataset`` seeds numpy's global random state; this class restores that state
    afterwards so it does not leak into the caller.

    Args:
        val_fraction: share of the 4,000 training samples held out for validation.
        batch_size: default batch size (a candidate's config replaces it).
        flatten: give samples of shape ``(40,)`` instead of ``(1, 40)``.
        num_samples: samples to generate in all (train + test), default 5,000.
        seed: seeds the generation (``mnist1d``'s ``seed`` argument) and the split.

    Example:
        >>> dm = MNIST1DDataModule()
        >>> dm.sizes, dm.input_shape, dm.num_classes
        ({'train': 3200, 'val': 800, 'test': 1000}, (1, 40), 10)
    """

    def __init__(
        self,
        *,
        val_fraction: float = 0.2,
        batch_size: int = 64,
        flatten: bool = False,
        num_samples: int = 5000,
        seed: int = 42,
    ) -> None:
        from mnist1d.data import get_dataset_args, make_dataset

        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 20:
            raise DataError(f"`num_samples` must be an int >= 20, but got {num_samples!r}.")
        args = get_dataset_args()
        args.num_samples = num_samples
        args.seed = seed
        state = np.random.get_state()
        try:
            data = make_dataset(args)
        finally:
            np.random.set_state(state)
        x, x_test = data["x"].astype(np.float32), data["x_test"].astype(np.float32)
        if not flatten:
            x, x_test = x[:, None, :], x_test[:, None, :]
        super().__init__(
            x,
            data["y"].astype(np.int64),
            x_test=x_test,
            y_test=data["y_test"].astype(np.int64),
            task="classification",
            val_fraction=val_fraction,
            batch_size=batch_size,
            num_classes=10,
            seed=seed,
        )
