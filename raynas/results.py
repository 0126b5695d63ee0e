"""Results of a search: every candidate with its metrics, the Pareto front, plots and export.

:class:`NASResults` wraps Tune's ``ResultGrid`` (or an experiment folder) and the search's
objectives. Infeasible and errored candidates stay visible, with their reason.

Example:
    >>> # results = raynas.search(space, "digits", objectives=["val_acc", "latency_p50_ms:min"])
    >>> # results.pareto_front(); results.plot_pareto("front.png"); results.export("out", top=3)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raynas.objectives import Objective, as_objectives, total_violation
from raynas.pareto import hypervolume, losses, pareto_front, spreads
from raynas.search_spaces.errors import RaynasError


class ResultsError(RaynasError, ValueError):
    """A results query cannot be answered (unknown objective, nothing feasible, ...)."""


#: Tune bookkeeping keys left out of a candidate's metrics.
_TUNE_KEYS = {
    "config",
    "trial_id",
    "experiment_id",
    "date",
    "timestamp",
    "pid",
    "hostname",
    "node_ip",
    "time_since_restore",
    "iterations_since_restore",
    "checkpoint_dir_name",
    "done",
    "should_checkpoint",
    "experiment_tag",
    "time_this_iter_s",
}


@dataclass(frozen=True)
class Candidate:
    """One evaluated candidate: its config, its last reported metrics and where its weights are."""

    trial_id: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    feasible: bool
    reason: str = ""
    checkpoint_path: str | None = None
    trial_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> float:
        v = self.metrics.get(name)
        try:
            return float(v) if v is not None else math.nan
        except (TypeError, ValueError):
            return math.nan


def is_feasible(metrics: Mapping[str, Any], objectives: Sequence[Objective]) -> tuple[bool, str]:
    if metrics.get("feasible") is False:
        return False, str(metrics.get("reason") or "reported infeasible")
    viol = total_violation(objectives, metrics)
    if viol > 0:
        broken = [o for o in objectives if o.violation(_num(metrics.get(o.name))) > 0]
        if broken:
            parts = []
            for o in broken:
                v = metrics.get(o.name)
                if v is None or not math.isfinite(_num(v) if v is not None else math.nan):
                    parts.append(f"`{o.name}` missing or not finite")
                else:
                    op, bound = o.constraint or ("", 0.0)
                    parts.append(f"`{o.name}` = {float(v):.4g} breaks {op} {bound:g}")
            return False, "; ".join(parts)
    return True, ""


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


class NASResults:
    """Every candidate of a search with its metrics; Pareto front, best, plot and export.

    Args:
        candidates: the evaluated candidates.
        objectives: the search's objectives (names, modes, constraints).
        space: the search space (needed by :meth:`export` to rebuild models).
        path: the experiment folder.
        grid: Tune's ``ResultGrid`` when the results come from a run in this process.
    """

    def __init__(
        self,
        candidates: Iterable[Candidate],
        objectives: Sequence[Objective | str],
        *,
        space: Any = None,
        path: str | None = None,
        grid: Any = None,
    ) -> None:
        self.candidates = list(candidates)
        self.objectives = as_objectives(objectives)
        self.space = space
        self.path = path
        self.grid = grid
        #: the search's plan (space, data, targets), when the results come from raynas.search
        self.plan: Any = None

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_result_grid(
        cls, grid: Any, objectives: Sequence[Objective | str], *, space: Any = None
    ) -> NASResults:
        """Collect every trial of a Tune ``ResultGrid`` (errored trials become infeasible)."""
        objectives = as_objectives(objectives)
        out = []
        for result in grid:
            metrics = {k: v for k, v in (result.metrics or {}).items() if k not in _TUNE_KEYS}
            config = dict(result.config or {})
            if space is not None:
                try:
                    config = space.validate(
                        {k: v for k, v in config.items() if k in getattr(space, "fields", config)}
                    )
                except Exception:  # keep what Tune had; the record says why it is odd
                    pass
            feasible, reason = is_feasible(metrics, objectives)
            if result.error is not None:
                feasible, reason = (
                    False,
                    f"trial error: {type(result.error).__name__}: {result.error}",
                )
            if not metrics and result.error is None:
                feasible, reason = False, "no result reported"
            ckpt = result.checkpoint.path if result.checkpoint is not None else None
            if ckpt is None and "checkpoint_path" in metrics:  # a data-parallel trial's Train run
                from raynas.evaluation._distributed import train_checkpoint_of

                ckpt = train_checkpoint_of(metrics, str(result.path))
            if (
                ckpt is None and "checkpoint_path" in metrics
            ):  # a data-parallel trial: its Train run
                from raynas.evaluation._distributed import train_checkpoint_of

                ckpt = train_checkpoint_of(metrics, str(result.path))
            trial_id = str(
                metrics.get("trial_id")
                or (result.metrics or {}).get("trial_id")
                or os.path.basename(str(result.path))
            )
            out.append(
                Candidate(trial_id, config, metrics, feasible, reason, ckpt, str(result.path))
            )
        path = getattr(grid, "experiment_path", None)
        return cls(out, objectives, space=space, path=path, grid=grid)

    @classmethod
    def from_path(
        cls, path: str, objectives: Sequence[Objective | str], *, space: Any = None
    ) -> NASResults:
        """Load the results of a finished (or interrupted) experiment folder."""
        from ray.tune import ExperimentAnalysis, ResultGrid

        if not os.path.isdir(path):
            raise ResultsError(f"`path` must be an experiment folder, but {path!r} does not exist.")
        grid = ResultGrid(ExperimentAnalysis(path))
        return cls.from_result_grid(grid, objectives, space=space)

    # -- queries -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.candidates)

    def feasible(self) -> list[Candidate]:
        return [c for c in self.candidates if c.feasible]

    def _objective(self, name: str | None) -> Objective:
        if name is None:
            return self.objectives[0]
        for o in self.objectives:
            if o.name == name:
                return o
        raise ResultsError(
            f"`objective` must be one of {[o.name for o in self.objectives]}, but got {name!r}."
        )

    def best(self, objective: str | None = None) -> Candidate:
        """The feasible candidate with the best value of ``objective`` (default: the first)."""
        o = self._objective(objective)
        pool = [c for c in self.feasible() if math.isfinite(c.value(o.name))]
        if not pool:
            raise ResultsError(f"no feasible candidate reported `{o.name}`.")
        return min(pool, key=lambda c: o.loss(c.value(o.name)))

    def _losses(self, cands: Sequence[Candidate]) -> np.ndarray:
        return losses(self.objectives, [c.metrics for c in cands])

    def pareto_front(self, *, ties: bool = False) -> list[Candidate]:
        """Non-dominated feasible candidates over all objectives, best first objective first;
        ``ties=True``: cost differences within the measurement spread (``latency_std_ms``)
        are ties (:func:`raynas.pareto.pareto_front`)."""
        pool = [
            c
            for c in self.feasible()
            if all(math.isfinite(c.value(o.name)) for o in self.objectives)
        ]
        if not pool:
            return []
        spread = spreads(self.objectives, [c.metrics for c in pool]) if ties else None
        keep = set(pareto_front(self._losses(pool), spread=spread).tolist())
        front = [c for i, c in enumerate(pool) if i in keep]
        first = self.objectives[0]
        return sorted(front, key=lambda c: first.loss(c.value(first.name)))

    def hypervolume(self, ref: Sequence[float] | None = None) -> float:
        """Hypervolume of the feasible front in loss space (``max`` objectives negated).

        The default reference point is the worst feasible value of each objective plus 10% of
        its range (so the extreme points count).
        """
        front = self.pareto_front()
        if not front:
            return 0.0
        pts = self._losses(self.feasible())
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if ref is None:
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            ref = hi + 0.1 * np.maximum(hi - lo, 1e-12)
        return hypervolume(self._losses(front), ref)

    def to_dataframe(self) -> Any:
        """One row per candidate: config (``config/...``), metrics, feasible, reason."""
        import pandas as pd

        warm = any("warm_start" in c.extra for c in self.candidates)
        rows = []
        for c in self.candidates:
            row: dict[str, Any] = {
                "trial_id": c.trial_id,
                "feasible": c.feasible,
                "reason": c.reason,
            }
            for k, v in c.metrics.items():
                if k not in ("feasible", "reason"):
                    row[k] = v
            for k, v in c.config.items():
                row[f"config/{k}"] = json.dumps(v) if isinstance(v, (list, dict)) else v
            row["checkpoint_path"] = c.checkpoint_path
            if warm:
                row["warm_start"] = c.extra.get("warm_start")  # the earlier search it came from
            rows.append(row)
        return pd.DataFrame(rows)

    def summary_table(
        self, candidates: Sequence[Candidate] | None = None, *, max_rows: int = 20
    ) -> str:
        """A plain-text table of candidates (default: the Pareto front)."""
        cands = list(self.pareto_front() if candidates is None else candidates)[:max_rows]
        cols = [o.name for o in self.objectives]
        extra = [
            k
            for k in ("test_acc", "test_mae", "params", "flops", "energy_j", "epoch")
            if k not in cols and any(k in c.metrics for c in cands)
        ]
        warm = any("warm_start" in c.extra for c in cands)  # some come from an earlier search
        header = ["#", *cols, *extra, *(["from"] if warm else []), "config"]
        rows = []
        for i, c in enumerate(cands):
            cfg = json.dumps(c.config, separators=(",", ":"))
            origin = ["warm start" if "warm_start" in c.extra else "this search"] if warm else []
            rows.append(
                [
                    str(i),
                    *(_fmt(c.metrics.get(k)) for k in cols + extra),
                    *origin,
                    cfg if len(cfg) <= 70 else cfg[:67] + "...",
                ]
            )
        widths = [
            max(len(h), *(len(r[j]) for r in rows)) if rows else len(h)
            for j, h in enumerate(header)
        ]
        line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
        out = [line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join(out)

    # -- plot and export -----------------------------------------------------------------------
    def plot_pareto(self, path: str, *, x: str | None = None, y: str | None = None) -> str:
        """Save a PNG of ``y`` (default: the first objective) against ``x`` (default: the second
        objective, else ``params``) with the front highlighted; energy, where measured, colours
        the points."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        y = y or self.objectives[0].name
        if x is None:
            x = self.objectives[1].name if len(self.objectives) > 1 else "params"
        feas = [
            c for c in self.feasible() if math.isfinite(c.value(x)) and math.isfinite(c.value(y))
        ]
        infeas = [
            c
            for c in self.candidates
            if not c.feasible and math.isfinite(c.value(x)) and math.isfinite(c.value(y))
        ]
        front = [c for c in self.pareto_front() if math.isfinite(c.value(x))]
        fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
        energy = [c.value("energy_j") for c in feas]
        if feas and all(math.isfinite(e) for e in energy):
            sc = ax.scatter(
                [c.value(x) for c in feas],
                [c.value(y) for c in feas],
                c=energy,
                cmap="viridis",
                s=28,
                label="feasible",
            )
            fig.colorbar(sc, ax=ax, label="energy per inference (J)")
        elif feas:
            ax.scatter(
                [c.value(x) for c in feas],
                [c.value(y) for c in feas],
                s=28,
                color="tab:blue",
                alpha=0.6,
                label="feasible",
            )
        if infeas:
            ax.scatter(
                [c.value(x) for c in infeas],
                [c.value(y) for c in infeas],
                marker="x",
                color="tab:gray",
                label="infeasible",
            )
        if front:
            front = sorted(front, key=lambda c: c.value(x))
            ax.plot(
                [c.value(x) for c in front],
                [c.value(y) for c in front],
                "-o",
                color="tab:red",
                markersize=7,
                label=f"Pareto front ({len(front)})",
            )
        for o in self.objectives:
            if o.constraint is not None and o.name in (x, y):
                (ax.axvline if o.name == x else ax.axhline)(
                    o.constraint[1],
                    color="k",
                    linestyle="--",
                    linewidth=1,
                    label=f"{o.name} {o.constraint[0]} {o.constraint[1]:g}",
                )
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{len(self.candidates)} candidates, {len(front)} on the front")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
        return path

    # -- the trained models back ------------------------------------------------------------
    def load_model(self, candidate: Candidate | str | None = None) -> Any:
        """The candidate's network (default: :meth:`best`) with its trained weights, in eval
        mode on the CPU, as a torch module.

        Example:
            >>> # model = results.load_model(); model(x_test[:8]).argmax(-1)
        """
        from raynas.frontdoor.model import load_model

        return load_model(self, candidate)

    def evaluate(
        self, candidate: Candidate | str | None = None, *, split: str = "test"
    ) -> dict[str, float]:
        """Score the candidate's trained network on ``split`` (``"test"``, ``"val"``,
        ``"train"``) of the search's data: ``{"test_loss": ..., "test_acc": ...}``. Test
        metrics join the candidate's metrics and are kept in the experiment folder."""
        from raynas.frontdoor.model import evaluate

        return evaluate(self, candidate, split=split)

    def retrain(
        self,
        candidate: Candidate | str | None = None,
        *,
        epochs: int | None = None,
        on: str = "train+val",
        seed: int | None = None,
    ) -> Candidate:
        """Train the candidate's architecture again from scratch, as a Tune trial, on the
        training and validation splits together (``on="train+val"``, KerasTuner's final fit) or
        the training split (``"train"``), for ``epochs`` (default: the search's), and score it
        on the test split. Returns the retrained :class:`Candidate` (``load_model`` takes it)."""
        from raynas.frontdoor.model import retrain

        return retrain(self, candidate, epochs=epochs, on=on, seed=seed)

    def export(self, path: str, *, top: int | None = None, opset: int = 18) -> list[str]:
        """Write the front's models (or the ``top`` best by the first objective when the front
        is shorter): per model a folder with ``model.onnx`` (metrics and config in its metadata),
        ``config.json``, ``weights.pt`` and ``metrics.json``. Returns the folders."""
        from raynas._export import export_candidate

        if self.space is None:
            raise ResultsError("export needs the search space; load results with `space=`.")
        chosen = self.pareto_front()
        if top is not None:
            if not isinstance(top, int) or top < 1:
                raise ResultsError(f"`top` must be an int >= 1, but got {top!r}.")
            if len(chosen) < top:
                rest = [c for c in self.feasible() if c not in chosen]
                o = self.objectives[0]
                rest.sort(
                    key=lambda c: (
                        o.loss(c.value(o.name)) if math.isfinite(c.value(o.name)) else math.inf
                    )
                )
                chosen = chosen + rest[: top - len(chosen)]
            chosen = chosen[:top]
        out = []
        for i, c in enumerate(chosen):
            folder = os.path.join(path, f"{i:02d}_{c.trial_id}")
            export_candidate(self.space, c, folder, opset=opset, input_shape=self._input_shape())
            out.append(folder)
        return out

    def _input_shape(self) -> tuple[int, ...]:
        shape = getattr(self.space, "input_shape", None)
        if shape is None and self.plan is not None:
            shape = self.plan.input_shape
        return tuple(shape or ())


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
