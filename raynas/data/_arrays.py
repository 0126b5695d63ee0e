"""In-memory datasets from numpy arrays, with fixed seeded train / validation / test splits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from raynas.data.errors import DataError

TASKS = ("classification", "regression")


def _check_fraction(name: str, value: float, *, low_open: bool, allow_one: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value > 0 if low_open else value >= 0) and (value <= 1 if allow_one else value < 1)
    if not ok:
        low = "(0" if low_open else "[0"
        high = "1]" if allow_one else "1)"
        raise DataError(f"`{name}` must be a number in {low}, {high}, but got {value!r}.")
    return float(value)


class ArrayDataModule(pl.LightningDataModule):
    """A LightningDataModule over numpy arrays held in memory as tensors.

    The arrays are split once, by ``seed``, into train / validation / test parts that never
    change between candidates (so candidates compare on the same data). Each candidate then
    chooses its batch size, the fraction of the training part it trains on (a fixed seeded
    subset) and the seed of its shuffling with :meth:`configure`. Loaders use ``num_workers=0``:
    the tensors are already in memory, so worker processes would only add start-up cost.

    Args:
        x: inputs, shape ``(n, *input_shape)``.
        y: integer labels ``(n,)`` for classification, targets ``(n,)`` or ``(n, k)`` for
            regression.
        x_test: an explicit test set; when given, ``test_fraction`` is not used.
        y_test: labels of ``x_test``.
        x_val: an explicit validation set (Keras's ``validation_data``); when given,
            ``val_fraction`` is not used.
        y_val: labels of ``x_val``.
        task: ``"classification"`` or ``"regression"``.
        val_fraction: share of the samples in ``x`` held out for validation.
        test_fraction: share of all samples held out for testing (without ``x_test``).
        batch_size: default batch size, replaced by the candidate's ``batch_size``.
        num_classes: number of classes; inferred from ``y`` for classification.
        seed: seeds the split (and the default shuffling).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(100, 4)).astype("float32")
        >>> dm = ArrayDataModule(x, (x[:, 0] > 0).astype(int), val_fraction=0.2, test_fraction=0.1)
        >>> dm.sizes, dm.input_shape, dm.num_classes
        ({'train': 70, 'val': 20, 'test': 10}, (4,), 2)
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        task: str = "classification",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        batch_size: int = 64,
        num_classes: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise DataError(f"`task` must be one of {list(TASKS)}, but got {task!r}.")
        self.task = task
        x, y = self._as_arrays("x", x, "y", y)
        val_fraction = _check_fraction("val_fraction", val_fraction, low_open=True, allow_one=False)
        if x_test is None and y_test is None:
            test_fraction = _check_fraction(
                "test_fraction", test_fraction, low_open=False, allow_one=False
            )
        elif x_test is None or y_test is None:
            raise DataError("`x_test` and `y_test` must be given together (or neither).")
        if (x_val is None) != (y_val is None):
            raise DataError("`x_val` and `y_val` must be given together (or neither).")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise DataError(f"`seed` must be an int, but got {seed!r}.")
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        #: positions in ``x`` of each split's samples (the test split of ``x_test`` is all of it)
        self.split_indices: dict[str, np.ndarray] = {}

        if x_test is not None:
            x_test, y_test = self._as_arrays("x_test", x_test, "y_test", y_test)
            if x_test.shape[1:] != x.shape[1:]:
                raise DataError(
                    f"`x_test` samples must have the shape of `x` samples {x.shape[1:]}, but "
                    f"have {x_test.shape[1:]}."
                )
            order = rng.permutation(len(x))
            n_val = max(1, int(round(len(x) * val_fraction)))
            val_idx, train_idx = order[:n_val], order[n_val:]
            parts = {
                "train": (x[train_idx], y[train_idx]),
                "val": (x[val_idx], y[val_idx]),
                "test": (x_test, y_test),
            }
            self.split_indices = {"train": train_idx, "val": val_idx}
        else:
            order = rng.permutation(len(x))
            n_test = int(round(len(x) * test_fraction))
            n_val = max(1, int(round(len(x) * val_fraction)))
            test_idx, val_idx = order[:n_test], order[n_test : n_test + n_val]
            train_idx = order[n_test + n_val :]
            parts = {
                "train": (x[train_idx], y[train_idx]),
                "val": (x[val_idx], y[val_idx]),
                "test": (x[test_idx], y[test_idx]),
            }
            self.split_indices = {"train": train_idx, "val": val_idx, "test": test_idx}
        if x_val is not None:  # the held-out share of `x` goes back into training
            x_val, y_val = self._as_arrays("x_val", x_val, "y_val", y_val)
            if x_val.shape[1:] != x.shape[1:]:
                raise DataError(
                    f"`x_val` samples must have the shape of `x` samples {x.shape[1:]}, but "
                    f"have {x_val.shape[1:]}."
                )
            train_idx = np.sort(np.concatenate([train_idx, self.split_indices["val"]]))
            parts["train"] = (x[train_idx], y[train_idx])
            parts["val"] = (x_val, y_val)
            self.split_indices["train"] = train_idx
            self.split_indices.pop("val")
        if len(parts["train"][0]) == 0:
            raise DataError(
                f"no training samples are left: {len(x)} samples, `val_fraction`={val_fraction}, "
                f"`test_fraction`={test_fraction}."
            )
        self._set_parts(parts, num_classes=num_classes, batch_size=batch_size)

    def _set_parts(
        self,
        parts: dict[str, tuple[np.ndarray, np.ndarray]],
        *,
        num_classes: int | None,
        batch_size: int,
    ) -> None:
        """Keep the split ``parts`` (``train``/``val``/``test`` -> ``(x, y)``) as tensors."""
        task, x = self.task, parts["train"][0]
        if task == "classification":
            labels = np.concatenate([parts[k][1] for k in parts])
            inferred = int(labels.max()) + 1
            if num_classes is None:
                num_classes = inferred
            elif not isinstance(num_classes, int) or num_classes < inferred:
                raise DataError(
                    f"`num_classes` must be an int >= {inferred} (the largest label + 1), but got "
                    f"{num_classes!r}."
                )
        self.num_classes = num_classes
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in x.shape[1:])
        self._tensors = {k: self._to_tensors(*v) for k, v in parts.items()}
        self.batch_size = self._check_batch_size(batch_size)
        self.train_fraction = 1.0
        self._train_subset: np.ndarray | None = None
        self._generator = torch.Generator().manual_seed(self.seed)

    # -- construction helpers ------------------------------------------------------------------
    def _as_arrays(self, xn: str, x: Any, yn: str, y: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim < 2:
            raise DataError(f"`{xn}` must have shape (n, *input_shape), but has shape {x.shape}.")
        if len(y) != len(x):
            raise DataError(
                f"`{yn}` must have one entry per sample of `{xn}` ({len(x)}), but has {len(y)}."
            )
        if not np.issubdtype(x.dtype, np.number):
            raise DataError(f"`{xn}` must be numeric, but has dtype {x.dtype}.")
        if self.task == "classification":
            if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
                raise DataError(
                    f"`{yn}` must be a 1-d array of integer class labels for classification, "
                    f"but has dtype {y.dtype} and shape {y.shape}. For real-valued targets pass "
                    f"task='regression' (in raynas.search: data_kwargs={{'task': 'regression'}})."
                )
            if len(y) and y.min() < 0:
                raise DataError(f"`{yn}` class labels must be >= 0, but the smallest is {y.min()}.")
        elif not np.issubdtype(y.dtype, np.number):
            raise DataError(f"`{yn}` must be numeric for regression, but has dtype {y.dtype}.")
        return x, y

    def _to_tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        tx = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)
        if self.task == "classification":
            ty = torch.as_tensor(y, dtype=torch.long)
        else:
            ty = torch.as_tensor(np.ascontiguousarray(y), dtype=torch.float32)
        return tx, ty

    @staticmethod
    def _check_batch_size(batch_size: Any) -> int:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise DataError(f"`batch_size` must be a positive int, but got {batch_size!r}.")
        if batch_size < 1:
            raise DataError(f"`batch_size` must be a positive int, but got {batch_size!r}.")
        return int(batch_size)

    # -- per-candidate settings ----------------------------------------------------------------
    def configure(
        self,
        *,
        batch_size: int | None = None,
        train_fraction: float | None = None,
        shuffle_seed: int | None = None,
    ) -> ArrayDataModule:
        """Set the candidate's batch size, training-data fraction and shuffling seed.

        The subset for ``train_fraction < 1`` depends only on the split seed, so every candidate
        with the same fraction trains on the same samples. Returns ``self``.
        """
        if batch_size is not None:
            self.batch_size = self._check_batch_size(batch_size)
        if train_fraction is not None:
            self.train_fraction = _check_fraction(
                "train_fraction", train_fraction, low_open=True, allow_one=True
            )
            n = len(self._tensors["train"][0])
            keep = max(1, int(round(n * self.train_fraction)))
            if keep >= n:
                self._train_subset = None
            else:
                order = np.random.default_rng([self.seed, 1]).permutation(n)
                self._train_subset = np.sort(order[:keep])
        if shuffle_seed is not None:
            self._generator = torch.Generator().manual_seed(int(shuffle_seed))
        return self

    @property
    def sizes(self) -> dict[str, int]:
        """Number of samples per split (the training one after ``train_fraction``)."""
        out = {k: len(v[0]) for k, v in self._tensors.items()}
        if self._train_subset is not None:
            out["train"] = len(self._train_subset)
        return out

    def arrays(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The tensors of ``split`` (``"train"``, ``"val"`` or ``"test"``)."""
        if split not in self._tensors:
            raise DataError(f"`split` must be one of {list(self._tensors)}, but got {split!r}.")
        x, y = self._tensors[split]
        if split == "train" and self._train_subset is not None:
            idx = torch.as_tensor(self._train_subset)
            return x[idx], y[idx]
        return x, y

    # -- LightningDataModule -------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        """Shuffled batches of the training split, drawn with the candidate's generator."""
        return DataLoader(
            TensorDataset(*self.arrays("train")),
            batch_size=self.batch_size,
            shuffle=True,
            generator=self._generator,
            num_workers=0,
        )

    def val_dataloader(self) -> DataLoader:
        """Batches of the validation split, in a fixed order."""
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        """Batches of the test split, in a fixed order."""
        return self._loader("test")

    def _loader(self, split: str) -> DataLoader:
        batch = max(self.batch_size, 256)
        return DataLoader(TensorDataset(*self.arrays(split)), batch_size=batch, num_workers=0)

    def state_dict(self) -> dict[str, Any]:
        """The shuffling generator's state, so a resumed run draws the same batches."""
        return {"generator": self._generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the shuffling generator saved by :meth:`state_dict`."""
        self._generator.set_state(state_dict["generator"])

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary: task, shapes, split sizes."""
        return {
            "task": self.task,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "sizes": self.sizes,
            "seed": self.seed,
        }
