"""DataModules of the ``lightning`` package, trained by raynas's ``pytorch_lightning`` Trainer.

``import lightning as L`` (the package Lightning's docs use) and ``import pytorch_lightning``
are two copies of the same classes, and each Trainer refuses the other's DataModules. raynas
trains with ``pytorch_lightning``; a user's ``L.LightningDataModule`` is wrapped in
:class:`LightningPackageDataModule`, which hands every hook and attribute to it.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytorch_lightning as pl

_HOOKS = (
    "prepare_data",
    "setup",
    "teardown",
    "train_dataloader",
    "val_dataloader",
    "test_dataloader",
    "predict_dataloader",
    "transfer_batch_to_device",
    "on_before_batch_transfer",
    "on_after_batch_transfer",
    "state_dict",
    "load_state_dict",
)


def is_lightning_package(obj: Any, cls_name: str) -> bool:
    """Whether ``obj`` is an instance of ``lightning.pytorch.<cls_name>`` (``Callback``,
    ``LightningModule``...), the ``lightning`` package's copy (never imports ``lightning``)."""
    module = sys.modules.get("lightning.pytorch")
    cls = getattr(module, cls_name, None)
    return isinstance(cls, type) and isinstance(obj, cls)


def is_lightning_package_datamodule(obj: Any) -> bool:
    """Whether ``obj`` is a ``lightning.pytorch`` DataModule (never imports ``lightning``)."""
    return is_lightning_package(obj, "LightningDataModule")


def refuse_lightning_package(obj: Any, cls_name: str, what: str) -> None:
    """Raise ``EvaluationError`` when ``obj`` (named ``what``) comes from ``lightning.pytorch``.

    raynas's Trainer is ``pytorch_lightning``'s, which refuses the ``lightning`` package's
    modules and callbacks with a message that does not say why.
    """
    if is_lightning_package(obj, cls_name):
        from raynas.evaluation.errors import EvaluationError

        raise EvaluationError(
            f"{what} is a `lightning.pytorch.{cls_name}` ({type(obj).__name__}, from "
            f"`import lightning as L`), but raynas trains with `pytorch_lightning`; subclass "
            f"`pytorch_lightning.{cls_name}` instead (the same class, the other package)."
        )


class LightningPackageDataModule(pl.LightningDataModule):
    """A ``pytorch_lightning`` DataModule that runs a ``lightning.pytorch`` one.

    Hooks, attributes (``input_shape``, ``num_classes``, ``batch_size``...) and assignments to
    attributes the wrapped module has go to it; ``copy.copy`` copies it too, so a candidate
    that sets its own batch size leaves the others' alone.

    Args:
        inner: the user's ``lightning.pytorch.LightningDataModule``.
    """

    def __init__(self, inner: Any) -> None:
        self.__dict__["inner"] = inner
        super().__init__()

    def __getattr__(self, name: str) -> Any:
        if name == "inner" or name.startswith("__"):  # unpickling: no inner yet
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        inner = self.__dict__.get("inner")
        if inner is not None and hasattr(inner, name):
            setattr(inner, name, value)
        else:
            super().__setattr__(name, value)

    def __copy__(self) -> LightningPackageDataModule:
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__["inner"] = copy.copy(self.inner)
        return new

    def __repr__(self) -> str:
        return f"LightningPackageDataModule({self.inner!r})"


def _delegate(name: str) -> Any:
    def hook(self: LightningPackageDataModule, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.inner, name)(*args, **kwargs)

    hook.__name__ = hook.__qualname__ = name
    hook.__doc__ = f"The wrapped DataModule's ``{name}``."
    return hook


for _name in _HOOKS:
    setattr(LightningPackageDataModule, _name, _delegate(_name))
