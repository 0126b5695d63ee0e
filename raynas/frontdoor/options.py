"""The search options, declared once.

:class:`SearchOptions` is the one declaration of what a search takes: :func:`raynas.search`
(whose signature is this class's), the YAML config (``raynas run``), :func:`raynas.resume` and
the KerasTuner-style tuners all build one, so every door has the same names, defaults and
checks. A new option is one field here, with its doc in the field's metadata.

Nothing here imports Ray or torch: the checks are of names, types and ranges. What needs the
objects built (a space, the data, the cluster) is checked by :mod:`raynas.frontdoor.plan`.

Example:
    >>> opts = SearchOptions("mlp", objectives=["val_acc"], constraints=["params <= 1e5"])
    >>> opts.objectives[-1]
    Objective(name='params', mode='min', constraint=('<=', 100000.0))
    >>> SearchOptions("mlp", budjet=3)
    Traceback (most recent call last):
    ...
    TypeError: SearchOptions.__init__() got an unexpected keyword argument 'budjet'
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from raynas.frontdoor.names import ConfigError
from raynas.frontdoor.option_checks import check_options

P = ParamSpec("P")
R = TypeVar("R")


def _opt(default: Any, doc: str, *, factory: bool = False) -> Any:
    if factory:
        return field(default_factory=default, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass
class SearchOptions:
    """Every option of a search, checked for names, types and ranges (nothing is started).

    The fields are the keyword arguments of :func:`raynas.search` and the keys of the YAML config.
    """

    space: Any = field(
        metadata={
            "doc": "a SearchSpace, a built-in space name ('mlp', 'nb201', 'mobile', "
            "'transformer', shaped to the data), 'module:attribute', or a mapping "
            "{type: name, **space arguments} as in the YAML"
        }
    )
    data: Any = _opt(
        "digits",
        "a dataset name ('digits', 'mnist1d'), (x, y) arrays, a LightningDataModule, a "
        "zero-argument factory of one, or {name: dataset, **arguments}",
    )
    objectives: Any = _opt(
        ("val_acc:max",),
        "metric specs such as 'val_acc:max', 'latency_p50_ms:min' or 'latency_p50_ms <= 5'; "
        "the first is the primary one",
    )
    constraints: Any = _opt(
        (),
        "bounds such as 'latency_p50_ms <= 5': a bound on an objective, or a metric that "
        "only has to stay within it",
    )
    strategy: Any = _opt(
        "random",
        "a name of raynas.strategies.STRATEGIES, a one-shot method of "
        "raynas.oneshot.METHODS ('darts', 'gdas', 'spos', ...: a supernet of the space is "
        "searched, its derived architectures trained as the candidates), 'module:attribute', "
        "a Strategy, or {name: strategy, **arguments}",
    )
    strategy_kwargs: Any = _opt(None, "arguments of a strategy given by name")
    scheduler: Any = _opt(
        None,
        "'fifo', 'asha', 'hyperband', 'moasha', 'pbt', 'architecture_pbt', a Tune "
        "scheduler, or {name: scheduler, **arguments}",
    )
    scheduler_kwargs: Any = _opt(None, "arguments of a scheduler given by name")
    hardware: Any = _opt(
        (),
        "hardware targets (HardwareTarget, mappings or names) every candidate is measured on; "
        "latency objectives without a target use the local CPU",
    )
    budget: int = _opt(20, "number of candidates to train")
    max_epochs: int = _opt(5, "epochs of a candidate trained to the end")
    train_fraction: float = _opt(1.0, "the share of the training split each candidate trains on")
    time_budget_s: float | None = _opt(None, "seconds of training per candidate, at most")
    training: Any = _opt(
        None, "the training options as one mapping, as the YAML writes them: {max_epochs: 5}"
    )
    resources_per_trial: Any = _opt(
        None,
        "what one trial needs: {'cpu': 1, 'gpu': 0.5} and custom Ray resources "
        "({'accelerator_type:A100': 0.01}); refused before the first trial if no node has it",
    )
    data_parallel: Any = _opt(
        None,
        "train each candidate data-parallel (DDP with Ray Train) on several workers: their "
        "number, or {num_workers: 2, cpus_per_worker, use_gpu, driver_cpus, worker_retries}; "
        "each worker gets `resources_per_trial` (its CPUs; one whole GPU where it asks for one)",
    )
    latency_screening: Any = _opt(
        None,
        "screen proposed candidates against a latency bound before training: true, or "
        "{metric, min_measurements: 8, estimator: 'gp', z: 1.0, max_skips: 20}; a latency "
        "predictor fit on the measured candidates skips those predicted over the bound (told "
        "to the strategy as infeasible, not trained; listed in screened.json)",
    )
    max_concurrent: int | None = _opt(
        None, "trials at a time (default: the cluster's CPUs / CPUs per trial)"
    )
    storage_path: Any = _opt(None, "the folder the experiment folder goes in (default ./runs)")
    name: str | None = _opt(None, "the experiment folder's name (default raynas-<time>)")
    seed: int = _opt(0, "seeds the strategy and every candidate's training")
    space_kwargs: Any = _opt(None, "arguments of a space given by name")
    data_kwargs: Any = _opt(None, "arguments of a dataset given by name")
    max_failures: int = _opt(1, "retries of a trial whose worker died (from its checkpoint)")
    verbose: int = _opt(1, "0 silent, 1 progress, 2 and 3 more of Ray's output")
    trainable_kwargs: Any = _opt(
        None,
        "further NASTrainable arguments: {'objectives': [hook]} with hook(model, config) -> "
        "dict, 'module_factory', 'task', 'trainer_kwargs', 'checkpoint_every', 'num_threads'",
    )
    points_to_evaluate: Any = _opt(
        None, "configs of the space to train first, in order (a baseline, known good cells)"
    )
    warm_start: Any = _opt(
        None,
        "the folder (or NASResults) of an earlier search over the same space: its candidates "
        "are told to the strategy first, their hardware metrics measured again here; budget "
        "counts new candidates only",
    )
    reuse_actors: bool = _opt(
        True, "train candidates one after another in the same worker processes"
    )
    callbacks: Any = _opt(
        (),
        "Tune callbacks (MLflowLoggerCallback, TBXLoggerCallback, ...), 'module:attribute', "
        "a name of raynas.frontdoor.names.CALLBACKS ('tensorboard', 'mlflow', 'wandb', 'csv', "
        "'json'), or {name: ..., **arguments}",
    )
    run_config: Any = _opt(
        None,
        "further tune.RunConfig arguments ({'stop': ..., 'sync_config': ...}) beside the ones "
        "the search sets itself (name, storage_path, failure_config, callbacks)",
    )

    def __post_init__(self) -> None:
        check_options(self)

    # -- the doors -----------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, raw: Any, *, source: str = "config") -> SearchOptions:
        """Options from a mapping (a YAML config): unknown keys are refused with the closest."""
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"`{source}` must be a mapping of option names to values, but got {raw!r}."
            )
        refuse_unknown(raw, where="")
        if "space" not in raw:
            from raynas.frontdoor.names import SPACES

            raise ConfigError(
                f"`space` is missing; give one of {sorted(SPACES)} or 'module:attribute'."
            )
        return cls(**dict(raw))

    def replace(self, **changes: Any) -> SearchOptions:
        """A copy with ``changes`` (checked as at construction)."""
        refuse_unknown(changes, where="")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`raynas.search` (shallow)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SearchOptions))


def refuse_unknown(keys: Mapping[str, Any] | Sequence[str], *, where: str) -> None:
    """Refuse an option name that is not declared, naming the closest one."""
    for key in keys:
        if key in OPTION_NAMES:
            continue
        allowed = [*OPTION_NAMES]
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"`{prefix}{key}` is not an option of raynas.search{hint}; the options are "
            f"{sorted(allowed)}."
        )


def with_options_signature(
    options: Callable[P, Any], summary: str
) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Give ``fn(**options)`` the signature and the documented arguments of ``options``.

    ``help()``, ``inspect.signature`` and editors show every option with its default; type
    checkers see the parameters through ``ParamSpec``. Unknown keywords are refused by name.
    """
    sig = inspect.signature(options)
    params = list(sig.parameters.values())
    docs = [
        f"    {f.name}: {f.metadata.get('doc', '')}."
        for f in dataclasses.fields(options)  # type: ignore[arg-type]
    ]
    kw_params = [params[0], params[1]] + [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params[2:]
    ]

    def decorate(fn: Callable[..., R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            if len(args) > 2:
                raise TypeError(
                    f"{fn.__name__}() takes the space and the data by position and every other "
                    f"option by keyword, but got {len(args)} positional arguments."
                )
            refuse_unknown(kwargs, where="")
            return fn(*args, **kwargs)

        wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=kw_params, return_annotation=inspect.signature(fn).return_annotation
        )
        wrapper.__doc__ = f"{summary}\n\nArgs:\n" + "\n".join(docs) + "\n\n" + (fn.__doc__ or "")
        return wrapper  # type: ignore[return-value]

    return decorate
