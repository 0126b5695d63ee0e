"""Joint NAS + HPO with Ray's population-based training: the space's training hyperparameters
become PBT mutations (or PB2 bounds), and explored values are snapped back into the space.

Ray's ``PopulationBasedTraining`` multiplies continuous values by its perturbation factors and
may leave the space (a learning rate above the domain's ``high``); the trainable would then
reject the config. :class:`SnapToSpace` (PBT's ``custom_explore_fn``) clips and rounds every
explored training hyperparameter to the nearest value its domain allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from raynas.schedulers.errors import SchedulerError
from raynas.search_spaces import Choice, Domain, Fixed, Float, Int
from raynas.search_spaces._builtin import TRAINING_KEYS, nearest

_KINDS = ("pbt", "pb2")


def training_keys(space: Any) -> list[str]:
    """The training hyperparameters of ``space`` (``learning_rate``, ``weight_decay``...)."""
    keys = getattr(space, "training_keys", None)
    if keys is not None:
        return list(keys)
    fields = getattr(space, "fields", {})
    return [k for k in TRAINING_KEYS if k in fields]


def architecture_keys(space: Any) -> list[str]:
    """The top-level config keys of ``space`` that describe the architecture."""
    train = set(training_keys(space))
    return [k for k in getattr(space, "fields", {}) if k not in train]


def _domain(space: Any, key: str) -> Domain | None:
    node = getattr(space, "fields", {}).get(key)
    node = getattr(node, "node", node)  # a When wrapper
    return node if isinstance(node, Domain) else None


def _searched(space: Any, keys: Sequence[str] | None) -> list[str]:
    available = training_keys(space)
    if keys is None:
        return [k for k in available if not isinstance(_domain(space, k), (Fixed, type(None)))]
    unknown = [k for k in keys if k not in available]
    if unknown:
        raise SchedulerError(
            f"`keys` must be training hyperparameters of the space {available}, but got {unknown}."
        )
    return list(keys)


class SnapToSpace:
    """PBT's ``custom_explore_fn``: moves explored training values to the nearest valid ones.

    Example:
        >>> from raynas.search_spaces import MLPSpace
        >>> snap = SnapToSpace(MLPSpace(input_shape=(64,), num_classes=10))
        >>> snap({"learning_rate": 0.5, "batch_size": 100})
        {'learning_rate': 0.1, 'batch_size': 128}
    """

    def __init__(self, space: Any, keys: Sequence[str] | None = None) -> None:
        self.space = space
        self.keys = _searched(space, keys)

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        for k in self.keys:
            dom = _domain(self.space, k)
            if dom is not None and k in config:
                config[k] = nearest(dom, config[k])
        return config


def pbt_mutations(space: Any, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """Ray PBT ``hyperparam_mutations`` for the searched training hyperparameters of ``space``.

    Floats become ``tune.loguniform``/``tune.uniform`` (resampled, or perturbed by PBT's
    factors), finite domains become lists (PBT shifts to a neighbouring value).

    Example:
        >>> from raynas.search_spaces import MLPSpace
        >>> m = pbt_mutations(MLPSpace(input_shape=(64,), num_classes=10))
        >>> sorted(m), m["batch_size"]
        (['batch_size', 'learning_rate', 'weight_decay'], [32, 64, 128, 256])
    """
    from ray import tune

    out: dict[str, Any] = {}
    for k in _searched(space, keys):
        dom = _domain(space, k)
        values = dom.finite_values() if dom is not None else None
        if isinstance(dom, Float):
            out[k] = (tune.loguniform if dom.log else tune.uniform)(dom.low, dom.high)
        elif values is not None:
            out[k] = list(values)
        elif isinstance(dom, Int):
            out[k] = (tune.lograndint if dom.log else tune.randint)(dom.low, dom.high + 1)
        else:
            raise SchedulerError(
                f"training hyperparameter `{k}` has a domain PBT cannot use: {dom!r}."
            )
    return out


def pb2_bounds(space: Any, keys: Sequence[str] | None = None) -> dict[str, list[float]]:
    """PB2 ``hyperparam_bounds`` for the numeric training hyperparameters of ``space``.

    PB2 models every bound as a continuous interval on a linear scale: a log-scaled learning
    rate is searched linearly, and integers or choices (``batch_size``) come back as floats that
    :class:`SnapToSpace` rounds to the nearest allowed value. By default only ``Float``
    hyperparameters are given to PB2.
    """
    out: dict[str, list[float]] = {}
    chosen = _searched(space, keys)
    for k in chosen:
        dom = _domain(space, k)
        if isinstance(dom, (Float, Int)):
            out[k] = [float(dom.low), float(dom.high)]
        elif keys is not None and isinstance(dom, Choice):
            nums = [v for v in dom.finite_values() if isinstance(v, (int, float))]
            if len(nums) != len(dom.finite_values()):
                raise SchedulerError(f"PB2 needs numeric values, but `{k}` is {dom!r}.")
            out[k] = [float(min(nums)), float(max(nums))]
        elif keys is not None:
            raise SchedulerError(f"PB2 needs a numeric domain, but `{k}` is {dom!r}.")
    if not out:
        raise SchedulerError(
            f"PB2 needs at least one numeric training hyperparameter; searched: {chosen}."
        )
    return out


def pb2_available() -> tuple[bool, str]:
    """Whether ``ray.tune.schedulers.pb2.PB2`` can be used here, and why not.

    Ray's PB2 needs scikit-learn (Ray < 2.10 needed GPy); raynas depends on scikit-learn.
    """
    try:
        from ray.tune.schedulers.pb2 import PB2  # noqa: F401
        from ray.tune.schedulers.pb2_utils import UCB  # noqa: F401
    except ImportError as e:
        return False, f"ray.tune.schedulers.pb2 does not import: {e}"
    return True, ""


def joint_pbt(
    space: Any,
    *,
    kind: str = "pbt",
    metric: str = "val_acc",
    mode: str = "max",
    time_attr: str = "training_iteration",
    perturbation_interval: float = 2,
    keys: Sequence[str] | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> Any:
    """Ray's PBT (or PB2) tuning ``space``'s training hyperparameters during training.

    Each trial trains one candidate of ``space`` (its architecture stays fixed; see
    :class:`~raynas.schedulers.ArchitecturePBT` to mutate it too). At every
    ``perturbation_interval`` the bottom quantile clones the checkpoint of a top trial and
    continues with explored training hyperparameters, so the trainable must save a checkpoint
    at least that often and restore from ``tune.get_checkpoint()`` (raynas' ``NASTrainable``
    does, and applies the new learning rate and weight decay to the restored optimizer).

    Args:
        space: a raynas space with training hyperparameters.
        kind: ``"pbt"`` (``PopulationBasedTraining``) or ``"pb2"`` (``PB2``, GP-bandit
            exploration; see :func:`pb2_bounds` for what it searches).
        metric, mode, time_attr, perturbation_interval: as in Ray's PBT.
        keys: the training hyperparameters to tune (default: every searched one).
        seed: seeds PBT's donor choices and perturbations (Ray draws them from the global
            ``random``/``numpy`` generators; they are scoped, see :class:`ScopedRandom`).
        **kwargs: more arguments of the Ray scheduler (``quantile_fraction``,
            ``burn_in_period``, ``resample_probability``...).

    Example:
        >>> from raynas.search_spaces import MLPSpace
        >>> pbt = joint_pbt(MLPSpace(input_shape=(64,), num_classes=10), perturbation_interval=2)
        >>> type(pbt).__name__, type(pbt).__mro__[2].__name__
        ('SeededPBT', 'PopulationBasedTraining')
    """
    if kind not in _KINDS:
        raise SchedulerError(f"`kind` must be one of {list(_KINDS)}, but got {kind!r}.")
    if "custom_explore_fn" in kwargs:
        raise SchedulerError(
            "`custom_explore_fn` is set by joint_pbt (it snaps explored values into the space)."
        )
    snap = SnapToSpace(space, keys)
    from raynas.schedulers._seeded import SeededPB2, SeededPBT

    if kind == "pb2":
        ok, why = pb2_available()
        if not ok or SeededPB2 is None:
            raise SchedulerError(f"`kind`='pb2' is not available: {why}.")
        return SeededPB2(
            seed=seed,
            time_attr=time_attr,
            metric=metric,
            mode=mode,
            perturbation_interval=perturbation_interval,
            hyperparam_bounds=dict(pb2_bounds(space, keys)),  # type: ignore[arg-type]
            custom_explore_fn=snap,
            **kwargs,
        )
    return SeededPBT(
        seed=seed,
        time_attr=time_attr,
        metric=metric,
        mode=mode,
        perturbation_interval=perturbation_interval,
        hyperparam_mutations=pbt_mutations(space, keys),
        custom_explore_fn=snap,
        **kwargs,
    )


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (old, new)}`` for the top-level keys whose values differ."""
    return {k: (old.get(k), new.get(k)) for k in {*old, *new} if old.get(k) != new.get(k)}
