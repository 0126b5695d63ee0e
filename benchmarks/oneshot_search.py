"""DARTS / DARTS (2nd order) / GDAS / DARTS- vs regularized evolution at equal wall time.

Each gradient method searches the NAS-Bench-201 cell on the train/val halves of the data; its
derived cell is then trained from scratch (train split) and tested (test split). Regularized
(aging) evolution, raynas's own ``raynas.strategies.RegularizedEvolution`` driven by ask/tell,
gets the wall time of the first-order DARTS search of the same seed (or ``--evolution-seconds``),
scoring each candidate by a short from-scratch training (``--proxy-epochs`` on train, accuracy on
val; test is never looked at); its best cell is trained with the same final protocol as the
gradient methods. Tiny networks and one thread, for 2 shared cores::

    .venv/bin/python benchmarks/oneshot_search.py --dataset digits --seeds 0 1 2 \\
        --methods darts gdas darts- --search-epochs 6 --final-epochs 10

(about 5 minutes for 5 seeds on one thread; add ``darts2`` and ``--search-epochs 15
--final-epochs 15`` for about 4 minutes per seed.) Prints one markdown row per (seed, method) and a
summary: search seconds (for RE, all its proxy trainings), test accuracy of the derived cell
trained from scratch (mean ± std over seeds) and the collapse flag with the criterion that fired.
The RE row also gives the number of candidates it evaluated. ``skip%`` is the detector's share of
skip/none edges; ``param-free%`` also counts avg_pool, the other op without weights. The gradient
methods are deterministic per seed; RE's candidate count depends on the machine's speed.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _oneshot_common import regularized_evolution, train_from_scratch  # noqa: E402

from raynas.oneshot import bilevel_loader, collapse_report, load_splits, make_search  # noqa: E402
from raynas.search_spaces import NB201CellSpace  # noqa: E402

METHODS = ("darts", "darts2", "gdas", "darts-")
EVOLUTION = "RE"
#: Ops with no weights. The collapse detector counts skip_connect/none only; an all-avg_pool
#: cell is parameter-free too, so the table shows both shares.
PARAM_FREE = ("skip_connect", "none", "avg_pool_3x3")


def _mean_std(values: list[float], fmt: str) -> str:
    if len(values) < 2:
        return format(values[0], fmt)
    return f"{format(statistics.mean(values), fmt)} ± {format(statistics.stdev(values), fmt)}"


def _param_free(arch: str) -> float:
    """Share of the cell's edges without weights: skip/none (the detector's) plus avg_pool."""
    ops = [tok.split("~")[0] for tok in arch.split("|") if "~" in tok]
    return sum(op in PARAM_FREE for op in ops) / len(ops)


def _why(report) -> str:
    """``False``, or ``True`` with the criteria that fired (derived cell, eigenvalue growth)."""
    if not report.collapsed:
        return "False"
    why = []
    if any("skip_connect" in r for r in report.reasons):
        why.append("skip/none share")
    if any("eigenvalue" in r for r in report.reasons):
        why.append("eigenvalue growth")
    return f"True ({', '.join(why)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits", choices=["digits", "mnist1d"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--search-epochs", type=int, default=15)
    ap.add_argument("--final-epochs", type=int, default=15)
    ap.add_argument("--proxy-epochs", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument(
        "--evolution-seconds",
        type=float,
        default=None,
        help="wall-time budget of regularized evolution (default: the darts search time)",
    )
    ap.add_argument("--population", type=int, default=10)
    ap.add_argument("--tournament", type=int, default=3)
    args = ap.parse_args()
    if args.evolution_seconds is None and "darts" not in args.methods:
        ap.error("--evolution-seconds is required when `darts` is not among --methods")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    import pytorch_lightning as pl

    rows = []  # (seed, method, search_s, test_acc, arch, report, note)
    wall0 = time.perf_counter()
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
        budget = args.evolution_seconds
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
            if method == "darts" and args.evolution_seconds is None:
                budget = cost
            config = module.derive()
            report = collapse_report(config, eigenvalues=module.eigenvalues)
            final = train_from_scratch(space, config, splits, epochs=args.final_epochs, seed=seed)
            rows.append(
                (seed, method, cost, final["test_acc"], space.to_arch_str(config), report, "")
            )
            print(*rows[-1][:5], f"collapsed={report.collapsed}", flush=True)

        strategy, cost = regularized_evolution(
            space,
            splits,
            budget_s=budget,
            proxy_epochs=args.proxy_epochs,
            seed=seed,
            population_size=args.population,
            sample_size=args.tournament,
        )
        best = strategy.best()
        final = train_from_scratch(space, best.config, splits, epochs=args.final_epochs, seed=seed)
        note = (
            f"{len(strategy.observations)} candidates in {budget:.0f} s budget, "
            f"best proxy val_acc {best.metrics['val_acc']:.3f}"
        )
        rows.append(
            (
                seed,
                EVOLUTION,
                cost,
                final["test_acc"],
                space.to_arch_str(best.config),
                collapse_report(best.config),
                note,
            )
        )
        print(*rows[-1][:5], note, flush=True)

    print(
        f"\ndataset={args.dataset} channels={args.channels} N=1 search_epochs={args.search_epochs} "
        f"final_epochs={args.final_epochs} RE proxy_epochs={args.proxy_epochs} "
        f"population={args.population} tournament={args.tournament} "
        f"total wall {time.perf_counter() - wall0:.0f} s\n"
    )
    print(
        "| seed | method | search s | test acc | skip% | param-free% | last eig | eig growth "
        "| collapsed | cell | note |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|")
    for seed, method, cost, acc, arch, rep, note in rows:
        eig = f"{rep.eigenvalue:.3f}" if rep.eigenvalue is not None else "-"
        cell = arch.replace("|", "\\|")  # a bare | would split the markdown cell
        growth = f"{rep.eigenvalue_growth:.2f}x" if rep.eigenvalue_growth is not None else "-"
        print(
            f"| {seed} | {method} | {cost:.0f} | {acc:.3f} | {rep.skip_share:.0%} | "
            f"{_param_free(arch):.0%} | {eig} | "
            f"{growth} | {_why(rep)} | `{cell}` | {note} |"
        )
    print(
        "\n| method | seeds | search s (mean ± std) | test acc per seed | test acc (mean ± std) "
        "| collapsed |"
    )
    print("|---|---|---:|---|---:|---|")
    for method in [*args.methods, EVOLUTION]:
        mine = [r for r in rows if r[1] == method]
        seeds = " ".join(str(r[0]) for r in mine)
        accs = [r[3] for r in mine]
        per_seed = " / ".join(f"{a:.3f}" for a in accs)
        flags = sum(r[5].collapsed for r in mine)
        print(
            f"| {method} | {seeds} | {_mean_std([r[2] for r in mine], '.0f')} | {per_seed} | "
            f"{_mean_std(accs, '.3f')} | {flags}/{len(mine)} |"
        )


if __name__ == "__main__":
    main()
