"""DARTS / DARTS (2nd order) / GDAS / DARTS- vs regularized evolution at equal wall time.

Each gradient method searches the NAS-Bench-201 cell on the train/val halves of the data; its
derived cell is then trained from scratch (train split) and tested (test split). Regularized
(aging) evolution gets the wall time of the first-order DARTS search, scoring each candidate by
a short from-scratch training (val split); its best cell is trained with the same final protocol.
raynas's own RegularizedEvolution strategy is not on main yet, so a minimal aging-evolution loop
lives in ``_oneshot_common.py``. Tiny networks, for 2 shared cores::

    .venv/bin/python benchmarks/oneshot_search.py --dataset digits --seeds 0 1
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _oneshot_common import aging_evolution, train_from_scratch  # noqa: E402
from raynas.search_spaces import NB201CellSpace  # noqa: E402

from raynas.oneshot import bilevel_loader, collapse_report, load_splits, make_search  # noqa: E402

METHODS = ("darts", "darts2", "gdas", "darts-")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits", choices=["digits", "mnist1d"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--search-epochs", type=int, default=15)
    ap.add_argument("--final-epochs", type=int, default=15)
    ap.add_argument("--proxy-epochs", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    args = ap.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    import pytorch_lightning as pl

    rows = []
    for seed in args.seeds:
        splits = load_splits(args.dataset, seed=seed)
        space = NB201CellSpace(
            input_shape=splits.input_shape,
            num_classes=splits.num_classes,
            channels=args.channels,
            cells_per_stage=1,
            learning_rate=0.01,
            weight_decay=1e-4,
            batch_size=64,
        )
        budget = None
        for method in args.methods:
            module = make_search(
                method, space, epochs=args.search_epochs, seed=seed, eigen_iterations=5
            )
            trainer = pl.Trainer(
                max_epochs=args.search_epochs,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                num_sanity_val_steps=0,
                accelerator="cpu",
            )
            t0 = time.perf_counter()
            trainer.fit(
                module,
                train_dataloaders=bilevel_loader(splits, batch_size=64, seed=seed),
                val_dataloaders=splits.loader("val", batch_size=512),
            )
            cost = time.perf_counter() - t0
            if method == "darts":
                budget = cost
            config = module.derive()
            report = collapse_report(config, eigenvalues=module.eigenvalues)
            final = train_from_scratch(space, config, splits, epochs=args.final_epochs, seed=seed)
            rows.append((seed, method, cost, final["test_acc"], space.to_arch_str(config), report))
            print(rows[-1][:5], f"collapsed={report.collapsed}", flush=True)
        budget = budget or 300.0
        t0 = time.perf_counter()

        def proxy(c, space=space, splits=splits, seed=seed):
            return train_from_scratch(space, c, splits, epochs=args.proxy_epochs, seed=seed)[
                "val_acc"
            ]

        history = aging_evolution(space, proxy, budget_s=budget, seed=seed)
        cost = time.perf_counter() - t0
        best = max(history, key=lambda cf: cf[1])[0]
        final = train_from_scratch(space, best, splits, epochs=args.final_epochs, seed=seed)
        report = collapse_report(best)
        rows.append(
            (
                seed,
                f"RE ({len(history)} cands)",
                cost,
                final["test_acc"],
                space.to_arch_str(best),
                report,
            )
        )
        print(rows[-1][:5], flush=True)

    print(
        f"\ndataset={args.dataset} channels={args.channels} N=1 search_epochs={args.search_epochs} "
        f"final_epochs={args.final_epochs} RE proxy_epochs={args.proxy_epochs}"
    )
    print(
        f"{'seed':>4} {'method':<18} {'search_s':>8} {'test_acc':>8} {'skip%':>5} "
        f"{'eig':>7} {'collapsed':>9}  cell"
    )
    for seed, method, cost, acc, arch, rep in rows:
        eig = f"{rep.eigenvalue:.3f}" if rep.eigenvalue is not None else "-"
        print(
            f"{seed:>4} {method:<18} {cost:8.0f} {acc:8.3f} {rep.skip_share:5.0%} {eig:>7} "
            f"{str(rep.collapsed):>9}  {arch}"
        )


if __name__ == "__main__":
    main()
