"""``search(x, y, validation_data=..., validation_split=...)`` as raynas's data arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raynas.frontdoor.names import ConfigError


def _array(value: Any, name: str) -> Any:
    """A numpy array from numpy or a torch tensor (on any device)."""
    import numpy as np

    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if not hasattr(value, "shape") and not isinstance(value, (list, tuple)):
        raise ConfigError(
            f"`{name}` must be a numpy array or a torch tensor, but got {value!r:.80}."
        )
    return np.asarray(value)


def _pair(value: Any, name: str) -> tuple[Any, Any]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f"`{name}` must be a pair (x, y) of arrays, but got {value!r:.80}.")
    return _array(value[0], f"{name}[0]"), _array(value[1], f"{name}[1]")


def search_data(
    x: Any,
    y: Any,
    validation_data: Any,
    validation_split: float | None,
    test_data: Any,
    data_kwargs: Mapping[str, Any] | None,
) -> tuple[Any, dict[str, Any]]:
    """The ``data`` and ``data_kwargs`` of :func:`raynas.search` for KerasTuner's ``search``.

    Arrays become an :class:`~raynas.data.ArrayDataModule`: ``validation_data`` is its
    validation split, else ``validation_split`` of ``x`` (default 0.2) is held out;
    ``test_data`` is its test split (none without it). A LightningDataModule is taken as it is.
    """
    if data_kwargs is not None and not isinstance(data_kwargs, Mapping):
        raise ConfigError(f"`data_kwargs` must be a mapping, but got {data_kwargs!r}.")
    kwargs = dict(data_kwargs or {})
    if x is None:
        raise ConfigError("`x` must be given: search(x, y, ...) or search(datamodule).")
    if hasattr(x, "train_dataloader") or hasattr(x, "setup") and not hasattr(x, "shape"):
        extra = {
            "y": y,
            "validation_data": validation_data,
            "validation_split": validation_split,
            "test_data": test_data,
        }
        given = [k for k, v in extra.items() if v is not None]
        if given:
            raise ConfigError(
                f"`{given[0]}` cannot be used with a DataModule: its own splits are used."
            )
        return x, kwargs
    if y is None:
        raise ConfigError("`y` must be given with array `x`: search(x, y, ...).")
    x, y = _array(x, "x"), _array(y, "y")
    if validation_data is not None and validation_split is not None:
        raise ConfigError("give `validation_data` or `validation_split`, not both.")
    for key in ("x_val", "y_val", "val_fraction", "x_test", "y_test", "test_fraction"):
        if key in kwargs:
            raise ConfigError(
                f"`data_kwargs.{key}` is set by search()'s `validation_data`, `validation_split` "
                f"and `test_data`."
            )
    if validation_data is not None:
        kwargs["x_val"], kwargs["y_val"] = _pair(validation_data, "validation_data")
    else:
        split = 0.2 if validation_split is None else validation_split
        if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split < 1:
            raise ConfigError(
                f"`validation_split` must be a number in (0, 1), but got {validation_split!r}."
            )
        kwargs["val_fraction"] = float(split)
    if test_data is not None:
        kwargs["x_test"], kwargs["y_test"] = _pair(test_data, "test_data")
    else:
        kwargs["test_fraction"] = 0.0
    return (x, y), kwargs
