"""Population-based training that also mutates the architecture and inherits the weights."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from ray.tune.schedulers import PopulationBasedTraining

from raynas.schedulers._joint import (
    SnapToSpace,
    architecture_keys,
    config_diff,
    pbt_mutations,
    training_keys,
)
from raynas.schedulers._seeded import ScopedRandom
from raynas.schedulers.errors import SchedulerError
from raynas.search_spaces import SpaceDefinitionError

if TYPE_CHECKING:  # pragma: no cover
    from ray.tune.experiment import Trial

logger = logging.getLogger(__name__)

_MAX_TRIES = 32


def _noop(config: dict[str, Any]) -> dict[str, Any]:
    return config


class ArchitecturePBT(ScopedRandom, PopulationBasedTraining):
    """PBT whose explore step mutates the architecture as well as the training hyperparameters.

    Ray's ``PopulationBasedTraining`` exploits by copying a top trial's checkpoint into a bottom
    trial and explores by perturbing hyperparameters; it cannot change a layer's shape (the
    restored weights would not fit; ray-project/ray#8018, #5788). Here the explore step also
    applies ``space.mutate`` to the donor's architecture (with probability
    ``architecture_probability``, ``architecture_mutations`` times), so the population searches
    architectures while it trains (in the spirit of "PBT-NAS", Chebykin et al. 2023, and of
    network morphisms, Elsken et al. 2018). The exploiting trial restarts from the donor's
    checkpoint with a config whose architecture may differ from the checkpoint's; **the
    trainable** must then build the new network and inherit the donor's weights with
    :func:`inherit_weights` (copy what fits, Net2Net-widen what grew, slice what shrank, start
    new layers fresh). ``NASTrainable`` does this when it restores; a minimal function
    trainable::

        def trainable(config):
            ckpt = tune.get_checkpoint()
            if ckpt:
                payload = torch.load(ckpt.path + "/model.pt")   # {"config", "state_dict", "epoch"}
                model, report = inherit_weights(space, payload, config)
                start = payload["epoch"]
            else:
                model, start = space.build(config), 0
            ...  # train, and every epoch save {"config", "state_dict", "epoch"} + tune.report

    Training hyperparameters are explored as Ray's PBT does (``hyperparam_mutations``, by
    default every searched training hyperparameter of the space) and then snapped into their
    domains. Every exploit/explore step is recorded in :attr:`history`.

    Args:
        space: the search space (``mutate``, ``validate``; ``build`` in the trainable).
        metric, mode: what to rank the population by.
        time_attr: progress attribute (``training_iteration`` = epochs for raynas trainables).
        perturbation_interval: exploit/explore every this many ``time_attr`` units.
        burn_in_period: no perturbation before this.
        hyperparam_mutations: Ray PBT mutations of training hyperparameters (default:
            :func:`~raynas.schedulers.pbt_mutations` of the space; ``{}`` for none).
        architecture_probability: chance that an explore step mutates the architecture.
        architecture_mutations: how many ``space.mutate`` steps one explore applies.
        quantile_fraction, resample_probability, perturbation_factors, log_config,
            require_attrs, synch: as in Ray's ``PopulationBasedTraining``.
        seed: seeds the architecture mutations and PBT's own random decisions (donor choice,
            perturbations; Ray draws them from the global ``random``/``numpy`` generators, which
            are seeded for each callback and restored afterwards).

    Example:
        >>> from raynas.search_spaces import MLPSpace
        >>> space = MLPSpace(input_shape=(64,), num_classes=10)
        >>> pbt = ArchitecturePBT(space=space, metric="val_acc", mode="max",
        ...                       perturbation_interval=2, seed=0)
        >>> # tune.Tuner(trainable, param_space=space.to_tune(),
        >>> #            tune_config=tune.TuneConfig(scheduler=pbt, num_samples=8)).fit()
    """

    def __init__(
        self,
        *,
        space: Any,
        metric: str | None = None,
        mode: str | None = None,
        time_attr: str = "training_iteration",
        perturbation_interval: float = 2,
        burn_in_period: float = 0,
        hyperparam_mutations: Mapping[str, Any] | None = None,
        architecture_probability: float = 1.0,
        architecture_mutations: int = 1,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: tuple[float, float] = (1.2, 0.8),
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        seed: int | None = None,
    ) -> None:
        for attr in ("mutate", "validate"):
            if not callable(getattr(space, attr, None)):
                raise SchedulerError(
                    f"`space` must have a `{attr}` method (a raynas SearchSpace), but got "
                    f"{type(space).__name__}."
                )
        if (
            isinstance(architecture_probability, bool)
            or not isinstance(architecture_probability, (int, float))
            or not 0.0 <= architecture_probability <= 1.0
        ):
            raise SchedulerError(
                "`architecture_probability` must be a number in [0, 1], but got "
                f"{architecture_probability!r}."
            )
        if (
            isinstance(architecture_mutations, bool)
            or not isinstance(architecture_mutations, int)
            or architecture_mutations < 1
        ):
            raise SchedulerError(
                f"`architecture_mutations` must be an int >= 1, but got {architecture_mutations!r}."
            )
        if mode is not None and mode not in ("min", "max"):
            raise SchedulerError(f"`mode` must be one of ['min', 'max'], but got {mode!r}.")
        self.space = space
        self._arch_keys = architecture_keys(space)
        if not self._arch_keys:
            raise SchedulerError(
                "`space` has no architecture keys to mutate (only training hyperparameters "
                f"{training_keys(space)}); use joint_pbt for hyperparameters alone."
            )
        mutations = dict(
            pbt_mutations(space) if hyperparam_mutations is None else hyperparam_mutations
        )
        self._snap = SnapToSpace(space, [k for k in mutations if k in training_keys(space)])
        super().__init__(
            time_attr=time_attr,
            metric=metric,
            mode=mode,
            perturbation_interval=perturbation_interval,
            burn_in_period=burn_in_period,
            hyperparam_mutations=mutations,
            quantile_fraction=quantile_fraction,
            resample_probability=resample_probability,
            perturbation_factors=perturbation_factors,
            custom_explore_fn=_noop,  # the work is done in _get_new_config
            log_config=log_config,
            require_attrs=require_attrs,
            synch=synch,
        )
        self._arch_probability = float(architecture_probability)
        self._arch_mutations = architecture_mutations
        self._rng = np.random.default_rng(seed)
        self._seed_streams(None if seed is None else seed + 1)
        self._history: list[dict[str, Any]] = []

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every exploit: ``{"trial_id", "donor_id", "time", "donor_score", "score",
        "architecture_changed", "changes": {key: (old, new)}}`` in order."""
        return copy.deepcopy(self._history)

    def explore_config(self, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """A mutated copy of ``config``: training values snapped, architecture mutated.

        Returns:
            The new config and ``{key: (old, new)}`` of what changed in the architecture.
        """
        new = self._snap(dict(copy.deepcopy(dict(config))))
        if self._rng.random() >= self._arch_probability:
            return new, {}
        arch = {k: new[k] for k in self._arch_keys if k in new}
        fields = getattr(self.space, "fields", {})
        part = {k: v for k, v in new.items() if k in fields}
        for _ in range(self._arch_mutations):
            part = self._mutate_architecture(part)
        new.update({k: part[k] for k in self._arch_keys if k in part})
        return new, config_diff(arch, {k: new[k] for k in arch})

    def _mutate_architecture(self, config: dict[str, Any]) -> dict[str, Any]:
        try:
            canonical = self.space.validate(config)
        except ValueError as e:
            raise SchedulerError(
                f"a trial's config does not belong to the space, so its architecture cannot be "
                f"mutated: {e}"
            ) from e
        for _ in range(_MAX_TRIES):
            try:
                child = self.space.mutate(canonical, self._rng)
            except SpaceDefinitionError:
                return canonical  # a single architecture: nothing to mutate
            if any(child.get(k) != canonical.get(k) for k in self._arch_keys):
                keep = {k: canonical[k] for k in canonical if k not in self._arch_keys}
                return self.space.validate({**child, **keep})
        return canonical

    def _get_new_config(self, trial: Trial, trial_to_clone: Trial) -> tuple[dict, dict]:
        new_config, operations = super()._get_new_config(trial, trial_to_clone)
        new_config, changes = self.explore_config(new_config)
        if changes:
            operations = dict(operations)
            for key in changes:
                operations[key] = "mutate architecture"
        state, donor = self._trial_state.get(trial), self._trial_state.get(trial_to_clone)
        self._history.append(
            {
                "trial_id": trial.trial_id,
                "donor_id": trial_to_clone.trial_id,
                "time": getattr(donor, "last_train_time", None),
                "donor_score": getattr(donor, "last_score", None),
                "score": getattr(state, "last_score", None),
                "architecture_changed": bool(changes),
                "changes": {k: list(v) for k, v in changes.items()},
            }
        )
        if changes:
            logger.info(
                "[ArchitecturePBT] trial %s continues from %s with a mutated architecture: %s",
                trial.trial_id,
                trial_to_clone.trial_id,
                changes,
            )
        return new_config, operations

    def debug_string(self) -> str:
        mutated = sum(h["architecture_changed"] for h in self._history)
        return (
            f"ArchitecturePBT: {self._num_checkpoints} checkpoints, {self._num_perturbations} "
            f"perturbations, {mutated} architecture mutations"
        )


def inherit_weights(
    space: Any,
    checkpoint: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    mode: str = "net2net",
    noise: float = 0.0,
    seed: int | None = 0,
    keys: Sequence[str] | None = None,
) -> tuple[Any, Any]:
    """The network of ``config``, carrying the weights of a checkpoint of maybe another one.

    Args:
        space: the search space (``build``).
        checkpoint: ``{"config": ..., "state_dict": ...}`` saved by the donor trial.
        config: the restoring trial's config.
        mode, noise, seed: see :func:`~raynas.schedulers.transfer_weights`.
        keys: the architecture keys to compare (default: :func:`architecture_keys`).

    Returns:
        ``(model, report)``: ``report`` is None when the architecture is unchanged (the state
        dict is loaded strictly), else the :class:`~raynas.schedulers.TransferReport`.
    """
    from raynas.schedulers._transfer import _build, morph

    for field in ("config", "state_dict"):
        if field not in checkpoint:
            raise SchedulerError(
                f"the checkpoint must hold `{field}` (it holds {sorted(checkpoint)}); save "
                "{'config': config, 'state_dict': model.state_dict(), ...} in the trainable."
            )
    keys = list(keys) if keys is not None else architecture_keys(space)
    old_cfg, new_cfg = dict(checkpoint["config"]), dict(config)
    fields = getattr(space, "fields", None)
    if isinstance(fields, Mapping):
        old_cfg = {k: v for k, v in old_cfg.items() if k in fields}
        new_cfg = {k: v for k, v in new_cfg.items() if k in fields}
    old_arch = {k: old_cfg.get(k) for k in keys}
    new_arch = {k: new_cfg.get(k) for k in keys}
    if old_arch == new_arch:
        model = _build(space, new_cfg, seed)
        model.load_state_dict(checkpoint["state_dict"])
        return model, None
    return morph(
        space, checkpoint["state_dict"], old_cfg, new_cfg, mode=mode, noise=noise, seed=seed
    )
