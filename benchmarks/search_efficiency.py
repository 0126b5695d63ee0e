"""Search efficiency of raynas's strategies on tabular NAS-Bench-201, next to Optuna and hyperopt.

Every query is a table lookup (no training), so many seeded runs are cheap. Protocol (the one of
../shared/benchmarks/README.md): the search sees `--signal` (12-epoch CIFAR-10 validation
accuracy); for the cell with the best signal among the first B distinct queries we report
`--report` (200-epoch test accuracy), mean ± std over seeds.

Budgets count queries: every trial a method asks for is one query, as every trial costs a
training in a real search (`--repeats count`, the default, and Optuna's `n_trials`). raynas
strategies never ask twice for the same config; the peers (Optuna, hyperopt) do not deduplicate,
so their repeats spend budget. With `--repeats free` a repeat is answered again without spending
budget (a cache in front of the peers).

Keying (`--dedup`, default `auto`): the single-objective part keys isomorphic cells together
(`iso`: they compute the same function, so a raynas strategy never pays for a second member of a
class; a peer's repeat within a class is answered with the class's first value). The
multi-objective part keys every cell apart (`cell`, `NB201CellSpace(merge_isomorphic=False)`):
the latency table measures a cell's dead operations too, so isomorphic cells differ in latency
(the 250 identity-equivalent cells range from 0.029 to 0.40 of the maximum), and the true front
holds 37 cells in 31 classes. Under `iso` keying a strategy gets one member of each class, the
first it asks, which caps front recall by cells. The issue's peer figures match `cell` keying.

Multi-objective part: validation accuracy vs `--mo-cost` latency (`lat_ms_pixel3`) for
`--mo-budget` queries: hypervolume of the evaluated cells in (1 - acc/100, latency / max latency)
with reference (1, 1), divided by the hypervolume of the whole table, and front recall (share of
the table's true Pareto-front cells that were evaluated, and of their isomorphism classes).
Every raynas strategy runs with the setting `get_strategy` builds by name (its preset,
`raynas.strategies.preset`, given the number of queries); for the predictor
`PredictorGuided(surrogate={0: Surrogate(regressor="trees", inputs="function_paths")},
acquisition=Acquisition(multi_objective="pfront"), local=Neighbourhood(twins=0.25),
focus=Focus(first=budget // 3, num_climbs=10), sandwich="smallest")`: a single-objective search finds the accurate end of the front, then the smallest cell is
evaluated and each query is the front neighbour (or, a quarter of the steps, the unseen
isomorphic twin) most likely to lie on the front of the observed and the other candidates.
Accuracy is modelled by extra trees on what each cell computes (`NB201CellSpace.function_paths`:
its live paths by their ops, identities contracted), latency by ridge regression on what it
runs (`space.features`: the one-hot of each edge, the path encoding and the function
features). `--set 'predictor.acquisition={"multi_objective": "eps"}'` etc. override a part
(a JSON object of its fields) or an argument.
`--dump runs.json` keeps every run's asked rows, to see which front cells each seed found.

`--proxy synflow` gives the predictor's surrogate one more input, each cell's log synflow
(`raynas.proxies.Synflow` on the NAS-Bench-201 CIFAR network, computed once for the whole table
into `--proxy-cache`: about 7 minutes on 2 cores, then read back). It is a zero-cost proxy: no
training and no data, what a real search computes for each candidate it ranks (about 35 ms a
cell on one core), so queries still count trainings only; but the peers get nothing like it,
so report these runs apart from the default protocol.

Speed part: ask() and tell() times of each strategy after 10,000 told results (every cell keyed
apart, so 15,625 distinct configs): median, mean and max over `--speed-reps` asks.

Usage (from the project root)::

    python benchmarks/search_efficiency.py --table ../shared/benchmarks/nb201_cifar10.csv \\
        --latency ../shared/benchmarks/nb201_latency.csv --budget 100 --seeds 30 \\
        --strategies random,evolution,tpe,reinforce,predictor --jobs 2
    # the same objective through tune.Tuner and the raynas Searcher adapter:
    python benchmarks/search_efficiency.py --table ... --tune --seeds 3 --strategies evolution
    # the multi-objective part through tune.Tuner (two metrics and modes in the adapter):
    python benchmarks/search_efficiency.py --table ... --latency ... --tune --parts mo --seeds 5
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

SO_STRATEGIES = ["random", "evolution", "tpe", "reinforce", "predictor"]
SO_PEERS = ["optuna-tpe", "hyperopt-tpe"]
MO_STRATEGIES = ["random", "nsga2", "predictor"]
MO_PEERS = ["optuna-nsga2", "optuna-motpe"]
#: `--set STRATEGY.ARG=JSON` overrides, on top of the library's preset of each strategy
#: (`raynas.strategies.preset`: the setting `get_strategy` builds by name, the one measured here).
OVERRIDES: dict[str, dict[str, Any]] = {}


def strategy_args(name: str, budget: int) -> dict[str, Any]:
    """What a raynas strategy gets here beyond its preset: the number of trials (the preset
    scales its phases to it) and the `--set` overrides."""
    return {"num_samples": budget, **OVERRIDES.get(name, {})}


# -- the objective ------------------------------------------------------------------------------
_BENCH: dict[str, Any] = {}


def make_space(dedup: str) -> Any:
    """The NAS-Bench-201 cell space with fixed training values (only the 6 edges are searched)."""
    from raynas.search_spaces import NB201CellSpace

    return NB201CellSpace(
        input_shape=(3, 32, 32),
        num_classes=10,
        learning_rate=0.1,
        weight_decay=5e-4,
        batch_size=256,
        merge_isomorphic=dedup != "cell",
    )


def table_args(a: argparse.Namespace) -> argparse.Namespace:
    """What :func:`load` needs, for scripts that take ``--table``, ``--latency``, ``--signal`` and
    ``--mo-cost`` of their own: every cell keyed apart, as in the multi-objective part."""
    return argparse.Namespace(
        table=a.table,
        latency=a.latency,
        signal=a.signal,
        report=a.signal,
        mo_cost=a.mo_cost,
        dedup="cell",
        repeats="count",
    )


def load(args: argparse.Namespace) -> dict[str, Any]:
    """Load the tables once per process."""
    if _BENCH.get("args") == vars(args):
        return _BENCH
    from raynas.pareto import hypervolume, pareto_front
    from raynas.tabular import TabularBenchmark

    space = make_space(args.dedup)
    costs = [args.mo_cost] if args.latency else []
    bench = TabularBenchmark(
        args.table,
        space=space,
        signal=args.signal,
        report=args.report,
        costs=costs,
        join=args.latency,
    )
    _BENCH.clear()
    _BENCH.update(args=vars(args), space=space, bench=bench)
    if getattr(args, "proxy", None) == "synflow":
        _BENCH["proxy"] = synflow_table(args, bench, space)
    if args.latency:
        acc = bench.values(args.signal)
        lat = bench.values(args.mo_cost)
        points = np.c_[1.0 - acc / 100.0, lat / np.nanmax(lat)]
        front = pareto_front(points)
        _BENCH.update(points=points, front=set(front.tolist()), hv=hypervolume(points, [1, 1]))
    return _BENCH


def _synflow_chunk(task: tuple[list[str], str]) -> list[float]:
    import torch

    from raynas.proxies import Synflow

    arch_strs, dedup = task
    if torch.get_num_threads() > 1 and multiprocessing.parent_process() is not None:
        # one thread per pool worker: two workers of two threads each on two cores spun against
        # one another (no cache after 25 minutes; one thread each: 443 s for the 15,625 cells)
        torch.set_num_threads(1)
    space = make_space(dedup)
    proxy = Synflow(space)
    return [proxy(space.from_arch_str(a))[0] for a in arch_strs]


def synflow_table(args: argparse.Namespace, bench: Any, space: Any) -> dict[str, float]:
    """``log1p(synflow)`` of every cell of the table, from ``--proxy-cache`` or computed there.

    The proxy needs no training data, only the network: it is what a search would compute for
    each candidate it ranks (about 35 ms a cell on one core); precomputed once here so that
    30-seed runs do not recompute it thousands of times.
    """
    import csv

    cells = [space.to_arch_str(bench.config(r)) for r in range(len(bench))]
    path = args.proxy_cache
    if os.path.exists(path):
        with open(path, newline="") as f:
            table = {row["arch_str"]: float(row["log1p_synflow"]) for row in csv.DictReader(f)}
        if all(c in table for c in cells):
            return table
    jobs = max(1, args.jobs)
    chunks = [(cells[i :: jobs * 8], "cell") for i in range(jobs * 8)]
    start = time.perf_counter()
    if jobs == 1:
        parts = [_synflow_chunk(c) for c in chunks]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            parts = list(pool.map(_synflow_chunk, chunks))
    table = {
        a: v
        for (arch, _), vals in zip(chunks, parts, strict=True)
        for a, v in zip(arch, vals, strict=True)
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch_str", "log1p_synflow"])
        w.writerows(sorted(table.items()))
    print(
        f"(synflow of {len(table)} cells in {time.perf_counter() - start:.0f} s, cached in {path})"
    )
    return table


class TableProxy:
    """``extra_features`` for the predictor: a cell's precomputed ``log1p(synflow)``."""

    def __init__(self, space: Any, table: dict[str, float]) -> None:
        self.space, self.table = space, table

    def __call__(self, config: dict[str, Any]) -> list[float]:
        return [self.table[self.space.to_arch_str(config)]]


class Evaluator:
    """Answers queries by key and records the rows that spent budget, in order.

    A repeat (same key) is answered with the value seen first; it spends budget unless
    ``repeats_free``.
    """

    def __init__(self, b: dict[str, Any]) -> None:
        self.space, self.bench = b["space"], b["bench"]
        self.repeats_free = b["args"]["repeats"] == "free"
        self.seen: dict[str, tuple[int, dict[str, float]]] = {}
        self.rows: list[int] = []

    def __call__(self, config: dict[str, Any]) -> dict[str, float]:
        key = self.space.key(config)
        if key not in self.seen:
            self.seen[key] = (self.bench.row(config), self.bench.query(config))
            self.rows.append(self.seen[key][0])
        elif not self.repeats_free:
            self.rows.append(self.seen[key][0])
        return self.seen[key][1]


# -- one run --------------------------------------------------------------------------------------
def run_raynas(name: str, seed: int, budget: int, objectives: list[str], b: dict) -> list[int]:
    from raynas.strategies import get_strategy

    ev = Evaluator(b)
    kwargs = strategy_args(name, budget)
    if name == "predictor" and "proxy" in b:
        kwargs["extra_features"] = TableProxy(b["space"], b["proxy"])
    strategy = get_strategy(name, space=b["space"], objectives=objectives, seed=seed, **kwargs)
    while len(ev.rows) < budget:
        config = strategy.ask()
        strategy.tell(config, ev(config))
    return ev.rows


def _nb201_config(space: Any, suggest: Callable[[str, list[str]], str]) -> dict[str, Any]:
    config = space.default_config()
    for edge in EDGES:
        config[edge] = suggest(edge, OPS)
    return space.validate(config)


def run_optuna(kind: str, seed: int, budget: int, objectives: list[str], b: dict) -> list[int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ev = Evaluator(b)
    names = [o.split(":")[0] for o in objectives]
    directions = ["maximize" if o.endswith(":max") else "minimize" for o in objectives]
    if kind == "optuna-nsga2":
        sampler: Any = optuna.samplers.NSGAIISampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(directions=directions, sampler=sampler)
    for _ in range(30 * budget):
        if len(ev.rows) >= budget:
            break
        trial = study.ask()
        config = _nb201_config(b["space"], trial.suggest_categorical)
        metrics = ev(config)
        values = [metrics[n] for n in names]
        study.tell(trial, values[0] if len(values) == 1 else values)
    return ev.rows


def run_hyperopt(seed: int, budget: int, objectives: list[str], b: dict) -> list[int]:
    from hyperopt import STATUS_OK, Trials, fmin, hp, tpe

    ev = Evaluator(b)
    name = objectives[0].split(":")[0]
    sign = -1.0 if objectives[0].endswith(":max") else 1.0
    hp_space = {e: hp.choice(e, OPS) for e in EDGES}

    def objective(cfg: dict[str, str]) -> dict[str, Any]:
        config = _nb201_config(b["space"], lambda e, _: cfg[e])
        return {"loss": sign * ev(config)[name], "status": STATUS_OK}

    fmin(
        objective,
        hp_space,
        algo=tpe.suggest,
        max_evals=30 * budget,
        trials=Trials(),
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
        early_stop_fn=lambda *_: (len(ev.rows) >= budget, []),
    )
    return ev.rows


def run_method(task: tuple[str, int, int, list[str], argparse.Namespace]) -> tuple[Any, ...]:
    method, seed, budget, objectives, args = task
    b = load(args)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method.startswith("optuna-"):
            rows = run_optuna(method, seed, budget, objectives, b)
        elif method == "hyperopt-tpe":
            rows = run_hyperopt(seed, budget, objectives, b)
        else:
            rows = run_raynas(method, seed, budget, objectives, b)
    return method, seed, rows, time.perf_counter() - start


# -- figures --------------------------------------------------------------------------------------
def best_report(rows: Sequence[int], upto: int, b: dict, args: argparse.Namespace) -> float:
    rows = list(rows[:upto])
    signal = b["bench"].values(args.signal)[rows]
    return float(b["bench"].values(args.report)[rows[int(np.nanargmax(signal))]])


def mo_figures(rows: Sequence[int], b: dict) -> tuple[float, float, float]:
    from raynas.pareto import hypervolume

    hv = hypervolume(b["points"][list(rows)], [1, 1]) / b["hv"]
    front = b["front"]
    found = front & set(rows)
    iso = b["bench"].frame["iso_group"].to_numpy() if "iso_group" in b["bench"].frame else None
    iso_recall = math.nan
    if iso is not None:
        groups = {iso[i] for i in front}
        iso_recall = len(groups & {iso[i] for i in rows}) / len(groups)
    return hv, len(found) / len(front), iso_recall


def _one_thread() -> None:
    """Worker initializer: one BLAS/OpenMP thread per worker process. With ``--jobs`` workers
    on as many cores, each worker's numpy and scikit-learn would otherwise start a thread per
    core: on 2 cores with 2 jobs a multi-objective predictor run took 55.5 s against 20.3 s
    with one thread (30 seeds, the same asks), the whole multi-objective part 17 minutes
    against 6.5."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # for the libraries a run loads later (scipy's, scikit-learn's)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # for those already loaded (numpy's)


def run_all(tasks: list[tuple], jobs: int) -> list[tuple]:
    if jobs <= 1:
        return [run_method(t) for t in tasks]
    with ProcessPoolExecutor(jobs, initializer=_one_thread) as pool:
        return list(pool.map(run_method, tasks, chunksize=1))


def single_objective(args: argparse.Namespace, methods: list[str]) -> None:
    if args.dedup == "auto":  # accuracy is a property of the function: isomorphic cells are one
        args = argparse.Namespace(**{**vars(args), "dedup": "iso"})
    checkpoints = sorted({*args.budgets, args.budget})
    objectives = [f"{args.signal}:max"]
    seeds = range(args.seed0, args.seed0 + args.seeds)
    tasks = [(m, s, max(checkpoints), objectives, args) for m in methods for s in seeds]
    results = run_all(tasks, args.jobs)
    b = load(args)
    print(
        f"\n## single objective: best-by-`{args.signal}` cell's `{args.report}`, "
        f"mean ± std over {args.seeds} seeds (dedup: {args.dedup}, repeats: {args.repeats})"
    )
    print("| method | " + " | ".join(f"{c} queries" for c in checkpoints) + " | s/run |")
    print("| --- | " + " | ".join("---" for _ in checkpoints) + " | --- |")
    for m in methods:
        runs = [r for r in results if r[0] == m]
        cells = []
        for c in checkpoints:
            v = np.array([best_report(rows, c, b, args) for _, _, rows, _ in runs])
            cells.append(f"{v.mean():.2f} ± {v.std():.2f}")
        secs = np.mean([t for *_, t in runs])
        print(f"| {m} | " + " | ".join(cells) + f" | {secs:.1f} |")
    print(f"(optimum of `{args.report}`: {b['bench'].oracle():.2f})")
    if args.dump:
        dump(args.dump if "mo" not in args.parts else f"{args.dump}.so.json", results, b, "so")


def multi_objective(args: argparse.Namespace, methods: list[str]) -> None:
    if args.dedup == "auto":  # latency is measured per cell, so every cell is its own config
        args = argparse.Namespace(**{**vars(args), "dedup": "cell"})
    objectives = [f"{args.signal}:max", f"{args.mo_cost}:min"]
    seeds = range(args.seed0, args.seed0 + (args.mo_seeds or args.seeds))
    tasks = [(m, s, args.mo_budget, objectives, args) for m in methods for s in seeds]
    results = run_all(tasks, args.jobs)
    b = load(args)
    print(
        f"\n## multi objective: `{args.signal}` (max) vs `{args.mo_cost}` (min), "
        f"{args.mo_budget} queries, {len(seeds)} seeds, dedup: {args.dedup}; "
        f"true front: {len(b['front'])} cells"
    )
    print("| method | HV ratio | front recall (cells) | front recall (iso classes) | s/run |")
    print("| --- | --- | --- | --- | --- |")
    for m in methods:
        runs = [r for r in results if r[0] == m]
        figs = np.array([mo_figures(rows, b) for _, _, rows, _ in runs])
        secs = np.mean([t for *_, t in runs])
        print(
            f"| {m} | {figs[:, 0].mean():.4f} ± {figs[:, 0].std():.4f} | "
            f"{100 * figs[:, 1].mean():.1f}% ± {100 * figs[:, 1].std():.1f} | "
            f"{100 * figs[:, 2].mean():.1f}% | {secs:.1f} |"
        )

    if args.dump:
        dump(args.dump, results, b, "mo")


def dump(path: str, results: list[tuple], b: dict, part: str) -> None:
    """Write every run (method, seed, table rows asked in order) of ``part`` to ``path`` as
    JSON; the multi-objective part adds each run's figures and the true front's rows."""
    runs = [
        {"method": m, "seed": s, "rows": [int(r) for r in rows], "seconds": t}
        for m, s, rows, t in results
    ]
    out: dict[str, Any] = {"part": part, "runs": runs}
    if part == "mo":
        for run in runs:
            run["hv_ratio"], run["front_recall"], _ = mo_figures(run["rows"], b)
        out["front"] = sorted(int(i) for i in b["front"])
    with open(path, "w") as f:
        json.dump(out, f)


def speed(args: argparse.Namespace, methods: list[str]) -> None:
    """ask() and tell() time after 10,000 told results (cell-keyed space: 15,625 distinct)."""
    from raynas.strategies import get_strategy
    from raynas.tabular import TabularBenchmark

    space = make_space("cell")
    bench = TabularBenchmark(
        args.table,
        space=space,
        signal=args.signal,
        costs=[args.mo_cost] if args.latency else [],
        join=args.latency,
    )
    order = np.random.default_rng(0).permutation(len(bench))[: args.speed_n]
    configs = [bench.config(int(i)) for i in order]
    metrics = [bench.query(c) for c in configs]
    print(
        f"\n## speed: ask() and tell() after {args.speed_n} told results "
        f"(ms, median / mean / max over {args.speed_reps} asks after one warm-up ask)"
    )
    print("| strategy | ask | tell |")
    print("| --- | --- | --- |")
    for m in methods:
        objectives = [f"{args.signal}:max"]
        if m in ("nsga2",):
            objectives.append(f"{args.mo_cost}:min")
        kwargs = strategy_args(m, args.budget)
        s = get_strategy(m, space=space, objectives=objectives, seed=0, **kwargs)
        t0 = time.perf_counter()
        for c, mt in zip(configs, metrics, strict=True):
            s.tell(c, mt)
        fill = time.perf_counter() - t0
        c = s.ask()  # warm-up: imports (scikit-learn, hyperopt) happen once per process
        s.tell(c, bench.query(c))
        asks, tells = [], []
        for _ in range(args.speed_reps):
            t = time.perf_counter()
            c = s.ask()
            asks.append(time.perf_counter() - t)
            mt = bench.query(c)
            t = time.perf_counter()
            s.tell(c, mt)
            tells.append(time.perf_counter() - t)
        a, t_ = 1e3 * np.array(asks), 1e3 * np.array(tells)
        print(
            f"| {m} | {np.median(a):.2f} / {a.mean():.2f} / {a.max():.1f} | "
            f"{np.median(t_):.2f} / {t_.mean():.2f} / {t_.max():.1f} |"
            f"  (telling {args.speed_n} took {fill:.1f} s)"
        )


# -- through tune.Tuner -----------------------------------------------------------------------------
def _tabular_trial(config: dict[str, Any], bench: Any = None) -> None:
    from ray import tune

    tune.report(bench.query(config))


def tune_mode(args: argparse.Namespace, methods: list[str]) -> None:
    import ray

    from raynas.tune import Searcher

    b = load(args)
    space = b["space"]
    budget = max(sorted({*args.budgets, args.budget}))
    checkpoints = [c for c in sorted({*args.budgets, args.budget}) if c <= budget]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        print(
            f"\n## through tune.Tuner + raynas.tune.Searcher ({args.seeds} seeds, "
            f"max_concurrent_trials=2)"
        )
        print("| method | " + " | ".join(f"{c} queries" for c in checkpoints) + " | s/run |")
        print("| --- | " + " | ".join("---" for _ in checkpoints) + " | --- |")
        for m in methods:
            vals: dict[int, list[float]] = {c: [] for c in checkpoints}
            secs = []
            for seed in range(args.seed0, args.seed0 + args.seeds):
                searcher = Searcher(
                    m,
                    space=space,
                    metric=args.signal,
                    mode="max",
                    seed=seed,
                    **strategy_args(m, budget),
                )
                rows, sec = _tune_rows(searcher, budget, f"{m}_{seed}", b, args)
                secs.append(sec)
                for c in checkpoints:
                    vals[c].append(best_report(rows, c, b, args))
            cells = [f"{np.mean(vals[c]):.2f} ± {np.std(vals[c]):.2f}" for c in checkpoints]
            print(f"| {m} (Tune) | " + " | ".join(cells) + f" | {np.mean(secs):.1f} |")
    finally:
        ray.shutdown()


def _tune_rows(searcher: Any, budget: int, name: str, b: dict, args: argparse.Namespace):
    """Run ``budget`` trials of the table objective through tune.Tuner; rows in report order."""
    from ray import tune

    start = time.perf_counter()
    tuner = tune.Tuner(
        tune.with_parameters(_tabular_trial, bench=b["bench"]),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            num_samples=budget,
            max_concurrent_trials=2,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            storage_path=os.path.abspath(args.tune_storage),
            name=name,
            verbose=0,
        ),
    )
    grid = tuner.fit()
    secs = time.perf_counter() - start
    done = sorted(
        (r for r in grid if r.metrics and args.signal in r.metrics),
        key=lambda r: r.metrics["timestamp"],
    )
    return [b["bench"].row(r.config) for r in done], secs


def tune_mode_mo(args: argparse.Namespace, methods: list[str]) -> None:
    """The multi-objective part through tune.Tuner: the adapter with two metrics and modes."""
    import ray

    from raynas.tune import Searcher

    if args.dedup == "auto":
        args = argparse.Namespace(**{**vars(args), "dedup": "cell"})
    b = load(args)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        print(
            f"\n## multi objective through tune.Tuner + raynas.tune.Searcher ({args.seeds} "
            f"seeds, {args.mo_budget} trials, max_concurrent_trials=2, dedup: {args.dedup})"
        )
        print("| method | HV ratio | front recall (cells) | front recall (iso classes) | s/run |")
        print("| --- | --- | --- | --- | --- |")
        for m in methods:
            figs, secs = [], []
            for seed in range(args.seed0, args.seed0 + args.seeds):
                searcher = Searcher(
                    m,
                    space=b["space"],
                    metric=[args.signal, args.mo_cost],
                    mode=["max", "min"],
                    seed=seed,
                    **strategy_args(m, args.mo_budget),
                )
                rows, sec = _tune_rows(searcher, args.mo_budget, f"mo_{m}_{seed}", b, args)
                figs.append(mo_figures(rows, b))
                secs.append(sec)
            f = np.array(figs)
            print(
                f"| {m} (Tune) | {f[:, 0].mean():.4f} ± {f[:, 0].std():.4f} | "
                f"{100 * f[:, 1].mean():.1f}% ± {100 * f[:, 1].std():.1f} | "
                f"{100 * f[:, 2].mean():.1f}% | {np.mean(secs):.1f} |"
            )
    finally:
        ray.shutdown()


# -- NAS-Bench-201 names ----------------------------------------------------------------------------
EDGES = ["edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"]
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", required=True, help="nb201_cifar10.csv")
    p.add_argument("--latency", default=None, help="nb201_latency.csv (multi-objective part)")
    p.add_argument("--signal", default="cifar10valid_val_12ep")
    p.add_argument("--report", default="cifar10_test_200ep")
    p.add_argument("--mo-cost", default="lat_ms_pixel3")
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--budgets", default="50,100,200", help="checkpoints of the table")
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--seed0", type=int, default=0)
    p.add_argument("--strategies", default=",".join(SO_STRATEGIES))
    p.add_argument("--peers", default=",".join(SO_PEERS), help="'' for none")
    p.add_argument("--mo-strategies", default=",".join(MO_STRATEGIES))
    p.add_argument("--mo-peers", default=",".join(MO_PEERS))
    p.add_argument("--mo-budget", type=int, default=300)
    p.add_argument("--mo-seeds", type=int, default=None)
    p.add_argument("--speed-n", type=int, default=10_000)
    p.add_argument("--speed-reps", type=int, default=400, help="timed asks per strategy")
    p.add_argument("--parts", default="so,mo,speed", help="any of so, mo, speed")
    p.add_argument(
        "--dedup",
        choices=["auto", "iso", "cell"],
        default="auto",
        help="auto: iso for the single-objective part, cell for the multi-objective part",
    )
    p.add_argument(
        "--repeats",
        choices=["count", "free"],
        default="count",
        help="whether a peer's repeated query spends budget",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="STRATEGY.ARG=JSON",
        help="override a raynas strategy's argument, e.g. predictor.num_initial=20 or "
        "'predictor.local={\"rate\": 1.0}' (a part as a JSON object of its fields)",
    )
    p.add_argument(
        "--proxy",
        choices=["none", "synflow"],
        default="none",
        help="synflow: the predictor's surrogate also takes each cell's log synflow, a "
        "zero-cost proxy computed from the untrained network (raynas.proxies); reported apart "
        "from the default protocol, as the peers get no proxy",
    )
    p.add_argument(
        "--proxy-cache",
        default=os.path.join(
            os.path.dirname(os.path.abspath(__file__)), ".cache", "nb201_synflow.csv"
        ),
        help="CSV of the proxy per cell, computed on first use",
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument(
        "--dump",
        default=None,
        metavar="PATH",
        help="write every run (method, seed, table rows asked in order; in the multi-objective "
        "part its HV ratio, front recall and the true front's rows) to PATH as JSON (with both "
        "parts, the single-objective runs go to PATH.so.json)",
    )
    p.add_argument("--tune", action="store_true", help="run the strategies through tune.Tuner")
    p.add_argument("--tune-storage", default="/tmp/raynas_search_efficiency")
    args = p.parse_args(argv)
    args.budgets = [int(x) for x in args.budgets.split(",") if x]
    for item in args.set:
        name, _, value = item.partition("=")
        strategy, _, arg = name.partition(".")
        if not arg or not value:
            p.error(f"--set wants STRATEGY.ARG=JSON, e.g. predictor.num_initial=20; got {item!r}")
        OVERRIDES.setdefault(strategy, {})[arg] = json.loads(value)
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    print(f"# search efficiency on {args.table} ({' '.join(sys.argv[1:])})")
    parts = split(args.parts)
    if args.tune:
        if "so" in parts:
            tune_mode(args, split(args.strategies))
        if "mo" in parts and args.latency:
            tune_mode_mo(args, split(args.mo_strategies))
        return
    if "so" in parts:
        single_objective(args, split(args.strategies) + split(args.peers))
    if "mo" in parts and args.latency:
        multi_objective(args, split(args.mo_strategies) + split(args.mo_peers))
    if "speed" in parts:
        names = list(dict.fromkeys(split(args.strategies) + ["nsga2"]))
        speed(args, names)


if __name__ == "__main__":
    main()
