"""The engine's other paths through the front door: one-shot strategies by name (supernet
search, then the derived architectures trained as candidates)."""

from __future__ import annotations

import json
import os

import pytest

import raynas
from raynas.frontdoor import ConfigError, SearchOptions
from raynas.frontdoor.plan import make_plan

TINY_NB201 = {"channels": 4, "cells_per_stage": 1}


def one_mlp_candidate(tmp_path, **options):
    """A search of one MLP candidate trained for 2 epochs on digits: the results and it."""
    results = raynas.search(
        "mlp", "digits", budget=1, max_epochs=2, storage_path=str(tmp_path), verbose=0, **options
    )
    (c,) = results.candidates
    assert c.feasible, c.reason
    return results, c


def test_a_space_without_a_supernet_is_refused_before_ray(tmp_path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"`strategy` = 'darts' searches a supernet of the space, and only 'nb201' "
        r"\(NB201CellSpace\) have one; the space is a MLPSpace",
    ):
        make_plan(SearchOptions("mlp", "digits", strategy="darts", storage_path=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"'nb201' \(NB201CellSpace\) and 'mobile'"):
        make_plan(SearchOptions("mlp", "digits", strategy="spos", storage_path=str(tmp_path)))


def test_one_shot_arguments_are_checked_before_ray(tmp_path) -> None:
    base = dict(space_kwargs=TINY_NB201, storage_path=str(tmp_path))
    with pytest.raises(ConfigError, match=r"`strategy_kwargs` of 'gdas': .*tau_min"):
        make_plan(SearchOptions("nb201", strategy="gdas", strategy_kwargs={"tau_min": -1}, **base))
    with pytest.raises(ConfigError, match=r"`strategy_kwargs.samples` .* is for 'spos'"):
        make_plan(SearchOptions("nb201", strategy="darts", strategy_kwargs={"samples": 9}, **base))
    with pytest.raises(ConfigError, match=r"`strategy_kwargs.epochs` must be an int >= 1"):
        make_plan(SearchOptions("nb201", strategy="spos", strategy_kwargs={"epochs": 0}, **base))
    with pytest.raises(ConfigError, match=r"cannot be combined with `scheduler` = 'pbt'"):
        make_plan(SearchOptions("nb201", strategy="darts", scheduler="pbt", **base))
    with pytest.raises(ConfigError, match=r"did you mean 'darts'"):
        SearchOptions("nb201", strategy="dart")


def test_a_one_shot_strategy_from_the_yaml(tmp_path) -> None:
    opts = SearchOptions.from_mapping(
        {
            "space": {"type": "nb201", **TINY_NB201},
            "strategy": {"name": "gdas", "epochs": 2, "tau_max": 5.0},
            "budget": 3,
            "storage_path": str(tmp_path),
        }
    )
    plan = make_plan(opts)
    assert plan.oneshot == {
        "method": "gdas",
        "epochs": 2,
        "batch_size": 64,
        "samples": None,
        "settings": {"tau_max": 5.0},
    }


@pytest.mark.ray
@pytest.mark.parametrize(
    ("method", "budget", "settings"),
    [
        ("darts", 1, {"eigen_every": 0}),
        pytest.param("spos", 2, {"samples": 4, "val_paths": 1}, marks=pytest.mark.slow),
    ],
)
def test_a_one_shot_search_returns_its_derived_architectures_trained(
    ray_session, tmp_path, method, budget, settings
) -> None:
    results = raynas.search(
        "nb201",
        "digits",
        strategy=method,
        strategy_kwargs={"epochs": 1, "batch_size": 128, **settings},
        space_kwargs=TINY_NB201,
        budget=budget,
        max_epochs=1,
        storage_path=str(tmp_path),
        name=method,
        verbose=0,
    )
    assert len(results) == budget  # the seeds' cells / the best paths, each trained once
    record = json.loads((tmp_path / method / "oneshot.json").read_text())
    assert len(record) == len(results)
    assert os.path.isdir(tmp_path / method / "supernet")
    for c in results.candidates:
        assert c.feasible, c.reason
        assert c.extra["oneshot"]["method"] == method
        assert 0.0 <= c.extra["oneshot"]["supernet_val_acc"] <= 1.0
        assert c.config in [r["config"] for r in record]
    best = results.best()
    model = results.load_model(best)  # trained from scratch in the final stage
    assert sum(p.numel() for p in model.parameters()) == best.metrics["params"]
    if method == "darts":
        assert best.extra["oneshot"]["arch_str"] == results.space.to_arch_str(best.config)
    assert results.export(str(tmp_path / "export"), top=1)


def test_data_parallel_settings_are_checked_before_ray() -> None:
    opts = SearchOptions("mlp", data_parallel=3, resources_per_trial={"cpu": 0.5})
    assert opts.data_parallel == {
        "num_workers": 3,
        "cpus_per_worker": 0.5,
        "use_gpu": False,
        "driver_cpus": 0.1,
        "worker_retries": 0,
    }
    assert SearchOptions("mlp", data_parallel=2, resources_per_trial={"gpu": 1}).data_parallel[
        "use_gpu"
    ]
    with pytest.raises(
        ConfigError,
        match=r"`data_parallel.num_worker` is not a known key "
        r"\(did you mean `data_parallel.num_workers`\?\)",
    ):
        SearchOptions("mlp", data_parallel={"num_worker": 2})
    with pytest.raises(ConfigError, match=r"`data_parallel.num_workers` must be an int >= 1"):
        SearchOptions("mlp", data_parallel={"num_workers": 0})
    with pytest.raises(ConfigError, match=r"one whole GPU, but `resources_per_trial.gpu` is 0.5"):
        SearchOptions("mlp", data_parallel=2, resources_per_trial={"gpu": 0.5})
    with pytest.raises(ConfigError, match=r"workers take CPUs and GPUs only.*\['hw:jetson'\]"):
        SearchOptions("mlp", data_parallel=2, resources_per_trial={"hw:jetson": 1})


@pytest.mark.ray
@pytest.mark.slow  # Ray Train's worker group starts in about a minute on 2 shared cores
def test_a_candidate_trains_data_parallel_on_two_cpu_workers(ray_session, tmp_path) -> None:
    results, c = one_mlp_candidate(
        tmp_path, data_parallel={"num_workers": 2, "cpus_per_worker": 0.5}
    )
    assert c.metrics["epoch"] == 2 and 0.0 <= c.metrics["val_acc"] <= 1.0
    ranks = os.listdir(os.path.join(c.trial_path, "ray_train"))  # the trial's Ray Train run
    assert ranks and ranks[0].startswith("raynas-dp-")
    model = results.load_model(c)
    assert sum(p.numel() for p in model.parameters()) == c.metrics["params"]


FAST = dict(min_runs=10, min_seconds=0.05, warmup_runs=2, energy="off")


def test_quantized_acc_of_a_float_target_is_refused_before_ray(tmp_path) -> None:
    from raynas.hardware import HardwareTarget

    with pytest.raises(
        ConfigError,
        match=r"`quantized_acc` is the accuracy after int8 quantization, but hardware "
        r"target `cpu` does not quantize",
    ):
        make_plan(
            SearchOptions(
                "mlp",
                objectives=["quantized_acc:max"],
                hardware=[HardwareTarget(name="cpu", **FAST)],
                storage_path=str(tmp_path),
            )
        )


@pytest.mark.ray
@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_an_int8_target_reports_quantized_accuracy_as_an_objective(
    ray_session, tmp_path, mode
) -> None:
    from raynas.hardware import HardwareTarget

    results, c = one_mlp_candidate(
        tmp_path,
        objectives=["quantized_acc:max", "latency_p50_ms:min"],
        constraints=["quantized_acc >= 0.05"],
        hardware=[HardwareTarget(name="cpu", quantization=mode, **FAST)],
    )
    # scored on the validation split: the int8 model agrees closely with the float one
    assert 0.0 <= c.metrics["quantized_acc"] <= 1.0
    assert abs(c.metrics["quantized_acc"] - c.metrics["val_acc"]) < 0.1
    assert c.metrics["latency_p50_ms"] > 0
    assert results.best().trial_id == c.trial_id  # quantized_acc ranks the candidates


def test_latency_screening_needs_a_latency_bound() -> None:
    with pytest.raises(
        ConfigError,
        match=r"`latency_screening.metric` = None is not a bounded latency objective; the "
        r"bounded ones are \[\]",
    ):
        SearchOptions("mlp", objectives=["val_acc", "latency_p50_ms:min"], latency_screening=True)
    with pytest.raises(ConfigError, match=r"did you mean `latency_screening.min_measurements`"):
        SearchOptions(
            "mlp", constraints=["latency_p50_ms <= 5"], latency_screening={"min_measurement": 3}
        )
    opts = SearchOptions.from_mapping(
        {"space": "mlp", "constraints": ["latency_p50_ms <= 5"], "latency_screening": True}
    )
    assert opts.latency_screening["bound"] == 5.0 and opts.latency_screening["op"] == "<="


@pytest.mark.ray
def test_candidates_predicted_over_the_latency_bound_are_not_trained(ray_session, tmp_path):
    from raynas.hardware import HardwareTarget

    results = raynas.search(
        "mlp",
        "digits",
        objectives=["val_acc:max", "latency_p50_ms:min"],
        constraints=["latency_p50_ms <= 0.000001"],  # no network is this fast
        hardware=[HardwareTarget(name="cpu", **FAST)],
        latency_screening={"min_measurements": 3, "max_skips": 2, "estimator": "ridge"},
        budget=4,
        max_epochs=1,
        max_concurrent=1,
        storage_path=str(tmp_path),
        name="screen",
        verbose=0,
    )
    assert len(results) == 4  # screened candidates start no trial and do not count in budget
    measured = [c.metrics["latency_p50_ms"] for c in results.candidates]
    screened = json.loads((tmp_path / "screen" / "screened.json").read_text())
    assert len(screened) == 2  # the 4th trial's first two proposals, after 3 measurements
    trained = {json.dumps(c.config, sort_keys=True) for c in results.candidates}
    for s in screened:
        assert s["predicted"] > 0.000001
        assert min(measured) / 10 < s["predicted"] < max(measured) * 10
        assert json.dumps(s["config"], sort_keys=True) not in trained


@pytest.mark.ray
def test_pbt_evolves_a_first_population_proposed_by_the_strategy(ray_session, tmp_path):
    from raynas.strategies import get_strategy

    opts = dict(
        strategy="evolution",
        strategy_kwargs={"population_size": 4},
        scheduler="pbt",
        scheduler_kwargs={"perturbation_interval": 1},
        budget=2,
        max_epochs=2,
        seed=3,
    )
    results = raynas.search("mlp", "digits", storage_path=str(tmp_path), verbose=0, **opts)
    plan = make_plan(SearchOptions("mlp", "digits", storage_path=str(tmp_path), **opts))
    strategy = get_strategy(
        "evolution", space=plan.space, objectives=plan.objectives, seed=3, population_size=4
    )
    proposed = [plan.space.key(strategy.ask()) for _ in range(2)]
    assert len(results) == 2
    started = []
    for c in results.candidates:  # each trial's config at its first report: PBT's exploit may
        # have rewritten params.json since, with a donor's config
        with open(os.path.join(c.trial_path, "result.json")) as f:
            params = json.loads(f.readline())["config"]
        assert params["seed"] in (3, 4)  # the members' training seeds
        started.append(plan.space.key({k: v for k, v in params.items() if k != "seed"}))
    assert sorted(started) == sorted(proposed)


def test_the_engine_options_from_a_yaml_file(tmp_path) -> None:
    from raynas.config import load_config

    path = tmp_path / "search.yaml"
    path.write_text(
        f"""
space: mlp
data: digits
objectives: ["quantized_acc:max", "latency_p50_ms:min"]
constraints: ["latency_p50_ms <= 5"]
hardware: [{{name: cpu, quantization: dynamic}}]
strategy: {{name: evolution, population_size: 4}}
scheduler: pbt
data_parallel: {{num_workers: 2, cpus_per_worker: 0.5}}
storage_path: {tmp_path}
"""
    )
    plan = make_plan(load_config(str(path)))
    assert plan.data_parallel["num_workers"] == 2 and plan.data_parallel["cpus_per_worker"] == 0.5
    assert plan.hardware[0].quantization == "dynamic"
    assert plan.strategy == "evolution" and plan.scheduler == "pbt"
    path.write_text(
        f"""
space: mlp
constraints: ["latency_p50_ms <= 5"]
latency_screening: {{min_measurements: 4, estimator: ridge}}
storage_path: {tmp_path}
"""
    )
    screening = make_plan(load_config(str(path))).latency_screening
    assert screening["min_measurements"] == 4 and screening["bound"] == 5.0
