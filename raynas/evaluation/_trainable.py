"""``NASTrainable``: the Ray Tune function trainable that trains one candidate per trial."""

from __future__ import annotations

import gc
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from raynas.evaluation._metrics import TASK_METRICS
from raynas.evaluation._settings import EvaluationSettings
from raynas.evaluation.errors import EvaluationError

DataSpec = Any  # str name | (x, y) | LightningDataModule | zero-argument factory


def check_resources(cpus: Any, gpus: Any, *, max_gpus: float | None = 1) -> tuple[float, float]:
    """Check a per-trial resource request; fractional GPUs must be in (0, 1).

    Example:
        >>> check_resources(1, 0.5)
        (1.0, 0.5)
    """
    for name, value in (("cpus", cpus), ("gpus", gpus)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
            raise EvaluationError(f"`{name}` must be a number >= 0, but got {value!r}.")
    if gpus > 1 and float(gpus) != int(gpus):
        raise EvaluationError(
            f"`gpus` must be a fraction in (0, 1) (trials sharing a GPU) or a whole number, but "
            f"got {gpus!r}."
        )
    if max_gpus is not None and gpus > max_gpus:
        raise EvaluationError(
            f"`gpus` must be <= {max_gpus} for one training process, but got {gpus!r}; train one "
            "candidate on several GPUs with `DataParallelTrainable` (Ray Train data parallel)."
        )
    if cpus == 0 and gpus == 0:
        raise EvaluationError("`cpus` and `gpus` cannot both be 0: a trial needs a device.")
    return float(cpus), float(gpus)


def _resolve_data(data: DataSpec, data_kwargs: Mapping[str, Any]) -> Any:
    from raynas.data import get_datamodule

    return get_datamodule(data, **dict(data_kwargs))


class NASTrainable:
    """A Ray Tune function trainable: one trial trains and scores one candidate of ``space``.

    Call it with a trial config (Tune does): it validates the config against the space, builds
    the network, trains it with Lightning (:class:`CandidateModule`, or ``module_factory``) and
    after every epoch calls ``tune.report`` with :data:`REPORTED_METRICS` (+ ``val_acc`` or
    ``val_mae``) and a checkpoint. ASHA can stop it after any epoch, PBT can exploit it, and a
    retried or restored trial continues from its last checkpoint. A candidate that fails
    (invalid config, build error, NaN/inf loss, out of memory) ends with ``feasible=False`` and a
    ``reason`` in its last report, and the trial ends cleanly.

    The instance carries its resource request, so ``tune.Tuner(trainable, ...)`` schedules each
    trial with ``cpus`` CPUs and ``gpus`` GPUs (fractions share a GPU). It is safe to reuse a
    worker for the next candidate, and much faster: pass ``reuse_actors=True`` to
    ``tune.TuneConfig`` (as :func:`raynas.search` does) and torch, Lightning and the data load
    once per worker instead of once per candidate.

    Args:
        space: a search space: ``validate(config)``, ``build(config) -> nn.Module``.
        data: a dataset name (``"digits"``, ``"mnist1d"``), a tuple ``(x, y)``, a
            LightningDataModule, or a zero-argument factory returning one (built in each trial;
            use it for data too large to ship with the trainable).
        data_kwargs: arguments for the named dataset.
        settings: performance-estimation controls (``max_epochs``, ``train_fraction``,
            ``time_budget_s``, ``seed``...), or pass them as keyword arguments.
        task: ``"classification"`` or ``"regression"`` (default: the dataset's).
        objectives: hooks ``f(model, config) -> dict`` run after the last epoch; merged into the
            final report (:class:`FlopsObjective`; the hardware module plugs in here).
        module_factory: ``f(config) -> LightningModule`` to train instead of
            :class:`CandidateModule`; it must ``self.log`` ``train_loss``, ``val_loss`` and
            ``val_acc`` (or ``val_mae``).
        cpus: CPUs per trial (also the torch thread count unless ``settings.num_threads``).
        gpus: GPUs per trial; a fraction in (0, 1) lets several trials share one GPU.
        resources: custom Ray resources per trial (``{"accelerator_type:A100": 0.01}``).
        trainer_kwargs: extra ``pl.Trainer`` arguments.
        **settings_kwargs: fields of :class:`EvaluationSettings`.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Int
        >>> class Tiny(SearchSpace):
        ...     input_shape, num_classes = (1, 8, 8), 10
        ...     def build(self, config):
        ...         import torch.nn as nn
        ...         return nn.Sequential(nn.Flatten(), nn.Linear(64, config["width"]),
        ...                              nn.ReLU(), nn.Linear(config["width"], 10))
        >>> space = Tiny({"width": Int(16, 64)})
        >>> trainable = NASTrainable(space, "digits", max_epochs=3, cpus=1)
        >>> # tune.Tuner(trainable, param_space=space.to_tune(),
        >>> #            tune_config=tune.TuneConfig(num_samples=8, reuse_actors=True)).fit()
    """

    def __init__(
        self,
        space: Any,
        data: DataSpec = "digits",
        *,
        data_kwargs: Mapping[str, Any] | None = None,
        settings: EvaluationSettings | None = None,
        task: str | None = None,
        objectives: Sequence[Callable[[Any, Mapping[str, Any]], Mapping[str, Any]]] = (),
        module_factory: Callable[[dict[str, Any]], Any] | None = None,
        cpus: float = 1,
        gpus: float = 0,
        resources: Mapping[str, float] | None = None,
        trainer_kwargs: Mapping[str, Any] | None = None,
        **settings_kwargs: Any,
    ) -> None:
        required = ("validate",) if module_factory is not None else ("validate", "build")
        for attr in required:
            if not callable(getattr(space, attr, None)):
                raise EvaluationError(
                    f"`space` must have a `{attr}` method (a raynas SearchSpace), but got "
                    f"{type(space).__name__}."
                )
        if settings is not None and settings_kwargs:
            raise EvaluationError(
                f"give `settings` or settings keywords {sorted(settings_kwargs)}, not both."
            )
        try:
            self.settings = settings or EvaluationSettings(**settings_kwargs)
        except TypeError as e:
            fields = list(EvaluationSettings.__dataclass_fields__)
            unknown = sorted(set(settings_kwargs) - set(fields))
            raise EvaluationError(
                f"unknown keyword argument(s) {unknown or sorted(settings_kwargs)}; the settings "
                f"are {fields}."
            ) from e
        if task is not None and task not in TASK_METRICS:
            raise EvaluationError(f"`task` must be one of {list(TASK_METRICS)}, but got {task!r}.")
        for i, fn in enumerate(objectives):
            if not callable(fn):
                raise EvaluationError(f"`objectives[{i}]` must be callable, but got {fn!r}.")
        if module_factory is not None and not callable(module_factory):
            raise EvaluationError(f"`module_factory` must be callable, but got {module_factory!r}.")
        self.cpus, self.gpus = check_resources(cpus, gpus)
        self.resources = dict(resources or {})
        for key, value in self.resources.items():
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
                raise EvaluationError(
                    f"`resources.{key}` must be a number >= 0, but got {value!r}."
                )
        self.space = space
        self.task = task
        self.objectives = list(objectives)
        self.module_factory = module_factory
        self.trainer_kwargs = dict(trainer_kwargs or {})
        callbacks = self.trainer_kwargs.get("callbacks") or []
        if callbacks:
            from raynas.data._lightning import refuse_lightning_package

            for i, cb in enumerate(
                callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
            ):
                refuse_lightning_package(cb, "Callback", f"`trainer_kwargs.callbacks[{i}]`")
        self.data_kwargs = dict(data_kwargs or {})
        self._data_factory: Callable[[], Any] | None = None
        self.datamodule: Any = None
        if callable(data) and not isinstance(data, (str, tuple)) and not _is_datamodule(data):
            if self.data_kwargs:
                raise EvaluationError("`data_kwargs` cannot be used with a data factory.")
            self._data_factory = data
        else:
            self.datamodule = _resolve_data(data, self.data_kwargs)
            self._check_compatible(self.datamodule)
        if task is None and self.datamodule is not None:
            self.task = getattr(self.datamodule, "task", None)
        self.__name__ = "NASTrainable"
        self._resources = self.placement()

    def _check_compatible(self, dm: Any) -> None:
        for attr in ("input_shape", "num_classes"):
            s, d = getattr(self.space, attr, None), getattr(dm, attr, None)
            if s is not None and d is not None and tuple(_seq(s)) != tuple(_seq(d)):
                raise EvaluationError(
                    f"the space's `{attr}` {s!r} does not match the data's {d!r}; build the space "
                    f"with {attr}={d!r}."
                )

    def placement(self) -> Any:
        """The trial's ``PlacementGroupFactory``: one bundle of ``cpus`` CPUs and ``gpus`` GPUs."""
        from ray.tune import PlacementGroupFactory

        bundle = {"CPU": self.cpus, **{k: float(v) for k, v in self.resources.items() if v}}
        if self.gpus:
            bundle["GPU"] = self.gpus
        return PlacementGroupFactory([bundle])

    def get_datamodule(self) -> Any:
        """The datamodule (built from the factory, once per process, when one was given)."""
        if self.datamodule is None and self._data_factory is not None:
            dm = _resolve_data(self._data_factory(), {})
            self._check_compatible(dm)
            self.datamodule = dm
        return self.datamodule

    def _device(self, gpus: float | None = None) -> tuple[str, int]:
        gpus = self.gpus if gpus is None else gpus
        if not gpus:
            return "cpu", 1
        import torch

        if not torch.cuda.is_available():
            raise EvaluationError(
                f"the trial was given {gpus} GPU(s), but torch.cuda.is_available() is "
                "False on its node; install a CUDA build of torch or request `gpus=0`."
            )
        return "gpu", 1

    def _granted(self) -> tuple[float, float]:
        """CPUs and GPUs of the running Tune trial (a user's ``tune.with_resources`` may have
        replaced ours)."""
        from ray import tune

        resources = tune.get_context().get_trial_resources()
        if resources is None:
            return self.cpus, self.gpus
        required = resources.required_resources
        return float(required.get("CPU", 0.0)), float(required.get("GPU", 0.0))

    def run(
        self,
        config: Mapping[str, Any],
        reporter: Any,
        *,
        cpus: float | None = None,
        gpus: float | None = None,
    ) -> dict[str, Any]:
        """Train one candidate with ``config``, reporting to ``reporter`` (no Tune needed).

        ``cpus``/``gpus``: what the trial was granted (default: this trainable's request).
        """
        from raynas.evaluation._runner import run_candidate

        cpus = self.cpus if cpus is None else cpus
        accelerator, devices = self._device(gpus)
        return run_candidate(
            config,
            space=self.space,
            datamodule=self.get_datamodule(),
            reporter=reporter,
            settings=self.settings,
            task=self.task,
            objectives=self.objectives,
            module_factory=self.module_factory,
            accelerator=accelerator,
            devices=devices,
            num_threads=self.settings.num_threads or max(1, int(cpus)),
            trainer_kwargs=self.trainer_kwargs,
        )

    def __call__(self, config: dict[str, Any]) -> None:
        """The Tune function trainable: reports with ``tune.report`` every epoch."""
        from raynas.evaluation._reporters import TuneReporter

        cpus, gpus = self._granted()
        try:
            self.run(config, TuneReporter(), cpus=cpus, gpus=gpus)
        finally:
            release_gpu_memory()

    def __repr__(self) -> str:
        return (
            f"NASTrainable(space={type(self.space).__name__}, cpus={self.cpus}, gpus={self.gpus}, "
            f"settings={self.settings})"
        )


def release_gpu_memory() -> bool:
    """Hand the CUDA memory torch cached for a finished candidate back to the driver.

    Tune reuses a worker process for the next candidate; without this, the blocks cached for the
    last one stay reserved, out of reach of the trials that share the GPU. Returns whether there
    was a CUDA context to release from (nothing is imported or initialized otherwise).
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return False
    gc.collect()  # Lightning's trainer and module hold each other: free them before the cache
    torch.cuda.empty_cache()
    return True


def _is_datamodule(obj: Any) -> bool:
    try:
        import pytorch_lightning as pl
    except ImportError:  # pragma: no cover - a dependency
        return False
    from raynas.data._lightning import is_lightning_package_datamodule

    return isinstance(obj, pl.LightningDataModule) or is_lightning_package_datamodule(obj)


def _seq(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)
