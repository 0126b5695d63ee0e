"""Shared by the one-shot benchmarks: from-scratch training of a config, timing, one thread."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def train_from_scratch(space, config, splits, *, epochs, seed=0, lr=0.01, batch_size=64):
    """Train ``space.build(config)`` with Adam + cosine on ``train``; accuracies and seconds.

    Returns ``{"val_acc", "test_acc", "seconds"}`` (BN in eval mode for scoring).
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
        for part in ("val", "test"):
            x, y = splits.parts[part]
            out[f"{part}_acc"] = float((net(x).argmax(-1) == y).float().mean())
    out["seconds"] = time.perf_counter() - start
    return out


def aging_evolution(space, evaluate, *, budget_s, population=10, sample=3, seed=0):
    """Minimal regularized (aging) evolution (Real et al. 2019) under a wall-clock budget.

    ``evaluate(config) -> fitness``; a random population first, then tournament of ``sample``,
    mutate the winner with ``space.mutate``, drop the oldest. Returns the history
    ``[(config, fitness)]`` in evaluation order.
    """
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    history, pop = [], []
    while time.perf_counter() - start < budget_s:
        if len(pop) < population:
            child = space.sample(rng)
        else:
            idx = rng.choice(len(pop), size=min(sample, len(pop)), replace=False)
            parent = max((pop[i] for i in idx), key=lambda cf: cf[1])[0]
            child = space.mutate(parent, rng)
        fit = evaluate(child)
        pop.append((child, fit))
        history.append((child, fit))
        if len(pop) > population:
            pop.pop(0)
    return history
