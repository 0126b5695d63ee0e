"""ArchitecturePBT's explore step, inherit_weights and the joint PBT helpers, without Ray trials."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from ray import tune
from sched_fakes import FakeController, make_trials
from sched_nets import warm_up

from raynas.schedulers import (
    ArchitecturePBT,
    SchedulerError,
    SnapToSpace,
    architecture_keys,
    inherit_weights,
    joint_pbt,
    pb2_available,
    pb2_bounds,
    pbt_mutations,
    training_keys,
)
from raynas.search_spaces import Choice, Float, Int, MLPSpace, SearchSpace

SPACE = MLPSpace(input_shape=(64,), num_classes=10, max_layers=3, width=[16, 32, 64])
CONFIG = SPACE.validate(
    {"layers": [{"width": 32}], "activation": "relu", "dropout": 0.0, "batch_norm": True,
     "learning_rate": 0.01, "weight_decay": 1e-4, "batch_size": 64}
)  # fmt: skip


def _pbt(**kw):
    kw = {"seed": 0, "metric": "val_acc", "mode": "max", **kw}
    return ArchitecturePBT(space=SPACE, **kw)


def test_keys_split_architecture_from_training() -> None:
    assert training_keys(SPACE) == ["learning_rate", "weight_decay", "batch_size"]
    assert architecture_keys(SPACE) == ["layers", "activation", "dropout", "batch_norm"]


def test_explore_mutates_the_architecture_and_keeps_the_config_valid() -> None:
    pbt = _pbt()
    changed = 0
    for _ in range(20):
        new, changes = pbt.explore_config({**CONFIG, "max_epochs": 8})
        assert new["max_epochs"] == 8  # keys outside the space pass through
        SPACE.validate({k: v for k, v in new.items() if k in SPACE.fields})
        assert set(changes) <= set(architecture_keys(SPACE))
        assert {k: new[k] for k in training_keys(SPACE)} == {
            k: CONFIG[k] for k in training_keys(SPACE)
        }  # training values are PBT's business, not the architecture mutation's
        changed += bool(changes)
    assert changed == 20


def test_seeds_matter_and_repeat() -> None:
    def run(seed):
        pbt = _pbt(seed=seed)
        return [pbt.explore_config(CONFIG)[1] for _ in range(8)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_architecture_probability_zero_never_mutates() -> None:
    pbt = _pbt(architecture_probability=0.0)
    assert all(pbt.explore_config(CONFIG)[1] == {} for _ in range(10))


def test_explored_training_values_are_snapped_into_the_space() -> None:
    pbt = _pbt(architecture_probability=0.0)
    new, _ = pbt.explore_config({**CONFIG, "learning_rate": 0.5, "batch_size": 300})
    assert new["learning_rate"] == 0.1 and new["batch_size"] == 256


def test_get_new_config_records_the_exploit() -> None:
    pbt = _pbt()
    trial, donor = make_trials(2, **CONFIG)
    new, ops = pbt._get_new_config(trial, donor)
    (h,) = pbt.history
    assert (h["trial_id"], h["donor_id"], h["architecture_changed"]) == (
        trial.trial_id, donor.trial_id, True,
    )  # fmt: skip
    assert all(ops[k] == "mutate architecture" for k in h["changes"])
    for key, (old, now) in h["changes"].items():
        assert old == donor.config[key] and now == new[key]
    assert "1 architecture mutations" in pbt.debug_string()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"architecture_probability": 1.5}, r"`architecture_probability` must be a number in \[0, 1\], but got 1.5"),
        ({"architecture_mutations": 0}, r"`architecture_mutations` must be an int >= 1, but got 0"),
        ({"mode": "best"}, r"`mode` must be one of \['min', 'max'\], but got 'best'"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_field(kwargs, match) -> None:
    with pytest.raises(SchedulerError, match=match):
        _pbt(**kwargs)


def test_space_must_be_a_space_with_an_architecture() -> None:
    with pytest.raises(SchedulerError, match=r"`space` must have a `mutate` method"):
        ArchitecturePBT(space=object(), metric="val_acc", mode="max")
    only_training = SearchSpace({"learning_rate": Float(1e-3, 1e-1, log=True)})
    with pytest.raises(SchedulerError, match=r"no architecture keys .*\['learning_rate'\]"):
        ArchitecturePBT(space=only_training, metric="val_acc", mode="max")


def test_inherit_weights_loads_an_unchanged_architecture_strictly() -> None:
    model = warm_up(SPACE.build(CONFIG, seed=0), (64,))
    payload = {"config": CONFIG, "state_dict": model.state_dict(), "epoch": 3}
    again, report = inherit_weights(SPACE, payload, {**CONFIG, "learning_rate": 0.02})
    assert report is None
    for k, v in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v)


def test_inherit_weights_transfers_into_a_mutated_architecture() -> None:
    model = warm_up(SPACE.build(CONFIG, seed=0), (64,))
    payload = {"config": CONFIG, "state_dict": model.state_dict(), "epoch": 3}
    wider = {**CONFIG, "layers": [{"width": 64}]}
    new, report = inherit_weights(SPACE, payload, wider)
    assert report.function_preserving
    new.eval()
    x = torch.randn(8, 64)
    torch.testing.assert_close(new(x), model(x), atol=1e-5, rtol=0)


def test_inherit_weights_needs_config_and_state_dict() -> None:
    with pytest.raises(SchedulerError, match=r"must hold `state_dict` \(it holds \['config'\]\)"):
        inherit_weights(SPACE, {"config": CONFIG}, CONFIG)


def test_pbt_mutations_and_pb2_bounds_follow_the_space() -> None:
    m = pbt_mutations(SPACE)
    assert isinstance(m["learning_rate"], tune.search.sample.Float)
    assert m["batch_size"] == [32, 64, 128, 256]
    assert pb2_bounds(SPACE) == {"learning_rate": [1e-4, 0.1], "weight_decay": [1e-6, 1e-2]}
    assert pb2_bounds(SPACE, ["batch_size"]) == {"batch_size": [32.0, 256.0]}
    fixed = MLPSpace(input_shape=(64,), num_classes=10, learning_rate=0.01)
    assert "learning_rate" not in pbt_mutations(fixed)  # a fixed value is not tuned
    with pytest.raises(
        SchedulerError, match=r"`keys` must be training hyperparameters .* \['layers'\]"
    ):
        pbt_mutations(SPACE, ["layers"])


def test_snap_to_space_rounds_integers_and_choices() -> None:
    space = SearchSpace(
        {"width": Int(8, 64), "batch_size": Int(16, 256, log=True),
         "learning_rate": Float(1e-3, 1e-1), "optimizer": Choice(["adam", "sgd"])}
    )  # fmt: skip
    snap = SnapToSpace(space)
    assert snap({"batch_size": 300.7, "learning_rate": -1.0, "width": 1000}) == {
        "batch_size": 256,
        "learning_rate": 0.001,
        "width": 1000,
    }  # fmt: skip  (width is architecture: left alone)


def test_joint_pbt_builds_pbt_and_pb2() -> None:
    from ray.tune.schedulers import PopulationBasedTraining

    pbt = joint_pbt(SPACE, perturbation_interval=3)
    assert isinstance(pbt, PopulationBasedTraining)
    ok, why = pb2_available()
    assert ok, why  # Ray >= 2.10's PB2 needs only scikit-learn, a raynas dependency
    from ray.tune.schedulers.pb2 import PB2

    assert isinstance(joint_pbt(SPACE, kind="pb2"), PB2)
    with pytest.raises(
        SchedulerError, match=r"`kind` must be one of \['pbt', 'pb2'\], but got 'pb3'"
    ):
        joint_pbt(SPACE, kind="pb3")
    with pytest.raises(SchedulerError, match=r"`custom_explore_fn` is set by joint_pbt"):
        joint_pbt(SPACE, custom_explore_fn=lambda c: c)


@pytest.mark.parametrize(
    "make", [lambda seed: joint_pbt(SPACE, seed=seed), lambda seed: _pbt(seed=seed)]
)
def test_seeded_pbt_explores_reproducibly_and_leaves_global_random_alone(make) -> None:
    def explore(seed):
        pbt = make(seed)
        trial, donor = make_trials(2, **CONFIG)
        bare = make_trials(1)[0]  # lacks the training keys: PBT fills them at random
        pbt.on_trial_add(FakeController([bare]), bare)
        out = [{k: bare.config[k] for k in training_keys(SPACE)}]
        for _ in range(4):
            with pbt._scoped():
                out.append(pbt._get_new_config(trial, donor)[0])
        return out

    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.random())
    random.seed(123)
    np.random.seed(123)
    first = explore(1)
    assert (random.random(), np.random.random()) == expected  # the caller's streams untouched
    assert first == explore(1)
    assert first != explore(2)
