"""Saving a trained supernet with its space, and loading it back from wherever it was put."""

from __future__ import annotations

import io
import os
from typing import Any

import torch
from torch import nn

from .errors import OneShotError

#: File name of a supernet inside a checkpoint directory.
SUPERNET_FILE = "supernet.pt"
_FORMAT = "raynas.oneshot.supernet/1"


def supernet_bytes(supernet: nn.Module, **extra: Any) -> bytes:
    """The supernet (space, seed-free weights and ``extra``) as bytes, for ``ray.put``."""
    buf = io.BytesIO()
    save_supernet(supernet, buf, **extra)
    return buf.getvalue()


def save_supernet(supernet: nn.Module, path: Any, **extra: Any) -> None:
    """Write ``{"space", "kind", "state_dict", **extra}`` to ``path`` (a file name or buffer)."""
    inner = getattr(supernet, "supernet", supernet)
    if not hasattr(inner, "space"):
        raise OneShotError(f"`supernet` must be a supernet, but got {type(supernet).__name__}.")
    payload = {
        "format": _FORMAT,
        "kind": type(inner).__name__,
        "space": inner.space,
        "state_dict": {k: v.detach().cpu() for k, v in inner.state_dict().items()},
        **extra,
    }
    torch.save(payload, path)


def load_supernet(source: Any, *, map_location: str | torch.device = "cpu") -> nn.Module:
    """A supernet from a file, a checkpoint directory, a Tune ``Checkpoint``, bytes, a
    ``ray.ObjectRef`` of any of these, or a supernet / SPOS module (returned as is).

    Only load files you wrote: the file holds the pickled space.
    """
    from ._spos import supernet_of

    if isinstance(source, nn.Module):
        return getattr(source, "supernet", source)
    if type(source).__name__ == "ObjectRef":
        import ray

        return load_supernet(ray.get(source), map_location=map_location)
    if hasattr(source, "as_directory") and hasattr(source, "path"):  # a Tune Checkpoint
        with source.as_directory() as d:
            return load_supernet(os.path.join(d, SUPERNET_FILE), map_location=map_location)
    if isinstance(source, (bytes, bytearray)):
        payload = torch.load(io.BytesIO(source), map_location=map_location, weights_only=False)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            path = os.path.join(path, SUPERNET_FILE)
        if not os.path.isfile(path):
            raise OneShotError(f"`supernet` file {path!r} does not exist.")
        payload = torch.load(path, map_location=map_location, weights_only=False)
    else:
        raise OneShotError(
            "`supernet` must be a path, a Tune Checkpoint, bytes, a ray.ObjectRef or a supernet "
            f"module, but got {type(source).__name__}."
        )
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise OneShotError(f"`supernet` is not a raynas supernet file (format {_FORMAT!r}).")
    supernet = supernet_of(payload["space"])
    supernet.load_state_dict(payload["state_dict"])
    return supernet.to(map_location)
