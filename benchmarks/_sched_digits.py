"""Shared by the scheduler benchmarks: data (digits, MNIST-1D), MLP space, one-epoch training."""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
import torch

from raynas.search_spaces import MLPSpace

INPUT_DIM = {"digits": 64, "mnist1d": 40}


def mlp_space(data: str = "digits", **kw: Any) -> MLPSpace:
    """The MLP space on flattened inputs (digits: 64, MNIST-1D: 40 features; 10 classes)."""
    kw.setdefault("max_layers", 3)
    kw.setdefault("width", [16, 32, 64, 128, 256])
    return MLPSpace(input_shape=(INPUT_DIM[data],), num_classes=10, **kw)


@functools.lru_cache(maxsize=2)
def dataset(name: str = "digits") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training and validation tensors in a fixed order.

    digits: 1200 / 597 samples scaled to [0, 1]. mnist1d: the library's default 4,000
    training signals (generated offline, seed 42) split 3,200 / 800.
    """
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        x = x / 16.0
        n_train = 1200
    elif name == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset

        state = np.random.get_state()
        try:
            data = make_dataset(get_dataset_args())
        finally:
            np.random.set_state(state)
        x, y = data["x"], data["y"]
        n_train = 3200
    else:
        raise ValueError(f"`data` must be one of {list(INPUT_DIM)}, but got {name!r}.")
    order = np.random.default_rng(0).permutation(len(x))
    x_t = torch.tensor(x[order], dtype=torch.float32)
    y_t = torch.tensor(y[order], dtype=torch.long)
    return x_t[:n_train], y_t[:n_train], x_t[n_train:], y_t[n_train:]


def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return dataset("digits")


def make_optimizer(model: torch.nn.Module, config: dict[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.Adam(
        model.parameters(), lr=config["learning_rate"], weight_decay=config["weight_decay"]
    )


def train_epoch(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    config: dict[str, Any],
    gen: torch.Generator,
    data: str = "digits",
) -> tuple[float, float]:
    """One epoch of mini-batch training; returns (validation accuracy, seconds)."""
    xt, yt, xv, yv = dataset(data)
    t0 = time.perf_counter()
    model.train()
    perm = torch.randperm(len(xt), generator=gen)
    bs = int(config["batch_size"])
    for i in range(0, len(xt), bs):
        idx = perm[i : i + bs]
        if len(idx) < 2:  # BatchNorm needs two samples
            continue
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(xv).argmax(1) == yv).float().mean())
    return acc, time.perf_counter() - t0


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pbt_trainable(config: dict[str, Any]) -> None:
    """A Tune function trainable for the PBT benchmarks (checkpoint every epoch).

    ``config["inherit"]``: on restore with another architecture, inherit the donor's weights
    (``inherit_weights``) or build the new architecture from scratch. Either way the epoch count
    continues from the donor's, so every method spends the same number of epochs.
    """
    import os
    import tempfile

    from ray import tune

    from raynas.schedulers import inherit_weights

    torch.set_num_threads(1)
    data = config.get("data", "digits")
    space = mlp_space(data)
    arch = {k: v for k, v in config.items() if k in space.fields}
    trial_id = tune.get_context().get_trial_id()
    checkpoint = tune.get_checkpoint()
    start, inherited = 0, ""
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            payload = torch.load(os.path.join(d, "model.pt"), weights_only=False)
        start = payload["epoch"]
        if config.get("inherit", True):
            model, report = inherit_weights(space, payload, arch, seed=start, noise=0.01)
            inherited = "same" if report is None else report.summary()
        else:
            same = space.validate(payload["config"]) == space.validate(arch)
            model = space.build(arch, seed=start)
            if same:
                model.load_state_dict(payload["state_dict"])
            inherited = "same" if same else "fresh"
    else:
        model = space.build(arch, seed=int(config.get("seed", 0)))
    opt = make_optimizer(model, config)
    gen = torch.Generator().manual_seed(1000 * int(config.get("seed", 0)) + start)
    torch.manual_seed(1000 * int(config.get("seed", 0)) + start)  # dropout (a worker process)
    for epoch in range(start, int(config["max_epochs"])):
        acc, _ = train_epoch(model, opt, config, gen, data)
        with tempfile.TemporaryDirectory() as d:
            torch.save(
                {"config": arch, "state_dict": model.state_dict(), "epoch": epoch + 1,
                 "trial_id": trial_id},
                os.path.join(d, "model.pt"),
            )  # fmt: skip
            tune.report(
                {"val_acc": acc, "epoch": epoch + 1, "params": count_params(model),
                 "inherited": inherited},
                checkpoint=tune.Checkpoint.from_directory(d),
            )  # fmt: skip
