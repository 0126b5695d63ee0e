"""The lazy name table of built-in datasets: ``get_datamodule("digits")``."""

from __future__ import annotations

import importlib
from typing import Any

from raynas.data.errors import DataError

#: Built-in dataset names and the class each one builds (imported on first use).
DATAMODULES: dict[str, str] = {
    "digits": "raynas.data._digits:DigitsDataModule",
    "mnist1d": "raynas.data._mnist1d:MNIST1DDataModule",
    "reviews": "raynas.data._reviews:ReviewsDataModule",
    "listops": "raynas.data._listops:ListOpsDataModule",
}


def get_datamodule(data: Any, **kwargs: Any) -> Any:
    """Turn a dataset name, a pair of arrays or a LightningDataModule into a LightningDataModule.

    Args:
        data: a name from :data:`DATAMODULES` (``"digits"``, ``"mnist1d"``), a tuple
            ``(x, y)`` of numpy arrays (wrapped in an :class:`ArrayDataModule`), or a user's own
            ``LightningDataModule`` (returned as is; one of the ``lightning`` package,
            ``import lightning as L``, is wrapped so that raynas's ``pytorch_lightning``
            Trainer runs it).
        **kwargs: passed to the dataset class (``seed``, ``val_fraction``, ``batch_size``...).

    Raises:
        DataError: for an unknown name, or keyword arguments given with a ready DataModule.

    Example:
        >>> dm = get_datamodule("digits", seed=1)
        >>> dm.input_shape
        (1, 8, 8)
    """
    if isinstance(data, str):
        if data not in DATAMODULES:
            raise DataError(
                f"The `data` argument must be one of {sorted(DATAMODULES)}, a tuple (x, y) of "
                f"arrays or a LightningDataModule. Got: {data!r}."
            )
        module_name, cls_name = DATAMODULES[data].split(":")
        cls = getattr(importlib.import_module(module_name), cls_name)
        return cls(**kwargs)
    if isinstance(data, tuple) and len(data) == 2:
        from raynas.data._arrays import ArrayDataModule

        return ArrayDataModule(data[0], data[1], **kwargs)
    import pytorch_lightning as pl

    from raynas.data._lightning import LightningPackageDataModule, is_lightning_package_datamodule

    if is_lightning_package_datamodule(data):
        data = LightningPackageDataModule(data)  # `import lightning as L`: trained by pl
    if isinstance(data, pl.LightningDataModule):
        if kwargs:
            raise DataError(
                f"keyword arguments {sorted(kwargs)} cannot be applied to a ready "
                f"{type(data).__name__}; configure it before passing it."
            )
        return data
    raise DataError(
        f"The `data` argument must be one of {sorted(DATAMODULES)}, a tuple (x, y) of arrays or "
        f"a LightningDataModule. Got: {type(data).__name__}."
    )
