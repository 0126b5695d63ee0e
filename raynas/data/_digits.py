"""scikit-learn's 8x8 digits as a LightningDataModule (shipped with scikit-learn, no download)."""

from __future__ import annotations

import numpy as np

from raynas.data._arrays import ArrayDataModule


class DigitsDataModule(ArrayDataModule):
    """The 1,797 8x8 handwritten digits of scikit-learn, as images of shape ``(1, 8, 8)``.

    Pixel values (0..16) are scaled to [0, 1]. With the default fractions the fixed split has
    1,437 training, 180 validation and 180 test images.

    Args:
        val_fraction: share of all images held out for validation.
        test_fraction: share of all images held out for testing.
        batch_size: default batch size (a candidate's config replaces it).
        flatten: give samples of shape ``(64,)`` instead of ``(1, 8, 8)``.
        seed: seeds the split.

    Example:
        >>> dm = DigitsDataModule()
        >>> dm.sizes, dm.input_shape, dm.num_classes
        ({'train': 1437, 'val': 180, 'test': 180}, (1, 8, 8), 10)
    """

    def __init__(
        self,
        *,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        batch_size: int = 64,
        flatten: bool = False,
        seed: int = 0,
    ) -> None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images / 16.0).astype(np.float32)
        x = x.reshape(len(x), 64) if flatten else x[:, None, :, :]
        super().__init__(
            x,
            digits.target.astype(np.int64),
            task="classification",
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            batch_size=batch_size,
            num_classes=10,
            seed=seed,
        )
