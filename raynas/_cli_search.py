"""The search subcommands of the ``raynas`` CLI: run, resume, report, export."""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="YAML search config (see raynas.config for the keys)")
    p.add_argument("--storage-path", help="override `storage_path` of the config")
    p.add_argument("--name", help="override `name` (the experiment folder) of the config")
    p.add_argument("--budget", type=int, help="override `budget` (number of candidates)")
    p.add_argument(
        "--plot",
        default=None,
        help="write the Pareto plot here (default: in the experiment folder)",
    )
    p.add_argument("--export", default=None, help="export the front's models into this folder")
    p.add_argument("--top", type=int, default=None, help="with --export: at most this many models")


def cmd_run(args: argparse.Namespace) -> int:
    from raynas.config import load_config
    from raynas.frontdoor.plan import make_plan
    from raynas.frontdoor.run import fit

    print(f"[raynas] checking the config {args.config}", flush=True)
    opts = load_config(args.config)
    changes = {k: getattr(args, k) for k in ("storage_path", "name", "budget")}
    changes = {k: v for k, v in changes.items() if v is not None}
    if opts.name is None and "name" not in changes:
        changes["name"] = os.path.splitext(os.path.basename(args.config))[0]
    if changes:
        opts = opts.replace(**changes)
    results = fit(make_plan(opts), restore=False)
    _finish(results, args.plot, args.export, args.top)
    return 0


def add_resume(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="the experiment folder of a stopped search")
    p.add_argument("--plot", default=None, help="write the Pareto plot here")
    p.add_argument("--export", default=None, help="export the front's models into this folder")
    p.add_argument("--top", type=int, default=None, help="with --export: at most this many models")


def cmd_resume(args: argparse.Namespace) -> int:
    from raynas.frontdoor import resume

    results = resume(args.path)
    _finish(results, args.plot, args.export, args.top)
    return 0


def add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="the experiment folder of a search")
    p.add_argument(
        "--plot", default=None, help="write the Pareto plot here (default: PATH/pareto.png)"
    )
    p.add_argument("--all", action="store_true", help="list every candidate, not just the front")
    p.add_argument("--csv", default=None, help="also write every candidate to this CSV file")


def cmd_report(args: argparse.Namespace) -> int:
    from raynas.frontdoor import results as load_results

    res = load_results(args.path)
    _print_summary(res, every=args.all)
    plot = args.plot or os.path.join(res.path or args.path, "pareto.png")
    print(f"Pareto plot: {res.plot_pareto(plot)}")
    if args.csv:
        res.to_dataframe().to_csv(args.csv, index=False)
        print(f"All candidates: {args.csv}")
    return 0


def add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="the experiment folder of a search")
    p.add_argument("--top", type=int, default=None, help="at most this many models (front first)")
    p.add_argument("--out", default=None, help="output folder (default: PATH/export)")


def cmd_export(args: argparse.Namespace) -> int:
    from raynas.frontdoor import results as load_results

    res = load_results(args.path)
    out = args.out or os.path.join(res.path or args.path, "export")
    folders = res.export(out, top=args.top)
    for f in folders:
        print(f"exported {f}")
    return 0


def _print_summary(res: Any, every: bool = False) -> None:
    from raynas.pareto import normalized_hypervolume

    feas = res.feasible()
    front = res.pareto_front()
    hv = normalized_hypervolume(
        res.objectives, [c.metrics for c in feas], front=[c.metrics for c in front]
    )
    print(f"\n{len(res)} candidates, {len(feas)} feasible; Pareto front of {len(front)} ({hv}):")
    print(res.summary_table(res.candidates if every else None, max_rows=200 if every else 20))
    bad = [c for c in res.candidates if not c.feasible]
    if bad:
        print(f"\nInfeasible candidates ({len(bad)}):")
        for c in bad[:10]:
            print(f"  {c.trial_id}: {c.reason}")


def _finish(results: Any, plot: str | None, export: str | None, top: int | None) -> None:
    _print_summary(results)
    plot = plot or os.path.join(results.path, "pareto.png")
    print(f"\nPareto plot: {results.plot_pareto(plot)}")
    if export:
        for f in results.export(export, top=top):
            print(f"exported {f}")
    print(f"Experiment folder: {results.path}  (raynas report / export / resume take it)")


COMMANDS = {
    "run": ("run a search from a YAML config", add_run, cmd_run),
    "resume": ("resume a stopped search until its budget is spent", add_resume, cmd_resume),
    "report": ("print the Pareto table of a search and write its plot", add_report, cmd_report),
    "export": (
        "export the front's models (ONNX, config, weights, metrics)",
        add_export,
        cmd_export,
    ),
}
