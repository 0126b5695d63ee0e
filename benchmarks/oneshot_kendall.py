"""Rank correlation between weight-sharing scores and stand-alone trained accuracy.

Trains one NAS-Bench-201 supernet by single-path one-shot (uniform sampling), scores N cells
with inherited weights + BN recalibration (val split), trains the same N cells from scratch
and compares the two rankings (Kendall tau, Spearman rho). Tiny networks, so it runs in
minutes on 2 shared cores::

    .venv/bin/python benchmarks/oneshot_kendall.py --dataset digits --cells 30
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

sys.path.insert(0, str(Path(__file__).parent))
from _oneshot_common import train_from_scratch  # noqa: E402

from raynas.oneshot import SPOS, WeightSharingEvaluator, load_splits  # noqa: E402
from raynas.search_spaces import NB201CellSpace  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits", choices=["digits", "mnist1d"])
    ap.add_argument("--cells", type=int, default=30)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--supernet-epochs", type=int, default=30)
    ap.add_argument("--standalone-epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    import pytorch_lightning as pl

    splits = load_splits(args.dataset, seed=args.seed)
    space = NB201CellSpace(
        input_shape=splits.input_shape,
        num_classes=splits.num_classes,
        channels=args.channels,
        cells_per_stage=1,
        learning_rate=0.01,
        weight_decay=1e-4,
        batch_size=64,
    )
    # N cells from distinct isomorphism classes, excluding the zero cell (output always 0)
    rng = np.random.default_rng(args.seed)
    cells, keys = [], set()
    while len(cells) < args.cells:
        cfg = space.sample(rng)
        key = space.cell_key(cfg)
        if key not in keys and key != "#":
            keys.add(key)
            cells.append(cfg)

    t0 = time.perf_counter()
    spos = SPOS(space, epochs=args.supernet_epochs, learning_rate=0.05, seed=args.seed)
    trainer = pl.Trainer(
        max_epochs=args.supernet_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        accelerator="cpu",
    )
    trainer.fit(spos, train_dataloaders=splits.loader("train", batch_size=64, shuffle=True))
    t_supernet = time.perf_counter() - t0
    evaluator = WeightSharingEvaluator(spos, splits, calibration_batches=4, seed=args.seed)
    t0 = time.perf_counter()
    ws = [evaluator.score(c)["val_acc"] for c in cells]
    t_score = time.perf_counter() - t0

    t0 = time.perf_counter()
    standalone = [
        train_from_scratch(space, c, splits, epochs=args.standalone_epochs, seed=args.seed)[
            "val_acc"
        ]
        for c in cells
    ]
    t_scratch = time.perf_counter() - t0

    tau, p_tau = kendalltau(ws, standalone)
    rho, _ = spearmanr(ws, standalone)
    print(f"dataset={args.dataset} cells={args.cells} channels={args.channels} N=1")
    print(f"{'arch':<100} {'ws_val':>7} {'scratch_val':>11}")
    for c, a, b in sorted(zip(cells, ws, standalone, strict=True), key=lambda t: -t[2]):
        print(f"{space.to_arch_str(c):<100} {a:7.3f} {b:11.3f}")
    print(
        f"supernet training {t_supernet:.0f}s ({args.supernet_epochs} epochs), "
        f"weight-sharing scoring {t_score:.1f}s for {args.cells} cells "
        f"({t_score / args.cells * 1000:.0f} ms/cell), from scratch {t_scratch:.0f}s "
        f"({args.standalone_epochs} epochs each, {t_scratch / args.cells:.1f} s/cell)"
    )
    print(f"Kendall tau = {tau:.3f} (p = {p_tau:.2g}), Spearman rho = {rho:.3f}")


if __name__ == "__main__":
    main()
