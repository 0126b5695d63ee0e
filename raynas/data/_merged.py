"""Train on the training and validation splits together (a retrain after the search)."""

from __future__ import annotations

import copy
from typing import Any

import pytorch_lightning as pl
from torch.utils.data import ConcatDataset, DataLoader


class TrainValDataModule(pl.LightningDataModule):
    """A DataModule whose training batches are drawn from ``inner``'s training and validation
    splits together; validation and test stay ``inner``'s.

    This is the protocol of KerasTuner's final fit: the chosen architecture is trained again on
    all the data the search could see, and scored on the test split it never saw.

    Example:
        >>> from raynas.data import get_datamodule
        >>> dm = TrainValDataModule(get_datamodule("digits"))
        >>> len(dm.train_dataloader().dataset) == sum(get_datamodule("digits").sizes[s]
        ...                                           for s in ("train", "val"))
        True
    """

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner
        for attr in ("task", "input_shape", "num_classes"):
            if hasattr(inner, attr):
                setattr(self, attr, getattr(inner, attr))

    def configure(self, **kwargs: Any) -> TrainValDataModule:
        """Configure a copy of ``inner`` (batch size, train fraction, shuffling seed)."""
        self.inner = copy.copy(self.inner)
        configure = getattr(self.inner, "configure", None)
        if callable(configure):
            configure(**kwargs)
        elif kwargs.get("batch_size") is not None and hasattr(self.inner, "batch_size"):
            self.inner.batch_size = kwargs["batch_size"]
        return self

    def setup(self, stage: str | None = None) -> None:
        self.inner.setup(stage)

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches of the training and validation splits together."""
        train = self.inner.train_dataloader()
        val = self.inner.val_dataloader()
        return DataLoader(
            ConcatDataset([train.dataset, val.dataset]),
            batch_size=train.batch_size,
            shuffle=True,
            generator=getattr(self.inner, "_generator", None),
            num_workers=0,
        )

    def val_dataloader(self) -> Any:
        return self.inner.val_dataloader()

    def test_dataloader(self) -> Any:
        return self.inner.test_dataloader()
