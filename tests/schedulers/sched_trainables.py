"""A small function trainable on sklearn's digits for the PBT tests (imported by Ray workers).

Every epoch it saves ``{"config", "state_dict", "epoch", "trial_id"}`` and reports ``val_acc``;
on restore it rebuilds the network of its (maybe mutated) config with ``inherit_weights``.
Reports carry ``restored_from`` (the trial whose checkpoint it continued from, "" at the start)
and ``inherited`` (what the weight transfer did) so tests can follow the lineage.
"""

from __future__ import annotations

import functools
import os
import tempfile
from typing import Any

import numpy as np
import torch
from ray import tune

from raynas.schedulers import inherit_weights
from raynas.search_spaces import MLPSpace

SPACE = MLPSpace(input_shape=(64,), num_classes=10, max_layers=2, width=[16, 32, 64], dropout=0.0)


@functools.lru_cache(maxsize=1)
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x = torch.tensor(x[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[order], dtype=torch.long)
    return x[:1200], y[:1200], x[1200:], y[1200:]


def digits_trainable(config: dict[str, Any]) -> None:
    torch.set_num_threads(1)
    arch = {k: v for k, v in config.items() if k in SPACE.fields}
    inherit = config.get("inherit", True)
    trial_id = tune.get_context().get_trial_id()
    checkpoint = tune.get_checkpoint()
    restored_from, inherited, start = "", "", 0
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            payload = torch.load(os.path.join(d, "model.pt"), weights_only=False)
        restored_from, start = payload["trial_id"], payload["epoch"]
        if inherit:
            model, report = inherit_weights(SPACE, payload, arch, seed=start)
            inherited = "same architecture" if report is None else report.summary()
        else:  # the ablation: a changed architecture starts from scratch
            same = SPACE.validate(payload["config"]) == SPACE.validate(arch)
            model = SPACE.build(arch, seed=start)
            if same:
                model.load_state_dict(payload["state_dict"])
            inherited = "same architecture" if same else "fresh"
    else:
        model = SPACE.build(arch, seed=int(config.get("seed", 0)))
    opt = torch.optim.Adam(
        model.parameters(), lr=config["learning_rate"], weight_decay=config["weight_decay"]
    )
    xt, yt, xv, yv = digits()
    gen = torch.Generator().manual_seed(1000 * int(config.get("seed", 0)) + start)
    for epoch in range(start, int(config.get("max_epochs", 8))):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), int(config["batch_size"])):
            idx = perm[i : i + int(config["batch_size"])]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(xv).argmax(1) == yv).float().mean())
        params = sum(p.numel() for p in model.parameters())
        with tempfile.TemporaryDirectory() as d:
            torch.save(
                {"config": arch, "state_dict": model.state_dict(), "epoch": epoch + 1,
                 "trial_id": trial_id},
                os.path.join(d, "model.pt"),
            )  # fmt: skip
            tune.report(
                {"val_acc": acc, "params": params, "epoch": epoch + 1,
                 "restored_from": restored_from, "inherited": inherited},
                checkpoint=tune.Checkpoint.from_directory(d),
            )  # fmt: skip
