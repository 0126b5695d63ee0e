"""Hypervolume reached by MultiObjectiveASHA vs no early stopping vs ASHA on accuracy alone.

Task: MLPSpace on sklearn's digits, objectives validation accuracy (max) and parameter count
(min). Every method gets the same budget of training epochs and sees candidates in the same
seeded order; two workers run trials asynchronously.

Method: a pool of candidates is sampled from the space with a fixed seed and each one is trained
once, for ``max_t`` epochs, recording its learning curve (validation accuracy of every epoch).
The schedulers are then driven through the Tune ``TrialScheduler`` API by an event simulation
of two asynchronous workers that replays these curves (as tabular NAS benchmarks do): each
method sees exactly the same training outcomes, so the comparison measures the scheduling
decisions alone, and repeats (different candidate orders) cost nothing. An epoch's simulated
duration is ``0.5 + params / max_params`` (a deterministic cost model: measured times on a
shared machine would make the event order, and so the figures, vary from run to run).
The schedulers are the real classes Tune would call: Ray's ``FIFOScheduler`` and
``ASHAScheduler`` and raynas' ``MultiObjectiveASHA``.

Hypervolume: over the last reported (accuracy, parameters) of every trial the method ran,
in the unit box ``(1 - accuracy) x (params / params_ref)`` with reference point (1, 1),
``params_ref`` = 1.1 x the largest candidate of the pool; "log HV" measures size as
``log(params / 1000) / log(params_ref / 1000)`` instead, so that every decade of model size
counts alike (the pool's smallest model has about 1,200 parameters).

Run: ``python benchmarks/schedulers_moasha.py`` (a few minutes on 2 shared cores; the
curves can be cached with ``--cache curves.npz``).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
import time
from typing import Any

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from _sched_digits import count_params, make_optimizer, mlp_space, train_epoch  # noqa: E402


def learning_curves(
    pool: int, max_t: int, seed: int, cache: str | None
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, np.ndarray]:
    space = mlp_space()
    rng = np.random.default_rng(seed)
    configs = [space.sample(rng) for _ in range(pool)]
    if cache and os.path.exists(cache):
        data = np.load(cache, allow_pickle=False)
        if data["acc"].shape == (pool, max_t) and int(data["seed"]) == seed:
            return configs, data["acc"], data["secs"], data["params"]
    acc = np.zeros((pool, max_t))
    secs = np.zeros((pool, max_t))
    params = np.zeros(pool)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    for i, cfg in enumerate(configs):
        model = space.build(cfg, seed=seed + i)
        opt = make_optimizer(model, cfg)
        gen = torch.Generator().manual_seed(seed + i)
        params[i] = count_params(model)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + i)  # dropout masks: the same curves on every run
            for t in range(max_t):
                acc[i, t], secs[i, t] = train_epoch(model, opt, cfg, gen)
        if (i + 1) % 25 == 0:
            print(
                f"  trained {i + 1}/{pool} candidates ({time.perf_counter() - t0:.0f}s)", flush=True
            )
    if cache:
        np.savez(cache, acc=acc, secs=secs, params=params, seed=seed)
    return configs, acc, secs, params


def simulate(
    scheduler: Any,
    order: np.ndarray,
    acc: np.ndarray,
    secs: np.ndarray,
    params: np.ndarray,
    *,
    budget: int,
    workers: int,
) -> dict[str, Any]:
    """Replay the curves through ``scheduler`` with ``workers`` asynchronous workers."""
    from ray.tune.experiment import Trial

    class Controller:
        def __init__(self) -> None:
            self.trials: list[Trial] = []

        def get_trials(self) -> list[Trial]:
            return self.trials

    ctrl = Controller()
    max_t = acc.shape[1]
    queue = list(order)
    events: list[tuple[float, int, int, Trial, int]] = []  # (time, tiebreak, epoch, trial, idx)
    tick = 0
    used = 0
    last: dict[str, tuple[float, float, int]] = {}

    def start(now: float) -> None:
        nonlocal tick
        if not queue:
            return
        idx = int(queue.pop(0))
        trial = Trial("__fake", config={"candidate": idx}, stub=True)
        ctrl.trials.append(trial)
        scheduler.on_trial_add(ctrl, trial)
        heapq.heappush(events, (now + secs[idx, 0], tick, 1, trial, idx))
        tick += 1

    for _ in range(workers):
        start(0.0)
    now = 0.0
    while events and used < budget:
        now, _, epoch, trial, idx = heapq.heappop(events)
        used += 1
        result = {
            "training_iteration": epoch,
            "val_acc": float(acc[idx, epoch - 1]),
            "params": float(params[idx]),
        }
        last[trial.trial_id] = (result["val_acc"], result["params"], epoch)
        action = scheduler.on_trial_result(ctrl, trial, result)
        if action == "STOP" or epoch >= max_t:
            trial.status = Trial.TERMINATED
            scheduler.on_trial_complete(ctrl, trial, result)
            start(now)
        else:
            heapq.heappush(events, (now + secs[idx, epoch], tick, epoch + 1, trial, idx))
            tick += 1
    pts = np.array([(a, p) for a, p, _ in last.values()])
    return {
        "trials": len(last),
        "epochs": used,
        "full": sum(e == max_t for _, _, e in last.values()),
        "best_acc": float(pts[:, 0].max()),
        "points": pts,
        "sim_time_s": now,
    }


def hypervolume(points: np.ndarray, params_ref: float, *, log: bool = False) -> float:
    """In the unit box: ``1 - acc`` and ``params / params_ref`` (or, with ``log``,
    ``log(params / 1000) / log(params_ref / 1000)``: each decade of model size counts alike)."""
    from raynas.pareto import hypervolume as hv

    size = points[:, 1] / params_ref
    if log:
        size = np.log(points[:, 1] / 1000.0) / np.log(params_ref / 1000.0)
    return hv(np.column_stack([1.0 - points[:, 0], size]), [1.0, 1.0])


def _sd(a: np.ndarray) -> float:
    return float(a.std(ddof=1)) if len(a) > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=int, default=100, help="candidates trained once for replay")
    ap.add_argument("--max-t", type=int, default=9, help="epochs of a full training")
    ap.add_argument(
        "--budget", type=int, default=10, help="budget in full trainings (x max_t epochs)"
    )
    ap.add_argument("--reduction-factor", type=float, default=3)
    ap.add_argument("--grace-period", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20, help="candidate orders (seeds 0..n-1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the candidate pool")
    ap.add_argument("--cache", default=None, help="npz file to keep the learning curves in")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()

    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from raynas.schedulers import MultiObjectiveASHA

    t0 = time.perf_counter()
    print(f"training {args.pool} candidates x {args.max_t} epochs for the replay ...", flush=True)
    _, acc, secs, params = learning_curves(args.pool, args.max_t, args.seed, args.cache)
    print(
        f"  done in {time.perf_counter() - t0:.0f}s; final accuracy "
        f"{acc[:, -1].min():.3f}..{acc[:, -1].max():.3f}, params {params.min():.0f}..{params.max():.0f}"
    )
    params_ref = 1.1 * params.max()
    cost = np.repeat((0.5 + params / params.max())[:, None], args.max_t, axis=1)
    full = np.column_stack([acc[:, -1], params])
    oracle, oracle_log = hypervolume(full, params_ref), hypervolume(full, params_ref, log=True)
    budget = args.budget * args.max_t
    rungs = {"max_t": args.max_t, "grace_period": args.grace_period,
             "reduction_factor": args.reduction_factor}  # fmt: skip
    methods = {
        "no early stopping (FIFO)": lambda: FIFOScheduler(),
        "ASHA on val_acc": lambda: ASHAScheduler(
            time_attr="training_iteration", metric="val_acc", mode="max", **rungs
        ),
        "MultiObjectiveASHA": lambda: MultiObjectiveASHA(
            objectives=["val_acc", "params:min"], **rungs
        ),
    }
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for r in range(args.repeats):
        order = np.random.default_rng(1000 + r).permutation(args.pool)
        for name, make in methods.items():
            out = simulate(make(), order, acc, cost, params, budget=budget, workers=args.workers)
            pts = out.pop("points")
            out["hv"] = hypervolume(pts, params_ref)
            out["hv_log"] = hypervolume(pts, params_ref, log=True)
            rows[name].append(out)

    print()
    print(
        f"budget {budget} epochs per run ({args.budget} full trainings of {args.max_t} epochs), "
        f"{args.workers} async workers, rungs {MultiObjectiveASHA(objectives=['a'], **rungs).milestones}, "
        f"{args.repeats} candidate orders; pool of {args.pool} candidates (seed {args.seed})"
    )
    print(f"oracle (the whole pool fully trained): HV {oracle:.4f}, log HV {oracle_log:.4f}")
    print(
        f"{'method':<26} {'HV (mean +- sd)':>17} {'/FIFO':>6} {'log HV (mean +- sd)':>20} "
        f"{'/FIFO':>6} {'trials':>7} {'full':>5} {'best acc':>9}"
    )
    summary = {}
    for name, outs in rows.items():
        hv, hvl = np.array([o["hv"] for o in outs]), np.array([o["hv_log"] for o in outs])
        summary[name] = {
            "hv_mean": float(hv.mean()), "hv_std": _sd(hv),
            "hv_log_mean": float(hvl.mean()), "hv_log_std": _sd(hvl),
            "trials_mean": float(np.mean([o["trials"] for o in outs])),
            "full_mean": float(np.mean([o["full"] for o in outs])),
            "best_acc_mean": float(np.mean([o["best_acc"] for o in outs])),
            "hv_all": hv.tolist(), "hv_log_all": hvl.tolist(),
        }  # fmt: skip
    base = summary["no early stopping (FIFO)"]
    for name, s in summary.items():
        print(
            f"{name:<26} {s['hv_mean']:.4f} +- {s['hv_std']:.4f} {s['hv_mean'] / base['hv_mean']:>6.3f} "
            f"{s['hv_log_mean']:>11.4f} +- {s['hv_log_std']:.4f} "
            f"{s['hv_log_mean'] / base['hv_log_mean']:>6.3f} {s['trials_mean']:>7.1f} "
            f"{s['full_mean']:>5.1f} {s['best_acc_mean']:>9.4f}"
        )
    for key, label in (("hv_all", "HV"), ("hv_log_all", "log HV")):
        mo = np.array(summary["MultiObjectiveASHA"][key])
        asha = np.array(summary["ASHA on val_acc"][key])
        fifo = np.array(summary["no early stopping (FIFO)"][key])
        print(
            f"{label}: MultiObjectiveASHA > ASHA in {int((mo > asha).sum())}/{len(mo)} orders "
            f"(= in {int((mo == asha).sum())}), > FIFO in {int((mo > fifo).sum())}/{len(mo)}"
        )
    print(f"total wall time {time.perf_counter() - t0:.0f}s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "oracle_hv": oracle, "oracle_hv_log": oracle_log,
                       "summary": summary}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main()
