"""PBT over MLP candidates on digits inside real ``tune.Tuner`` runs (local Ray, 2 CPUs)."""

from __future__ import annotations

import pytest
from ray import tune
from sched_trainables import SPACE, digits_trainable

from raynas.schedulers import ArchitecturePBT, joint_pbt
from raynas.search_spaces import MLPSpace

pytestmark = [pytest.mark.ray, pytest.mark.slow]

MAX_EPOCHS = 6
# four candidates (architecture + training values); the last one learns far too slowly, so it
# is the bottom of the population at every perturbation and must exploit a better trial
CANDIDATES = [
    {"layers": [{"width": 64}], "learning_rate": 0.01, "weight_decay": 1e-5, "batch_size": 64},
    {"layers": [{"width": 32}, {"width": 32}], "learning_rate": 0.005, "weight_decay": 1e-4,
     "batch_size": 64},
    {"layers": [{"width": 32}], "learning_rate": 0.003, "weight_decay": 1e-5, "batch_size": 32},
    {"layers": [{"width": 16}], "learning_rate": 1e-4, "weight_decay": 1e-6, "batch_size": 128},
]  # fmt: skip


def _param_space(**extra):
    base = {"activation": "relu", "dropout": 0.0, "batch_norm": False, "max_epochs": MAX_EPOCHS}
    return {
        "cand": tune.grid_search(list(range(len(CANDIDATES)))),
        **{
            k: tune.sample_from(lambda config, k=k: CANDIDATES[config["cand"]][k])
            for k in CANDIDATES[0]
        },
        **base,
        **extra,
    }


class Reports(tune.Callback):
    """Every report of every trial, in the driver (no result files needed)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self.rows.append(dict(result))


def _fit(scheduler, storage, **extra):
    reports = Reports()
    tuner = tune.Tuner(
        digits_trainable,
        param_space=_param_space(**extra),
        tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=True),
        run_config=tune.RunConfig(
            storage_path=storage,
            verbose=0,
            callbacks=[reports],
        ),
    )
    results = tuner.fit()
    assert not results.errors, results.errors
    return results, reports.rows


def _exploits(rows):
    """(trial id, donor id, inherited) of reports that continued from another trial's checkpoint."""
    return {
        (row["trial_id"], row["restored_from"], row["inherited"])
        for row in rows
        if row["restored_from"] and row["restored_from"] != row["trial_id"]
    }


def test_joint_pbt_over_four_mlp_candidates_exploits_and_finishes(ray_session, tmp_storage):
    pbt = joint_pbt(
        SPACE, perturbation_interval=2, quantile_fraction=0.25, resample_probability=0.5
    )
    results, rows = _fit(pbt, tmp_storage)
    assert len(results) == 4
    assert all(r.metrics["epoch"] == MAX_EPOCHS for r in results), "every trial finishes"
    exploits = _exploits(rows)
    assert exploits, "some trial must continue from another trial's checkpoint"
    ids = {r.metrics["trial_id"] for r in results}
    assert all(donor in ids for _, donor, _ in exploits)
    assert {inherited for *_, inherited in exploits} == {"same architecture"}
    # explored training values stay inside the space
    for r in results:
        SPACE.validate({k: v for k, v in r.config.items() if k in SPACE.fields})
    first = {row["trial_id"]: row["config"]["cand"] for row in reversed(rows)}
    (slow,) = [tid for tid, cand in first.items() if cand == 3]
    assert any(own == slow for own, _, _ in exploits)


def test_pb2_over_four_mlp_candidates_exploits_and_finishes(ray_session, tmp_storage):
    pb2 = joint_pbt(SPACE, kind="pb2", perturbation_interval=2, quantile_fraction=0.25, seed=0)
    results, rows = _fit(pb2, tmp_storage)
    assert all(r.metrics["epoch"] == MAX_EPOCHS for r in results)
    assert _exploits(rows), "some trial must continue from another trial's checkpoint"
    for r in results:  # PB2's continuous proposals are snapped into the space
        SPACE.validate({k: v for k, v in r.config.items() if k in SPACE.fields})


def test_architecture_pbt_mutates_and_inherits_weights(ray_session, tmp_storage):
    pbt = ArchitecturePBT(
        space=SPACE, metric="val_acc", mode="max", perturbation_interval=2,
        quantile_fraction=0.25, seed=3,
    )  # fmt: skip
    results, rows = _fit(pbt, tmp_storage)
    assert all(r.metrics["epoch"] == MAX_EPOCHS for r in results)
    changed = [h for h in pbt.history if h["architecture_changed"]]
    assert changed, "an explore step must have mutated an architecture"
    # the trial that continued with a mutated architecture inherited its donor's weights
    inherited = _exploits(rows)
    pairs = {(h["trial_id"], h["donor_id"]) for h in changed}
    hits = [i for i in inherited if (i[0], i[1]) in pairs]
    assert hits, (inherited, pairs)
    assert all("copied" in summary or "widened" in summary for _, _, summary in hits)


# -- the same with raynas' own trainable (Lightning candidates, per-epoch checkpoints) ----------
IMG_SPACE = MLPSpace(input_shape=(1, 8, 8), num_classes=10, max_layers=2, width=[16, 32, 64])


def _nas_fit(scheduler, storage):
    from raynas.evaluation import NASTrainable

    trainable = NASTrainable(IMG_SPACE, "digits", max_epochs=MAX_EPOCHS, cpus=1)
    reports = Reports()
    base = {"activation": "relu", "dropout": 0.0, "batch_norm": False}
    tuner = tune.Tuner(
        trainable,
        param_space={
            "cand": tune.grid_search(list(range(len(CANDIDATES)))),
            **{
                k: tune.sample_from(lambda config, k=k: CANDIDATES[config["cand"]][k])
                for k in CANDIDATES[0]
            },
            **base,
        },
        tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, verbose=0, callbacks=[reports]),
    )
    results = tuner.fit()
    assert not results.errors, results.errors
    return results, reports.rows


def _policy(storage):
    """Ray PBT's exploit log: [target tag, donor tag, target iter, donor iter, old, new]."""
    import glob
    import json

    rows = []
    for path in glob.glob(f"{storage}/**/pbt_global.txt", recursive=True):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def test_joint_pbt_with_nas_trainable_exploits_through_its_checkpoints(ray_session, tmp_storage):
    pbt = joint_pbt(IMG_SPACE, perturbation_interval=2, quantile_fraction=0.25)
    results, rows = _nas_fit(pbt, tmp_storage)
    assert all(r.metrics["epoch"] == MAX_EPOCHS and r.metrics["feasible"] for r in results)
    policy = _policy(tmp_storage)
    assert policy and pbt._num_perturbations == len(policy)
    for target, donor, *_ in policy:
        assert target != donor
    # after an exploit the target trains on with explored values: some trial reports two
    # learning rates over its life
    rates: dict[str, set[float]] = {}
    for row in rows:
        rates.setdefault(row["trial_id"], set()).add(row["config"]["learning_rate"])
    assert any(len(v) > 1 for v in rates.values())


def test_architecture_pbt_with_nas_trainable_rebuilds_and_inherits(ray_session, tmp_storage):
    pbt = ArchitecturePBT(space=IMG_SPACE, metric="val_acc", mode="max", perturbation_interval=2,
                          quantile_fraction=0.25, seed=3)  # fmt: skip
    results, rows = _nas_fit(pbt, tmp_storage)
    assert all(r.metrics["epoch"] == MAX_EPOCHS for r in results)
    assert all(row["feasible"] for row in rows), [row["reason"] for row in rows]
    changed = {h["trial_id"] for h in pbt.history if h["architecture_changed"]}
    assert changed
    for r in results:  # every trial's last network is the one its final config describes
        arch = IMG_SPACE.validate({k: v for k, v in r.config.items() if k in IMG_SPACE.fields})
        want = sum(p.numel() for p in IMG_SPACE.build(arch).parameters())
        assert r.metrics["params"] == want, r.metrics["trial_id"]
