"""Spaces inside real Ray Tune runs: ``to_tune()`` with Tune's sampler, ``to_hyperopt()`` with
``HyperOptSearch``; every trial's config validates, conditionals included."""

from __future__ import annotations

import pytest
from ray import tune

from raynas.search_spaces import (
    Boolean,
    Choice,
    Float,
    Int,
    Repeat,
    SearchSpace,
    Struct,
    When,
)

pytestmark = pytest.mark.ray

SPACE = SearchSpace(
    {
        "num_layers": Int(1, 3),
        "units_0": Int(32, 512, step=32),
        "units_1": When("num_layers", [2, 3], Int(32, 512, step=32)),
        "units_2": When("num_layers", [3], Int(32, 512, step=32)),
        "optimizer": Choice(["adam", "sgd"]),
        "momentum": When("optimizer", ["sgd"], Float(0.5, 0.99)),
        "blocks": Repeat(Struct({"kernel_size": Choice([3, 5, 7]), "se": Boolean()}), 1, 3),
        "stages": Repeat(Struct({"depth": Int(1, 2)}), 2),
        "learning_rate": Float(1e-4, 1e-1, log=True),
        "batch_size": Int(16, 256, log=True),
    }
)


def _trainable(config):
    # Validation happens inside the trial, exactly where a raynas trainable does it.
    canonical = SPACE.validate(config)
    tune.report({"score": float(canonical["units_0"]), "num_layers": canonical["num_layers"]})


def _run(tmp_storage: str, **tune_config) -> list[dict]:
    tuner = tune.Tuner(
        _trainable,
        param_space=SPACE.to_tune() if "search_alg" not in tune_config else None,
        tune_config=tune.TuneConfig(metric="score", mode="max", reuse_actors=True, **tune_config),
        run_config=tune.RunConfig(storage_path=tmp_storage, verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors, grid.errors
    return [r.config for r in grid]


def test_tuner_samples_to_tune_directly(ray_session, tmp_storage) -> None:
    configs = _run(tmp_storage, num_samples=12)
    assert len(configs) == 12
    canonical = [SPACE.validate(c) for c in configs]
    assert {c["num_layers"] for c in canonical} > {1}
    for raw, c in zip(configs, canonical, strict=True):
        present = {k for k, v in raw.items() if v is not None}
        assert present == set(c)


def test_hyperopt_search_over_to_hyperopt(ray_session, tmp_storage) -> None:
    from ray.tune.search.hyperopt import HyperOptSearch

    search = HyperOptSearch(
        space=SPACE.to_hyperopt(),
        metric="score",
        mode="max",
        random_state_seed=0,
        n_initial_points=4,
    )
    configs = _run(tmp_storage, num_samples=10, search_alg=search)
    canonical = [SPACE.validate(c) for c in configs]
    assert len(canonical) == 10
    assert {c["num_layers"] for c in canonical} > {1}
    assert any("units_2" in c for c in canonical) or any(c["num_layers"] < 3 for c in canonical)
