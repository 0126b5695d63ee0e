"""Restore a raynas Lightning checkpoint into a network of another architecture (ArchitecturePBT).

``NASTrainable`` resumes a trial from a Lightning checkpoint (``candidate.ckpt``). Under
:class:`~raynas.schedulers.ArchitecturePBT` that checkpoint may come from a donor trial whose
architecture differs from the restoring trial's (mutated) config. :func:`adapt_checkpoint`
rewrites the checkpoint file in place so that Lightning can restore it into the new network:

- the network's weights are carried over with :func:`~raynas.schedulers.transfer_weights`
  (copy, Net2Net widening, slicing, fresh new layers), using the donor's config saved in the
  checkpoint (``checkpoint["raynas"]["config"]``) to rebuild the donor network for the graph
  analysis (shapes only when it is missing);
- the optimizer's per-parameter state (momenta) is reset, since it belonged to tensors of other
  shapes, while its hyperparameters (the donor's current learning rate, i.e. the position in the
  schedule) are kept; the epoch counters, the learning-rate schedule and the report callback's
  state continue from the donor, so the trial's epoch budget is unchanged.

A checkpoint whose tensors already fit the network is left untouched (plain PBT exploit).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from raynas.schedulers._transfer import TransferReport, _build, transfer_weights

#: Where the candidate network sits inside ``CandidateModule`` (``self.model``).
PREFIX = "model."


def adapt_checkpoint(
    path: str | os.PathLike[str],
    *,
    space: Any,
    network: nn.Module,
    example_input: torch.Tensor | None = None,
    prefix: str = PREFIX,
    mode: str = "net2net",
    noise: float = 0.01,
    seed: int | None = 0,
) -> TransferReport | None:
    """Make the Lightning checkpoint at ``path`` restorable into ``network``.

    Args:
        path: the ``.ckpt`` file; rewritten in place when the architecture differs.
        space: the search space (rebuilds the donor network from the checkpoint's config).
        network: the restoring trial's freshly built network (its initialisation is kept for
            tensors that get no counterpart).
        example_input: one input batch for the unit-group analysis (Net2Net); without it,
            tensors are only copied, sliced or padded.
        prefix: the network's key prefix in the checkpoint's ``state_dict``.
        mode, noise, seed: see :func:`~raynas.schedulers.transfer_weights` (the default noise
            breaks the symmetry of replicated units so they can learn apart).

    Returns:
        None when the checkpoint fits ``network`` as it is, else the transfer report.
    """
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    state = ckpt.get("state_dict", {})
    old = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    new_state = network.state_dict()
    if set(old) == set(new_state) and all(old[k].shape == v.shape for k, v in new_state.items()):
        return None
    donor = _donor_network(space, ckpt, old)
    report = transfer_weights(
        donor if donor is not None else old,
        network,
        example_input=example_input if donor is not None else None,
        mode=mode,
        noise=noise,
        seed=seed,
    )
    rest = {k: v for k, v in state.items() if not k.startswith(prefix)}
    ckpt["state_dict"] = {**rest, **{prefix + k: v for k, v in network.state_dict().items()}}
    n_params = sum(1 for p in network.parameters() if p.requires_grad)
    ckpt["optimizer_states"] = [_reset(o, n_params) for o in ckpt.get("optimizer_states", [])]
    ckpt.setdefault("raynas", {})["transfer"] = report.summary()
    torch.save(ckpt, path)
    return report


def _donor_network(
    space: Any, ckpt: Mapping[str, Any], state: Mapping[str, torch.Tensor]
) -> nn.Module | None:
    config = (ckpt.get("raynas") or {}).get("config")
    if config is None or not callable(getattr(space, "build", None)):
        return None
    fields = getattr(space, "fields", None)
    if isinstance(fields, Mapping):
        config = {k: v for k, v in config.items() if k in fields}
    try:
        donor = _build(space, config, 0)
        donor.load_state_dict(dict(state))
    except Exception:  # an old or foreign checkpoint: fall back to shapes
        return None
    return donor


def _reset(optimizer_state: Mapping[str, Any], n_params: int) -> dict[str, Any]:
    """The optimizer state without per-parameter state, its one group over ``n_params``."""
    groups = [dict(g) for g in optimizer_state.get("param_groups", [])]
    if len(groups) != 1:
        raise ValueError(
            f"cannot adapt an optimizer with {len(groups)} parameter groups to a new "
            "architecture; raynas' CandidateModule uses one."
        )
    groups[0]["params"] = list(range(n_params))
    return {"state": {}, "param_groups": groups}
