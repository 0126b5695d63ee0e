"""Warm starts: an earlier search's candidates told to the new strategy before the first trial.

Accuracy does not change with the device: the earlier candidates keep their device-independent
metrics, and their hardware metrics are measured again on this search's targets (no training).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from raynas.frontdoor.names import ConfigError
from raynas.frontdoor.plan import HARDWARE_METRICS, Prior, SearchPlan, say
from raynas.objectives import Objective
from raynas.search_spaces.errors import RaynasError

#: The warm start's earlier candidates as measured again by this search (see ``warm_start``).
WARM_START_FILE = "warm_start.json"


def check_no_quantized_targets(targets: Sequence[Any]) -> None:
    quantized = [t.name for t in targets if getattr(t, "quantization", None) is not None]
    if quantized:
        raise ConfigError(
            f"`warm_start` cannot be combined with quantizing targets {quantized}: their "
            f"accuracy after quantization needs each candidate's trained weights, which a "
            f"warm start does not measure again."
        )


def is_hardware_metric(key: str) -> bool:
    """A metric measured on a device (``latency_p50_ms``, ``edge_energy_j``, ``hw_violation``)."""
    names = (*HARDWARE_METRICS, "hw_violation")
    return any(key == m or key.endswith("_" + m) for m in names)


def read_prior(
    source: Any, space: Any, objectives: Sequence[Objective], max_epochs: int
) -> tuple[list[Prior], str | None]:
    """What an earlier search's candidates tell the new one, checked against the new space.

    A candidate keeps its device-independent metrics (accuracy, params, flops...); its hardware
    metrics are dropped, to be measured again on this search's targets. One without every
    device-independent objective of this search failed in training: it is told as failed.
    """
    from raynas.evaluation._runner import split_config
    from raynas.results import NASResults

    if isinstance(source, NASResults):
        prior, path = source, source.path
    elif isinstance(source, (str, os.PathLike)):
        path = os.path.abspath(os.path.expanduser(os.fspath(source)))
        try:
            from raynas.frontdoor.resume import load_results

            prior = load_results(path)
        except ConfigError as e:
            raise ConfigError(f"`warm_start`: {e}") from e
    else:
        raise ConfigError(
            f"`warm_start` must be the folder of an earlier raynas search or its NASResults, "
            f"but got {type(source).__name__}: {source!r}."
        )
    trained = [o.name for o in objectives if not is_hardware_metric(o.name)]
    missing = [n for n in trained if not any(n in c.metrics for c in prior.candidates)]
    if missing and any(c.feasible for c in prior.candidates):
        # a finished search that never reported them measured something else: not a failure
        reported = sorted({k for c in prior.candidates for k in c.metrics} - {"feasible", "reason"})
        raise ConfigError(
            f"`warm_start`: the candidates of {path!r} never reported {missing}, which this "
            f"search optimizes; they report {reported}. A warm start needs the earlier search "
            f"to have measured the same device-independent objectives."
        )
    out: list[Prior] = []
    for c in prior.candidates:
        if not c.config and not c.metrics:
            continue  # its trial never started (a killed driver): nothing to tell
        try:
            config = space.validate(split_config(space, c.config))
        except RaynasError as e:
            raise ConfigError(
                f"`warm_start`: candidate {c.trial_id} of {path!r} is not a config of this "
                f"search's space ({e}); warm starts need the same space."
            ) from e
        if not all(math.isfinite(c.value(n)) for n in trained):
            out.append(Prior(config, None, 1.0, c))  # it failed before these were measured
            continue
        metrics = {
            k: v
            for k, v in c.metrics.items()
            if not is_hardware_metric(k)
            and k not in ("feasible", "reason")
            and isinstance(v, (int, float, str, bool))
        }
        epoch = c.metrics.get("epoch")
        reached = float(epoch) / max_epochs if isinstance(epoch, (int, float)) else 1.0
        out.append(Prior(config, metrics, min(1.0, max(reached, 1e-9)), c))
    return out, path


def tell_warm_start(spec: SearchPlan, strategy: Any, hardware: Sequence[Any]) -> None:
    """Tell the strategy the earlier search's candidates, measured again on this search's
    hardware (latency does not depend on the weights: a freshly built model measures alike),
    and keep them, so measured, in the experiment folder for this search's results."""
    from raynas.results import Candidate, is_feasible

    say(
        spec,
        f"warm start: {len(spec.warm_start)} candidates of {spec.warm_start_path}"
        + (f", measuring them on {[hw.target.name for hw in hardware]}" if hardware else ""),
    )
    kept = []
    for prior in spec.warm_start:
        src = prior.source
        extra = {**src.extra, "warm_start": spec.warm_start_path}
        if prior.metrics is None:
            strategy.tell(prior.config, None, feasible=False)
            reason = f"failed in the earlier search: {src.reason or 'no accuracy reported'}"
            metrics = {k: v for k, v in src.metrics.items() if not is_hardware_metric(k)}
            kept.append(
                dataclasses.replace(
                    src, metrics=metrics, feasible=False, reason=reason, extra=extra
                )
            )
            continue
        metrics = dict(prior.metrics)
        if hardware:
            model = spec.space.build(prior.config)
            for hw in hardware:
                metrics.update(hw(model, prior.config))
        # the strategy weighs constraint violations itself; the results say why one is out
        measured = metrics.get("feasible", True) is not False
        feasible, reason = is_feasible(metrics, spec.objectives)
        metrics.pop("feasible", None)
        metrics.pop("reason", None)
        strategy.tell(prior.config, metrics, feasible=measured, fidelity=prior.fidelity)
        kept.append(
            Candidate(
                src.trial_id,
                src.config,
                metrics,
                feasible,
                reason,
                src.checkpoint_path,
                src.trial_path,
                extra,
            )
        )
    os.makedirs(spec.experiment_path, exist_ok=True)
    with open(os.path.join(spec.experiment_path, WARM_START_FILE), "w") as f:
        json.dump([dataclasses.asdict(c) for c in kept], f, default=plain_json)


def plain_json(value: Any) -> Any:
    """numpy scalars (and anything else odd) in a metric, for json."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def with_warm_start(results: Any, spec: SearchPlan) -> Any:
    """``results`` with the warm start's earlier candidates first (as this search measured
    them), when the search had a warm start."""
    from raynas.results import Candidate

    file = os.path.join(spec.experiment_path, WARM_START_FILE)
    if os.path.isfile(file):
        with open(file) as f:
            earlier = [Candidate(**c) for c in json.load(f)]
        results.candidates = earlier + results.candidates
    return results
