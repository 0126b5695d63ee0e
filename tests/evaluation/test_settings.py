"""Performance-estimation settings, the trainable's arguments and the cheap `import raynas`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from raynas.evaluation import (
    REPORTED_METRICS,
    TASK_METRICS,
    EvaluationError,
    EvaluationSettings,
    reported_metrics,
)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"max_epochs": 0}, r"`max_epochs` must be an int >= 1, but got 0"),
        ({"max_epochs": 2.5}, r"`max_epochs` must be an int >= 1, but got 2.5"),
        ({"train_fraction": 0}, r"`train_fraction` must be a number in \(0, 1\], but got 0"),
        ({"train_fraction": 1.5}, r"`train_fraction` must be a number in \(0, 1\], but got 1.5"),
        ({"time_budget_s": -1}, r"`time_budget_s` must be a positive number or None, but got -1"),
        ({"seed": -3}, r"`seed` must be an int >= 0, but got -3"),
        ({"checkpoint_every": -1}, r"`checkpoint_every` must be an int >= 0 \(0: never\)"),
        ({"num_threads": 0}, r"`num_threads` must be an int >= 1 or None, but got 0"),
    ],
)
def test_bad_settings_name_the_field_and_the_rule(kwargs, expected):
    with pytest.raises(EvaluationError, match=expected):
        EvaluationSettings(**kwargs)


def test_config_overrides_settings_per_candidate():
    base = EvaluationSettings(max_epochs=10, train_fraction=1.0, seed=0)
    s = base.for_config({"max_epochs": 3, "train_fraction": 0.5, "seed": 4, "width": 8})
    assert (s.max_epochs, s.train_fraction, s.seed) == (3, 0.5, 4)
    assert base.for_config({"epochs": 7}).max_epochs == 7  # a space that searches `epochs`
    assert base.for_config({"time_budget_s": 2}).time_budget_s == 2.0
    with pytest.raises(EvaluationError, match=r"`train_fraction` must be a number in \(0, 1\]"):
        base.for_config({"train_fraction": 2})


def test_reported_metrics_are_documented_in_one_place():
    assert REPORTED_METRICS == (
        "epoch",
        "train_loss",
        "val_loss",
        "train_time_s",
        "params",
        "flops",
        "feasible",
        "reason",
    )
    assert reported_metrics("classification") == REPORTED_METRICS + ("train_acc", "val_acc")
    assert reported_metrics("regression") == REPORTED_METRICS + ("val_mae",)
    assert set(TASK_METRICS) == {"classification", "regression"}
    with pytest.raises(EvaluationError, match=r"`task` must be one of \['classification'"):
        reported_metrics("ranking")


def test_import_raynas_stays_free_of_torch_and_ray_and_exports_the_trainable_lazily():
    code = (
        "import sys, raynas, raynas.evaluation, raynas.data\n"
        "heavy = [m for m in ('torch', 'ray', 'pytorch_lightning', 'onnxruntime') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'NASTrainable' in raynas.__all__\n"
        "from raynas import NASTrainable\n"
        "assert NASTrainable.__module__ == 'raynas.evaluation._trainable'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_trainable_arguments_are_checked_before_any_trial(digits):
    from raynas import NASTrainable
    from tests.evaluation.helpers import TinyMLPSpace

    space = TinyMLPSpace()
    with pytest.raises(
        EvaluationError,
        match=r"`space` must have a `validate` method \(a raynas SearchSpace\), but got object",
    ):
        NASTrainable(object(), digits)
    with pytest.raises(EvaluationError, match=r"unknown keyword argument\(s\) \['max_epoch'\]"):
        NASTrainable(space, digits, max_epoch=3)
    with pytest.raises(EvaluationError, match=r"give `settings` or settings keywords"):
        NASTrainable(space, digits, settings=EvaluationSettings(), max_epochs=3)
    with pytest.raises(EvaluationError, match=r"`objectives\[0\]` must be callable"):
        NASTrainable(space, digits, objectives=["latency"])
    with pytest.raises(EvaluationError, match=r"`task` must be one of"):
        NASTrainable(space, digits, task="ranking")
    from raynas.data import DataError

    with pytest.raises(
        DataError, match=r"must be one of \['digits', 'listops', 'mnist1d', 'reviews'\]"
    ):
        NASTrainable(space, "cifar10")

    class Wide(TinyMLPSpace):
        input_shape = (64,)

    with pytest.raises(
        EvaluationError,
        match=r"space's `input_shape` \(64,\) does not match the "
        r"data's \(1, 8, 8\)",
    ):
        NASTrainable(Wide(), digits)


def test_a_data_factory_is_built_lazily_once(digits):
    from raynas import NASTrainable
    from tests.evaluation.helpers import TinyMLPSpace

    calls = []

    def factory():
        calls.append(1)
        return digits

    trainable = NASTrainable(TinyMLPSpace(), factory)
    assert calls == []
    assert trainable.get_datamodule() is digits and trainable.get_datamodule() is digits
    assert calls == [1]
