"""Hardware metrics as objectives and constraints of a search.

:class:`HardwareObjective` is a callable ``f(model, config) -> dict`` for the trainable's
objectives hook (called after training, merged into the final report). :func:`with_hardware`
wraps any user's Tune function trainable that returns its trained model, so existing Tune
pipelines get the same metrics without adopting raynas' trainable.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ._cache import MeasurementCache
from ._constraints import parse_constraint, total_violation
from ._measure import ROUTES, measure
from ._measurement import METRIC_KEYS
from ._target import HardwareTarget
from .errors import TargetError

#: The spread reported with every latency metric.
SPREAD_KEY = "latency_std_ms"
# Config keys that configure training, not the architecture: they do not change latency, so
# the default cache key leaves them out.
TRAINING_KEYS = frozenset(
    {"learning_rate", "weight_decay", "batch_size", "optimizer", "epochs", "seed", "momentum"}
)


def _canonical_key(config: Mapping[str, Any]) -> str:
    arch = {k: v for k, v in config.items() if k not in TRAINING_KEYS}
    return json.dumps(arch, sort_keys=True, separators=(",", ":"), default=str)


def _weights_digest(model: Any) -> str:
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class HardwareObjective:
    """Measured hardware metrics of a trained candidate, as objectives and constraints.

    Calling it measures the model on the target (through the cache when one is given) and
    returns the chosen metrics under their report names, ``prefix`` first. A candidate that
    cannot be measured returns ``feasible=False`` and its ``reason`` (the metrics are ``None``);
    a successful one does not set ``feasible``, so it never hides a training failure. With
    constraints, ``<prefix>hw_violation`` says by how much they are broken (0.0 = satisfied);
    :attr:`constraints` gives them as strings for ``raynas.objectives.Objective.parse``.

    A latency metric comes with its spread: ``<prefix>latency_std_ms`` (the standard deviation of
    the timed runs) is reported whenever a ``latency_*`` metric is, so results can treat cost
    differences within it as ties (:func:`raynas.pareto.pareto_front` with ``spread``).

    Args:
        target: where to measure.
        metrics: report keys among :data:`~raynas.hardware._measurement.METRIC_KEYS`.
        constraints: e.g. ``["latency_p50_ms <= 5"]`` (their metrics are reported too).
        cache: a :class:`MeasurementCache` or a directory for one (the experiment directory);
            ``None`` measures every call. It is keyed by the exported graph, so candidates
            whose graphs are the same apart from weights share one measurement.
        space: the search space; its ``key`` names candidates in the cache, as an alias of their
            graph (an ``arch_key`` method is preferred when the space has one). Without a space
            the key is the config's canonical JSON without training keys (:data:`TRAINING_KEYS`).
        key_fn: custom candidate key ``f(config) -> str`` (overrides the above).
        prefix: prepended to every reported key (two targets: ``prefix="int8_"``).
        calibration: input samples for a target with ``quantization="static"``.
        eval_data: ``(x, y)`` to score a quantized model (``<prefix>quantized_acc``).
        route: ``"auto"``, ``"local"`` or ``"ray"`` (see :func:`~raynas.hardware.measure`).

    Example:
        >>> import torch
        >>> cpu = HardwareTarget(name="cpu", input_shape=(8,), min_runs=10, min_seconds=0.05,
        ...                      exporter="torchscript", energy="off")
        >>> hw = HardwareObjective(cpu, metrics=("latency_p50_ms",),
        ...                        constraints=["latency_p50_ms <= 1000"])
        >>> out = hw(torch.nn.Linear(8, 2), {"units": 2})
        >>> sorted(out), out["hw_violation"]
        (['hw_violation', 'latency_p50_ms', 'latency_std_ms'], 0.0)
    """

    def __init__(
        self,
        target: HardwareTarget,
        *,
        metrics: Sequence[str] = ("latency_p50_ms", "energy_j"),
        constraints: Iterable[str] = (),
        cache: MeasurementCache | str | os.PathLike[str] | None = None,
        space: Any = None,
        key_fn: Callable[[Mapping[str, Any]], str] | None = None,
        prefix: str = "",
        calibration: Any = None,
        eval_data: tuple[Any, Any] | None = None,
        route: str = "auto",
    ) -> None:
        if not isinstance(target, HardwareTarget):
            raise TargetError(
                f"`target` must be a HardwareTarget, but got {type(target).__name__}."
            )
        if isinstance(metrics, str):
            metrics = (metrics,)
        bad = [m for m in metrics if m not in METRIC_KEYS]
        if bad or not metrics:
            raise TargetError(
                f"`metrics` must be a non-empty list among {list(METRIC_KEYS)}, but got "
                f"{list(metrics)!r}."
            )
        if isinstance(constraints, str):
            constraints = [constraints]
        parsed = [parse_constraint(c) for c in constraints]
        for name, _, _ in parsed:
            if name not in METRIC_KEYS:
                raise TargetError(f"constraint metric {name!r} must be one of {list(METRIC_KEYS)}.")
        if route not in ROUTES:
            raise TargetError(f"`route` must be one of {list(ROUTES)}, but got {route!r}.")
        if target.quantization == "static" and calibration is None:
            raise TargetError(
                f"HardwareTarget `{target.name}` has quantization='static', which needs "
                "`calibration` data (a few batches of inputs from the dataset)."
            )
        self.target = target
        wanted = [*metrics, *(n for n, _, _ in parsed)]
        if any(m.startswith("latency_") for m in wanted):
            wanted.append(SPREAD_KEY)
        self.metrics = tuple(dict.fromkeys(wanted))
        self._constraints = parsed
        self.cache = (
            cache
            if cache is None or isinstance(cache, MeasurementCache)
            else MeasurementCache(cache)
        )
        self.space = space
        self.key_fn = key_fn
        self.prefix = prefix
        self.calibration = calibration
        self.eval_data = eval_data
        self.route = route

    @property
    def constraints(self) -> list[str]:
        """The constraints as ``"<prefix>metric op bound"`` strings."""
        return [f"{self.prefix}{n} {op} {b:g}" for n, op, b in self._constraints]

    def key(self, config: Mapping[str, Any]) -> str:
        """The candidate's cache key (see the class docs)."""
        if self.key_fn is not None:
            return str(self.key_fn(config))
        if self.space is not None:
            if hasattr(self.space, "arch_key"):
                return str(self.space.arch_key(config))
            return str(self.space.key(config))
        return _canonical_key(config)

    def __call__(self, model: Any, config: Mapping[str, Any]) -> dict[str, Any]:
        """Measure ``model`` (built from ``config``) and return the report entries."""
        kwargs: dict[str, Any] = {
            "route": self.route,
            "calibration": self.calibration,
            "eval_data": self.eval_data,
        }
        if self.cache is not None:
            key = self.key(config)
            if self.target.quantization is not None:
                key += "#weights=" + _weights_digest(model)  # accuracy depends on the weights
            kwargs.update(cache=self.cache, key=key, config=dict(config))
        m = measure(model, self.target, **kwargs)
        values = m.metrics()
        out: dict[str, Any] = {self.prefix + k: values[k] for k in self.metrics}
        if not m.feasible:
            out["feasible"] = False
            out["reason"] = f"{self.target.name}: {m.reason}"
        if self._constraints:
            out[self.prefix + "hw_violation"] = total_violation(self._constraints, values)
        return out

    def wrap(
        self, trainable: Callable[..., Any], *, model_key: str = "model"
    ) -> Callable[..., Any]:
        """Shorthand for :func:`with_hardware` ``(trainable, self)``."""
        return with_hardware(trainable, self, model_key=model_key)

    def __repr__(self) -> str:
        return (
            f"HardwareObjective(target={self.target.name!r}, metrics={list(self.metrics)}, "
            f"constraints={self.constraints})"
        )


def _split(out: Any, model_key: str) -> tuple[Any, dict[str, Any]]:
    if isinstance(out, Mapping):
        if model_key not in out:
            raise TargetError(
                f"the trainable returned a dict without the key {model_key!r}; return the "
                f"trained model, or a dict with the model under {model_key!r} and final metrics."
            )
        rest = {k: v for k, v in out.items() if k != model_key}
        return out[model_key], rest
    if out is None or not hasattr(out, "state_dict"):
        raise TargetError(
            "the trainable must return its trained torch model (or a dict with the model "
            f"under {model_key!r}), but it returned {type(out).__name__}."
        )
    return out, {}


def with_hardware(
    trainable: Callable[..., Any],
    objectives: HardwareObjective | Sequence[HardwareObjective],
    *,
    model_key: str = "model",
) -> Callable[..., Any]:
    """Wrap a Tune function trainable so that its model is measured after training.

    The user's function trains as before (reporting with ``tune.report`` as it likes) and
    ends with ``return model`` or ``return {"model": model, "val_acc": ..., ...}``. The wrapper
    measures the model on every objective's target and makes one last ``tune.report`` with
    the returned metrics and the hardware metrics, which is the trial's final result. Metrics
    reported earlier are not repeated unless the function returns them (Tune keeps each report;
    the last one is what searchers and ``ResultGrid`` see as final).

    Example:
        >>> def train(config):                      # a user's existing trainable
        ...     model = build(config); fit(model)   # doctest: +SKIP
        ...     return {"model": model, "val_acc": evaluate(model)}
        >>> tuner = tune.Tuner(with_hardware(train, hw), ...)  # doctest: +SKIP
    """
    objs = [objectives] if isinstance(objectives, HardwareObjective) else list(objectives)
    if not objs or not all(isinstance(o, HardwareObjective) for o in objs):
        raise TargetError("`objectives` must be a HardwareObjective or a list of them.")

    @functools.wraps(trainable)
    def wrapped(config: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        model, metrics = _split(trainable(config, *args, **kwargs), model_key)
        final = dict(metrics)
        for o in objs:
            final.update(o(model, config))
        from ray import tune

        tune.report(final)

    return wrapped
