"""KerasTuner's objective spellings become raynas objectives; directions are inferred or asked."""

from __future__ import annotations

import pytest

from raynas import ConfigError
from raynas.objectives import Objective as RaynasObjective
from raynas.tuners import KERAS_METRICS, Objective
from raynas.tuners._objective import to_objectives


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("val_accuracy", [("val_acc", "max")]),
        ("val_loss", [("val_loss", "min")]),
        ("accuracy", [("train_acc", "max")]),
        ("loss", [("train_loss", "min")]),
        (Objective("val_accuracy", "max"), [("val_acc", "max")]),
        (Objective("params", "max"), [("params", "max")]),
        (["val_accuracy", "latency_p50_ms"], [("val_acc", "max"), ("latency_p50_ms", "min")]),
        (["val_accuracy", "edge_energy_j"], [("val_acc", "max"), ("edge_energy_j", "min")]),
        ("flops:max", [("flops", "max")]),
    ],
)
def test_keras_names_and_raynas_names_map_to_objectives(spec, expected) -> None:
    assert [(o.name, o.mode) for o in to_objectives(spec)] == expected


def test_a_constraint_keeps_its_bound_and_maps_the_name() -> None:
    (o,) = to_objectives(["val_accuracy >= 0.9"])
    assert o == RaynasObjective("val_acc", "max", (">=", 0.9))


def test_every_keras_name_maps_to_a_metric_a_trial_reports() -> None:
    from raynas.evaluation import REPORTED_METRICS, TASK_METRICS

    reported = set(REPORTED_METRICS) | {m for ms in TASK_METRICS.values() for m in ms}
    assert set(KERAS_METRICS.values()) <= reported


def test_an_unknown_name_without_a_direction_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"`objective\[1\]` = 'score': cannot infer"):
        to_objectives(["val_accuracy", "score"])
    with pytest.raises(ConfigError, match=r"`objective` must be a metric name"):
        to_objectives(3)


def test_import_raynas_tuners_stays_free_of_torch_and_ray() -> None:
    import subprocess
    import sys

    code = (
        "import sys, raynas.tuners\n"
        "print([m for m in ('torch', 'ray', 'pytorch_lightning') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
