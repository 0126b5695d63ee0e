"""Shared by the one-shot benchmarks: from-scratch training of a config, timing, one thread."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def train_from_scratch(
    space, config, splits, *, epochs, seed=0, lr=0.01, batch_size=64, parts=("val", "test")
):
    """Train ``space.build(config)`` with Adam + cosine on ``train``; accuracies and seconds.

    Returns ``{"<part>_acc" for part in parts, "seconds"}`` (BN in eval mode for scoring).
    """
    start = time.perf_counter()
    net = space.build(config, seed=seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loader = splits.loader("train", batch_size=batch_size, shuffle=True, seed=seed)
    for _ in range(epochs):
        net.train()
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        sched.step()
    net.eval()
    out = {}
    with torch.no_grad():
        for part in parts:
            x, y = splits.parts[part]
            out[f"{part}_acc"] = float((net(x).argmax(-1) == y).float().mean())
    out["seconds"] = time.perf_counter() - start
    return out


def regularized_evolution(
    space, splits, *, budget_s, proxy_epochs, seed=0, population_size=10, sample_size=3
):
    """Regularized evolution (``raynas.strategies.RegularizedEvolution``, ask/tell) under a
    wall-clock budget, each candidate scored by a short from-scratch training.

    A candidate is trained for ``proxy_epochs`` on ``train`` and scored by its ``val``
    accuracy (the test split is never looked at). New candidates are asked until ``budget_s``
    seconds have passed (the one running then finishes). Returns ``(strategy, seconds)``: the
    told results are ``strategy.observations``, the best is ``strategy.best()``.
    """
    from raynas.strategies import RegularizedEvolution, SearchExhausted

    strategy = RegularizedEvolution(
        space,
        objectives=["val_acc"],
        seed=seed,
        population_size=population_size,
        sample_size=sample_size,
    )
    start = time.perf_counter()
    while time.perf_counter() - start < budget_s:
        try:
            config = strategy.ask()
        except SearchExhausted:
            break
        score = train_from_scratch(
            space, config, splits, epochs=proxy_epochs, seed=seed, parts=("val",)
        )
        strategy.tell(config, {"val_acc": score["val_acc"]})
    return strategy, time.perf_counter() - start
