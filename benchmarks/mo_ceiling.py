"""How much of NAS-Bench-201's accuracy-latency front a model-guided search can find in B queries.

The multi-objective target of `search_efficiency.py` (front recall at 300 queries) depends on how
well a surrogate knows the cells next to the front. This script separates the search scheme from
the surrogate: it runs one fixed scheme, a Pareto local search (after 10 random cells, every query
is the unseen one-edge neighbour of the observed front with the best acquisition), with surrogates
of increasing knowledge, and prints front recall and hypervolume ratio (the figures of
`search_efficiency.py --parts mo`) for each:

* ``online ridge``: ridge regressions on the queried cells only, refitted every query, accuracy
  clipped at the queried cells' median (what a search can know), on the space's features
  (with ``NB201CellSpace.function_features``, as the space keys cells apart);
  ``online ridge (cell features only)`` without the function features;
* ``full-table GBT``: gradient-boosted trees fitted once on all 15,625 cells, accuracy clipped at
  the table's median (what no search can know: a ceiling for a surrogate of these features), with
  and without Thompson-style exploration noise (0.5 of the model's residual, drawn per candidate);
* ``class mean + GBT latency``: each cell's accuracy predicted as its isomorphism class's mean
  in the table (the function's accuracy; for a class of one cell, its own value), latency by
  the full-table GBT; ``class mean + error + GBT latency`` adds to each cell, once per search,
  an error drawn from the training noise (the spread of isomorphic cells around their class
  mean, 0.63 points): a surrogate as exact as retraining the cell would be;
* ``exact``: the table's own values (the ceiling of the scheme itself).

and two acquisitions (``--acquisitions``): ``hvi``, the predicted hypervolume improvement, and
``pnd``, the probability that no observed cell dominates the candidate when each prediction is
spread by its surrogate's residual (``PredictorGuided(multi_objective="pnd")``; the ``+ noise``
surrogate is for ``hvi`` only).

The shipped ``PredictorGuided`` (``hvi``, and ``pnd`` where asked) runs on the same seeds.

``--radii 1,2`` widens the scheme's candidates to the cells within two edge changes of the
observed front: whether the one-edge neighbourhood, rather than the surrogate, is what limits
recall (with ``exact`` values the wider set only adds cells ranked right; with an online
surrogate it also adds cells the surrogate overrates). Measured (6 seeds, ``hvi``): ``exact``
finds 37.8% of the front at radius 1 and 90.1% at radius 2; ``online ridge`` 12.6% and 6.3%
(before the function features). Measured with ``pnd`` at radius 1 (6 seeds): ``online ridge``
20.3% and 0.9936, ``online ridge (cell features only)`` 12.6% and 0.9927, ``class mean + error +
GBT latency`` 32.9% and 0.9977, ``class mean + GBT latency`` 21.6% (3 of 6 seeds end on a
front that finds 1 cell).

Usage (from the project root)::

    python benchmarks/mo_ceiling.py --table ../shared/benchmarks/nb201_cifar10.csv \\
        --latency ../shared/benchmarks/nb201_latency.csv --seeds 24 --jobs 2
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import search_efficiency as se  # noqa: E402

from raynas.pareto import pareto_front  # noqa: E402
from raynas.strategies._acquisition import (  # noqa: E402
    hypervolume_improvement_2d,
    nondominated_probability,
)

#: surrogate(queried rows, rng) -> (acc, lat, acc spread, lat spread) for every cell
Surrogate = Callable[
    [np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
]
_CTX: dict[str, Any] = {}


def _context(args: argparse.Namespace) -> dict[str, Any]:
    """Features, values and one-edge neighbours of every cell (once per process)."""
    if _CTX.get("args") == vars(args):
        return _CTX
    from raynas.search_spaces._nb201 import EDGES

    b = se.load(args)
    bench, space = b["bench"], b["space"]
    n = len(bench)
    configs = [bench.config(r) for r in range(n)]
    feats = np.array([space.features(c) for c in configs])
    # without the function features that a space keying isomorphic cells apart adds
    cell_feats = np.array([np.r_[space.encode(c), space.path_encode(c)] for c in configs])
    ops = list(space.ops)
    code = {tuple(c[e] for e in EDGES): r for r, c in enumerate(configs)}
    neighbours = np.empty((n, len(EDGES) * (len(ops) - 1)), dtype=int)
    for r, c in enumerate(configs):
        cell = [c[e] for e in EDGES]
        row = []
        for k, op in itertools.product(range(len(EDGES)), ops):
            if op != cell[k]:
                row.append(code[tuple(cell[:k] + [op] + cell[k + 1 :])])
        neighbours[r] = row
    acc, lat = bench.values(args.signal), bench.values(args.mo_cost)
    iso = bench.frame["iso_group"].to_numpy() if "iso_group" in bench.frame else None
    _CTX.clear()
    _CTX.update(
        args=vars(args), b=b, x=feats, x_cell=cell_feats, acc=acc, lat=lat, nb=neighbours, iso=iso
    )
    return _CTX


def local_search(
    ctx: dict,
    surrogate: Surrogate,
    seed: int,
    budget: int,
    acquisition: str = "hvi",
    radius: int = 1,
) -> list[int]:
    """The Pareto local search with ``surrogate`` predictions ranked by ``acquisition``.

    Candidates are the unseen cells within ``radius`` edge changes of the observed front.
    """
    acc, lat, nb = ctx["acc"], ctx["lat"], ctx["nb"]
    n, lmax = len(acc), float(np.nanmax(lat))
    rng = np.random.default_rng(seed)
    seen = list(rng.choice(n, 10, replace=False))
    mask = np.zeros(n, dtype=bool)
    mask[seen] = True
    while len(seen) < budget:
        rows = np.array(seen)
        pa, pl, sa, sl = surrogate(rows, rng)
        err, cost = 1 - acc / 100, lat / lmax
        f = rows[pareto_front(np.c_[err[rows], cost[rows]])]
        cand = f
        for _ in range(radius):
            cand = np.unique(np.r_[cand, nb[cand].ravel()])
        cand = cand[~mask[cand]]
        if len(cand) == 0:
            cand = np.flatnonzero(~mask)
        pred = np.c_[1 - pa[cand] / 100, pl[cand] / lmax]
        front = np.c_[err[f], cost[f]]
        if acquisition == "pnd":
            spread = np.broadcast_to(np.c_[sa / 100, sl / lmax], (n, 2))[cand]
            score = nondominated_probability(pred, spread, front, rng)
        else:
            score = hypervolume_improvement_2d(pred, front, np.ones(2))
        i = int(cand[np.argmax(score + 1e-12 * rng.random(len(cand)))])
        seen.append(i)
        mask[i] = True
    return seen


def _class_mean(values: np.ndarray, iso: np.ndarray) -> np.ndarray:
    """Each cell's ``values`` averaged over its isomorphism class (equal ``iso``)."""
    _, inverse, counts = np.unique(iso, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=values) / counts)[inverse]


def _surrogate(kind: str, ctx: dict) -> Surrogate:
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge

    x, acc, lat = ctx["x"], ctx["acc"], ctx["lat"]
    floor = float(np.median(acc))  # accuracy below the median is clipped: the front lies above
    tiny = np.full(1, 1e-9)

    if kind == "exact":
        return lambda rows, rng: (acc, lat, tiny, tiny)
    if kind.startswith("online ridge"):
        if kind == "online ridge (cell features only)":
            x = ctx["x_cell"]

        def online(rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
            ya = np.maximum(acc[rows], np.median(acc[rows]))
            pa = Ridge(alpha=1.0).fit(x[rows], ya).predict(x)
            pl = Ridge(alpha=1.0).fit(x[rows], lat[rows]).predict(x)
            ra = np.sqrt(np.mean((pa[rows] - ya) ** 2, keepdims=True))
            rl = np.sqrt(np.mean((pl[rows] - lat[rows]) ** 2, keepdims=True))
            return pa, pl, ra, rl

        return online

    def gbt(y: np.ndarray) -> np.ndarray:
        model = GradientBoostingRegressor(
            n_estimators=300, max_depth=4, learning_rate=0.1, random_state=0
        )
        return model.fit(x, y).predict(x)

    pl = gbt(lat)
    rl = np.sqrt(np.mean((pl - lat) ** 2, keepdims=True))
    if kind.startswith("class mean"):
        mean = _class_mean(acc, ctx["iso"])
        # the training noise: how far isomorphic cells (one function) spread around their mean
        dof = len(acc) - len(np.unique(ctx["iso"]))
        noise = np.full(1, np.sqrt(np.sum((acc - mean) ** 2) / max(dof, 1)))
        if kind == "class mean + GBT latency":
            return lambda rows, rng: (mean, pl, noise, rl)
        # a surrogate whose accuracy error is the training noise: one draw per cell and search
        drawn: dict[str, Any] = {"rng": None}

        def noisy(rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
            if drawn["rng"] is not rng:
                drawn.update(rng=rng, acc=mean + noise * rng.normal(size=len(acc)))
            return drawn["acc"], pl, noise, rl

        return noisy

    pa = gbt(np.maximum(acc, floor))
    good = acc > floor
    ra = np.sqrt(np.mean((pa - acc)[good] ** 2, keepdims=True))
    if kind == "full-table GBT":
        return lambda rows, rng: (pa, pl, ra, rl)
    return lambda rows, rng: (
        pa + 0.5 * ra * rng.normal(size=len(pa)),
        pl + 0.5 * rl * rng.normal(size=len(pl)),
        ra,
        rl,
    )


KINDS = [
    "online ridge",
    "online ridge (cell features only)",
    "full-table GBT",
    "full-table GBT + noise",
    "class mean + GBT latency",
    "class mean + error + GBT latency",
    "exact",
]


ACQUISITIONS = ["hvi", "pnd"]


def _run(task: tuple[str, str, int, int, int, argparse.Namespace]) -> tuple[str, int, list[int]]:
    kind, acquisition, radius, seed, budget, args = task
    ctx = _context(args)
    if kind == "predictor (shipped)":
        objectives = [f"{args.signal}:max", f"{args.mo_cost}:min"]
        # the acquisition alone, as in the local search below (no single-objective focus first)
        se.OVERRIDES["predictor"] = {"acquisition": {"multi_objective": acquisition}, "focus": 0}
        return kind, seed, se.run_raynas("predictor", seed, budget, objectives, ctx["b"])
    key = ("surrogate", kind)
    if key not in _CTX:
        _CTX[key] = _surrogate(kind, ctx)
    rows = local_search(ctx, _CTX[key], seed, budget, acquisition, radius)
    return kind, seed, [int(i) for i in rows]


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--table", required=True)
    p.add_argument("--latency", required=True)
    p.add_argument("--signal", default="cifar10valid_val_12ep")
    p.add_argument("--mo-cost", default="lat_ms_pixel3")
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--seeds", type=int, default=24)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--kinds", default=",".join(["predictor (shipped)", *KINDS]))
    p.add_argument("--acquisitions", default=",".join(ACQUISITIONS))
    p.add_argument(
        "--radii",
        default="1",
        help="neighbourhood radii of the local search's candidates (edge changes), e.g. 1,2",
    )
    a = p.parse_args(argv)
    args = se.table_args(a)
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in ["predictor (shipped)", *KINDS]:
            p.error(f"--kinds: unknown {k!r}; allowed: {['predictor (shipped)', *KINDS]}")
    acquisitions = [q.strip() for q in a.acquisitions.split(",") if q.strip()]
    for q in acquisitions:
        if q not in ACQUISITIONS:
            p.error(f"--acquisitions: unknown {q!r}; allowed: {ACQUISITIONS}")
    try:
        radii = [int(r) for r in a.radii.split(",") if r.strip()]
    except ValueError:
        radii = []
    if not radii or min(radii) < 1:
        p.error(f"--radii: expected comma-separated ints >= 1, got {a.radii!r}")
    runs = [
        (k, q, r)
        for k in kinds
        for q in acquisitions
        for r in (radii if k != "predictor (shipped)" else [1])  # the shipped one has its own
        if not (k.endswith("+ noise") and q == "pnd")  # pnd spreads the predictions itself
    ]
    b = se.load(args)
    if "iso_group" not in b["bench"].frame:
        for k in kinds:
            if "class" in k:
                p.error(f"--kinds: {k!r} needs the isomorphism classes: {a.table} has no iso_group")
    print(
        f"# Pareto local search, {a.budget} queries, seeds 0..{a.seeds - 1}, "
        f"true front {len(b['front'])} cells"
    )
    print(
        "| surrogate | acquisition | radius | HV ratio | front recall (cells) "
        "| front cells found, per seed | s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind, acquisition, radius in runs:
        start = time.perf_counter()
        tasks = [(kind, acquisition, radius, s, a.budget, args) for s in range(a.seeds)]
        if a.jobs > 1:
            with ProcessPoolExecutor(a.jobs) as pool:
                out = list(pool.map(_run, tasks, chunksize=1))
        else:
            out = [_run(t) for t in tasks]
        figs = np.array([se.mo_figures(rows[: a.budget], b)[:2] for _, _, rows in out])
        found = " ".join(str(round(r * len(b["front"]))) for r in figs[:, 1])
        print(
            f"| {kind} | {acquisition} | {radius} | {figs[:, 0].mean():.4f} ± {figs[:, 0].std():.4f} | "
            f"{100 * figs[:, 1].mean():.1f}% ± {100 * figs[:, 1].std():.1f} | {found} | "
            f"{time.perf_counter() - start:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
