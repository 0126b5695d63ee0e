"""Resources per trial: CPUs, fractional GPUs, data-parallel workers (GPU runs on GPU machines)."""

from __future__ import annotations

import pytest
import torch

from raynas import NASTrainable
from raynas.evaluation import DataParallelTrainable, EvaluationError
from tests.evaluation.helpers import TinyMLPSpace, device_of

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_two_half_gpu_trials_request_shapes_fit_one_gpu():
    from ray.tune.trainable import wrap_function

    trainable = NASTrainable(TinyMLPSpace(), "digits", cpus=1, gpus=0.5)
    pgf = trainable.placement()
    assert pgf.bundles == [{"CPU": 1.0, "GPU": 0.5}]
    assert pgf.required_resources == {"CPU": 1.0, "GPU": 0.5}
    assert 2 * pgf.required_resources["GPU"] <= 1.0  # two such trials share one GPU
    # Tune turns the trainable into its trial class and takes the request from it
    trial_cls = wrap_function(trainable)
    assert trial_cls.default_resource_request({}) == pgf


def test_a_finished_candidate_gives_its_cached_gpu_memory_back(monkeypatch):
    from raynas.evaluation._trainable import release_gpu_memory

    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(1))
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert release_gpu_memory() is False and not emptied  # CPU runs never touch CUDA
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert release_gpu_memory() is True and emptied == [1]


@needs_cuda
def test_release_gpu_memory_frees_the_cache_on_a_real_gpu():
    from raynas.evaluation._trainable import release_gpu_memory

    block = torch.empty(64 * 2**20, dtype=torch.uint8, device="cuda")
    del block
    assert torch.cuda.memory_reserved() > 0
    assert release_gpu_memory() is True
    assert torch.cuda.memory_reserved() == 0


def test_cpu_only_trials_request_no_gpu_and_use_their_cpus_as_threads():
    trainable = NASTrainable(TinyMLPSpace(), "digits", cpus=2)
    assert trainable.placement().bundles == [{"CPU": 2.0}]
    assert trainable._device() == ("cpu", 1)


@pytest.mark.parametrize(
    ("cpus", "gpus", "expected"),
    [
        (-1, 0, r"`cpus` must be a number >= 0, but got -1"),
        (1, "1", r"`gpus` must be a number >= 0, but got '1'"),
        (1, 1.5, r"`gpus` must be a fraction in \(0, 1\) .* or a whole number, but got 1.5"),
        (1, 2, r"`gpus` must be <= 1 for one training process, but got 2; .*DataParallelTrainable"),
        (0, 0, r"`cpus` and `gpus` cannot both be 0"),
    ],
)
def test_bad_resource_requests_are_refused_before_any_trial(cpus, gpus, expected):
    with pytest.raises(EvaluationError, match=expected):
        NASTrainable(TinyMLPSpace(), "digits", cpus=cpus, gpus=gpus)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine's message")
def test_a_gpu_trial_on_a_machine_without_cuda_says_so():
    trainable = NASTrainable(TinyMLPSpace(), "digits", gpus=0.5)
    with pytest.raises(EvaluationError, match=r"given 0.5 GPU\(s\), but torch.cuda.is_available"):
        trainable._device()


def test_data_parallel_request_shape():
    trainable = DataParallelTrainable(
        TinyMLPSpace(), "digits", num_workers=4, use_gpu=True, cpus_per_worker=2
    )
    assert trainable.placement().bundles == [{"CPU": 0.1}]  # the trial's driver only
    scaling = trainable.scaling_config()
    assert scaling.num_workers == 4 and scaling.use_gpu
    assert scaling.resources_per_worker == {"CPU": 2.0, "GPU": 1.0}


def test_data_parallel_workers_use_pytorch_lightning_strategy_objects(monkeypatch):
    """Ray's RayDDPStrategy subclasses `lightning.pytorch` when the `lightning` package is
    installed beside `pytorch_lightning` (seen on a GPU machine), and raynas's Trainer refused
    it; the workers' strategy and environment are pytorch_lightning's own classes."""
    import pytorch_lightning as pl
    import ray.train
    import ray.train.torch
    from pytorch_lightning.plugins.environments import ClusterEnvironment

    from raynas.evaluation._distributed import ray_ddp_plugins

    class Context:  # rank 3 of 4 on the second node
        def get_world_size(self):
            return 4

        def get_world_rank(self):
            return 3

        def get_local_rank(self):
            return 1

        def get_node_rank(self):
            return 1

    monkeypatch.setattr(ray.train, "get_context", Context)
    monkeypatch.setattr(ray.train.torch, "get_device", lambda: torch.device("cpu"))
    plugins = ray_ddp_plugins()
    strategy, (env,) = plugins["strategy"], plugins["plugins"]
    assert isinstance(strategy, pl.strategies.DDPStrategy)
    assert isinstance(env, ClusterEnvironment)
    env.set_world_size(1), env.set_global_rank(0)  # ignored: the Train context decides
    assert (env.world_size(), env.global_rank(), env.local_rank(), env.node_rank()) == (4, 3, 1, 1)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, **plugins)
    assert trainer.strategy is strategy and trainer.strategy.cluster_environment is env
    assert strategy.root_device == torch.device("cpu")
    assert strategy.distributed_sampler_kwargs == {"num_replicas": 4, "rank": 3}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"num_workers": 0}, r"`num_workers` must be an int >= 1, but got 0"),
        ({"use_gpu": 1}, r"`use_gpu` must be True or False, but got 1"),
        ({"driver_cpus": 0}, r"`driver_cpus` must be > 0"),
        ({"cpus_per_worker": 0}, r"`cpus_per_worker` must be > 0 for CPU workers"),
        ({"gpus": 1}, r"`gpus` is set per worker here"),
        ({"worker_retries": -1}, r"`worker_retries` must be an int >= 0, but got -1"),
    ],
)
def test_bad_data_parallel_settings_are_refused(kwargs, expected):
    with pytest.raises(EvaluationError, match=expected):
        DataParallelTrainable(TinyMLPSpace(), "digits", **kwargs)


@pytest.mark.slow
@pytest.mark.ray
def test_data_parallel_candidate_trains_on_two_cpu_workers_inside_a_tune_trial(
    ray_session, tmp_storage, recorder
):
    from ray import tune

    space = TinyMLPSpace()
    trainable = DataParallelTrainable(
        space, "digits", num_workers=2, cpus_per_worker=0.5, max_epochs=2, objectives=[device_of]
    )
    results = tune.Tuner(
        trainable,
        param_space=space.default_config(),
        run_config=tune.RunConfig(storage_path=tmp_storage, verbose=0, callbacks=[recorder]),
    ).fit()
    assert not results.errors
    (reports,) = recorder.results.values()
    assert [r["epoch"] for r in reports] == [1, 2]
    assert all(r["feasible"] for r in reports)
    assert reports[-1]["device"] == "cpu" and reports[-1]["val_acc"] > 0.5


@pytest.mark.gpu
@pytest.mark.ray
@needs_cuda
def test_two_half_gpu_trials_share_one_gpu(ray_session, tmp_storage, recorder):
    from ray import tune

    if ray_session.cluster_resources().get("GPU", 0) < 1:
        pytest.skip("the session's Ray instance has no GPU")
    space = TinyMLPSpace()
    trainable = NASTrainable(
        space, "digits", cpus=1, gpus=0.5, max_epochs=3, objectives=[device_of]
    )
    results = tune.Tuner(
        trainable,
        param_space={**space.default_config(), "seed": tune.grid_search([0, 1])},
        run_config=tune.RunConfig(storage_path=tmp_storage, verbose=0, callbacks=[recorder]),
    ).fit()
    assert not results.errors
    spans = []
    for reports in recorder.results.values():
        assert reports[-1]["device"].startswith("cuda") and reports[-1]["feasible"]
        spans.append((reports[0]["timestamp"], reports[-1]["timestamp"]))
    assert len(spans) == 2
    assert max(s for s, _ in spans) <= min(e for _, e in spans)  # they ran at the same time


@pytest.mark.gpu
@pytest.mark.ray
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
def test_data_parallel_candidate_trains_on_two_gpus(ray_session, tmp_storage, recorder):
    from ray import tune

    space = TinyMLPSpace()
    trainable = DataParallelTrainable(
        space, "digits", num_workers=2, use_gpu=True, max_epochs=2, objectives=[device_of]
    )
    results = tune.Tuner(
        trainable,
        param_space=space.default_config(),
        run_config=tune.RunConfig(storage_path=tmp_storage, verbose=0, callbacks=[recorder]),
    ).fit()
    assert not results.errors
    (reports,) = recorder.results.values()
    assert [r["epoch"] for r in reports] == [1, 2]
    assert reports[-1]["device"].startswith("cuda") and reports[-1]["feasible"]
