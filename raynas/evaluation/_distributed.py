"""Data-parallel training of one candidate on several workers (GPUs) with Ray Train, in a trial."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from raynas.evaluation._trainable import NASTrainable
from raynas.evaluation.errors import EvaluationError


class DataParallelTrainable(NASTrainable):
    """Trains one candidate data-parallel (DDP) with Ray Train's ``TorchTrainer``, as a Tune trial.

    The Tune trial runs a light driver (``driver_cpus`` CPUs, 0.1 by default) that launches a
    ``TorchTrainer`` of ``num_workers`` workers; each worker runs the same candidate life cycle
    as :class:`NASTrainable` with a DDP strategy wired to Ray Train's ranks (see
    :func:`ray_ddp_plugins`) and reports every epoch with
    ``ray.train.report``, which Ray's ``TuneReportCallback`` forwards to the Tune trial (so ASHA
    and the searchers see the same :data:`REPORTED_METRICS`). Rank 0 writes the checkpoints. The
    Train run is named after the trial, so a retried trial's Train run resumes from the run's
    latest checkpoint; worker failures inside a run are retried by Ray Train's own
    ``FailureConfig(max_failures=worker_retries)``.

    In data-parallel runs a NaN/inf loss is detected on the all-reduced gradients, so every
    rank stops at the same step and reports the same infeasible result.

    Args:
        space: the search space (``validate``, ``build``).
        data: as for :class:`NASTrainable`.
        num_workers: training workers (one GPU each with ``use_gpu``).
        use_gpu: one GPU per worker (NCCL); otherwise CPU workers (Gloo).
        cpus_per_worker: CPUs per worker.
        driver_cpus: CPUs held by the trial's driver while the workers train.
        worker_retries: Ray Train restarts of failed workers, from the latest checkpoint.
        storage_path: where the Train runs keep checkpoints (shared storage on a cluster);
            default: the Tune trial's directory (enough on one node).
        **kwargs: the other :class:`NASTrainable` arguments (``max_epochs``, ``objectives``...).

    Example:
        >>> # trainable = DataParallelTrainable(space, "mnist1d", num_workers=4, use_gpu=True)
        >>> # tune.Tuner(trainable, param_space=space.to_tune(),
        >>> #            tune_config=tune.TuneConfig(max_concurrent_trials=2)).fit()
    """

    def __init__(
        self,
        space: Any,
        data: Any = "digits",
        *,
        num_workers: int = 2,
        use_gpu: bool = False,
        cpus_per_worker: float = 1,
        driver_cpus: float = 0.1,
        worker_retries: int = 0,
        storage_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        for name in ("cpus", "gpus"):
            if name in kwargs:
                raise EvaluationError(
                    f"`{name}` is set per worker here: use `cpus_per_worker` and `use_gpu`."
                )
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
            raise EvaluationError(f"`num_workers` must be an int >= 1, but got {num_workers!r}.")
        if not isinstance(use_gpu, bool):
            raise EvaluationError(f"`use_gpu` must be True or False, but got {use_gpu!r}.")
        for name, value in (("cpus_per_worker", cpus_per_worker), ("driver_cpus", driver_cpus)):
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
                raise EvaluationError(f"`{name}` must be a number >= 0, but got {value!r}.")
        if driver_cpus == 0:
            raise EvaluationError(
                "`driver_cpus` must be > 0: a Tune trial needs a non-empty resource bundle "
                "(a small fraction such as 0.1 is enough for the driver)."
            )
        if not use_gpu and cpus_per_worker == 0:
            raise EvaluationError(
                "`cpus_per_worker` must be > 0 for CPU workers (`use_gpu=False`)."
            )
        if (
            isinstance(worker_retries, bool)
            or not isinstance(worker_retries, int)
            or worker_retries < 0
        ):
            raise EvaluationError(
                f"`worker_retries` must be an int >= 0, but got {worker_retries!r}."
            )
        self.num_workers = num_workers
        self.use_gpu = use_gpu
        self.cpus_per_worker = float(cpus_per_worker)
        self.driver_cpus = float(driver_cpus)
        self.worker_retries = worker_retries
        self.storage_path = storage_path
        super().__init__(space, data, cpus=1, gpus=0, **kwargs)
        self.cpus = self.driver_cpus
        self._resources = self.placement()
        self.__name__ = "DataParallelTrainable"

    def placement(self) -> Any:
        """The trial driver's bundle; the workers reserve their own resources."""
        from ray.tune import PlacementGroupFactory

        return PlacementGroupFactory([{"CPU": self.driver_cpus}])

    def scaling_config(self) -> Any:
        """The Ray Train ``ScalingConfig`` of the workers."""
        from ray.train import ScalingConfig

        resources: dict[str, float] = {"CPU": self.cpus_per_worker}
        if self.use_gpu:
            resources["GPU"] = 1.0
        return ScalingConfig(
            num_workers=self.num_workers, use_gpu=self.use_gpu, resources_per_worker=resources
        )

    def _run_config(self, callbacks: list[Any]) -> Any:
        import os

        import ray.train
        from ray import tune

        context = tune.get_context()
        storage = self.storage_path or os.path.join(context.get_trial_dir(), "ray_train")
        return ray.train.RunConfig(
            name=f"raynas-dp-{context.get_trial_id()}",
            storage_path=storage,
            callbacks=callbacks,
            failure_config=ray.train.FailureConfig(max_failures=self.worker_retries),
        )

    def __call__(self, config: dict[str, Any]) -> None:
        """The Tune trial: run the candidate's data-parallel Train run and forward its reports."""
        from ray.train.torch import TorchTrainer
        from ray.tune.integration.ray_train import TuneReportCallback

        trainer = TorchTrainer(
            self._train_loop,
            train_loop_config=dict(config),
            scaling_config=self.scaling_config(),
            run_config=self._run_config([TuneReportCallback()]),
        )
        trainer.fit()

    def _train_loop(self, config: Mapping[str, Any]) -> None:
        """What every Train worker runs: the candidate life cycle with the DDP strategy."""
        from raynas.evaluation._reporters import TrainReporter
        from raynas.evaluation._runner import run_candidate

        run_candidate(
            config,
            space=self.space,
            datamodule=self.get_datamodule(),
            reporter=TrainReporter(),
            settings=self.settings,
            task=self.task,
            objectives=self.objectives,
            module_factory=self.module_factory,
            accelerator="gpu" if self.use_gpu else "cpu",
            devices="auto",
            **ray_ddp_plugins(),
            num_threads=self.settings.num_threads or max(1, int(self.cpus_per_worker)),
            trainer_kwargs=self.trainer_kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"DataParallelTrainable(space={type(self.space).__name__}, "
            f"num_workers={self.num_workers}, use_gpu={self.use_gpu}, settings={self.settings})"
        )


def ray_ddp_plugins() -> dict[str, Any]:
    """``strategy`` and ``plugins`` for a Lightning ``Trainer`` on a Ray Train worker (DDP).

    What ``ray.train.lightning.RayDDPStrategy`` and ``RayLightningEnvironment`` do (device,
    ranks and sampler from the Ray Train context), built on ``pytorch_lightning``, the package
    raynas's modules and trainers come from. Ray's own classes subclass ``lightning.pytorch``
    whenever the ``lightning`` package is installed too, and a ``pytorch_lightning.Trainer``
    refuses them ("You selected an invalid strategy name"), so they are not used.
    """
    import pytorch_lightning as pl
    import ray.train
    import ray.train.torch
    import torch
    from pytorch_lightning.plugins.environments import LightningEnvironment

    class RayTrainDDPStrategy(pl.strategies.DDPStrategy):
        """DDP on the worker's device, sampling the worker's shard."""

        @property
        def root_device(self) -> torch.device:
            return ray.train.torch.get_device()

        @property
        def distributed_sampler_kwargs(self) -> dict[str, Any]:
            return {"num_replicas": self.world_size, "rank": self.global_rank}

    class RayTrainEnvironment(LightningEnvironment):
        """Ranks and world size from the Ray Train context, which owns the process group."""

        def world_size(self) -> int:
            return ray.train.get_context().get_world_size()

        def global_rank(self) -> int:
            return ray.train.get_context().get_world_rank()

        def local_rank(self) -> int:
            return ray.train.get_context().get_local_rank()

        def node_rank(self) -> int:
            return ray.train.get_context().get_node_rank()

        def set_world_size(self, size: int) -> None:
            pass  # the Train context is the source of truth

        def set_global_rank(self, rank: int) -> None:
            pass

        def teardown(self) -> None:
            pass

    return {
        "strategy": RayTrainDDPStrategy(find_unused_parameters=False),
        "plugins": [RayTrainEnvironment()],
    }


def train_checkpoint_of(metrics: Mapping[str, Any], trial_path: str | None) -> str | None:
    """The checkpoint folder of a data-parallel trial, from its reported ``checkpoint_path``.

    Ray Train's ``TuneReportCallback`` reports the checkpoint's path (not a Tune checkpoint),
    as written on the driver's node under the trial's folder; the same folder under the trial's
    storage path is returned where it exists (it outlives the Ray session), else the reported
    one, else None.
    """
    import os

    path = metrics.get("checkpoint_path")
    if not isinstance(path, str) or not path:
        return None
    if trial_path:
        name = os.path.basename(os.path.normpath(trial_path)) + os.sep
        if name in path:
            stored = os.path.join(trial_path, path.split(name, 1)[1])
            if os.path.isdir(stored):
                return stored
    return path if os.path.isdir(path) else None
