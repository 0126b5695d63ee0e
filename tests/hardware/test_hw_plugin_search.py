"""A search measured on two targets, the CPU provider and a second one selected by EP device
(OpenVINO where it offers a device): every candidate is measured on both, and candidates that
differ only in their learning rate share one measurement per target."""

from __future__ import annotations

import os

import pytest
from hw_plugins import needs_openvino

import raynas
from raynas.hardware import HardwareTarget, MeasurementCache
from raynas.search_spaces import Choice, MLPSpace

pytestmark = pytest.mark.ray

FAST = dict(input_shape=(1, 8, 8), min_runs=10, min_seconds=0.05, warmup_runs=2, energy="off")
SECOND = {
    "openvino": dict(provider="OpenVINOExecutionProvider", device="CPU"),
    "cpudev": dict(provider="CPUExecutionProvider", device="CPU"),
}


def _config(lr: float) -> dict:
    return {
        "layers": [{"width": 32}],
        "activation": "relu",
        "dropout": 0.0,
        "batch_norm": False,
        "learning_rate": lr,
        "weight_decay": 1e-4,
        "batch_size": 64,
    }


@pytest.mark.parametrize("second", [pytest.param("openvino", marks=needs_openvino()), "cpudev"])
def test_every_candidate_is_measured_on_both_targets(ray_session, tmp_path, second):
    space = MLPSpace(
        input_shape=(1, 8, 8),
        num_classes=10,
        max_layers=1,
        width=Choice([32]),
        learning_rate=Choice([1e-3, 3e-3]),
        weight_decay=1e-4,
        batch_size=64,
        dropout=0.0,
        batch_norm=False,
    )
    cpu = HardwareTarget(name="cpu", **FAST)
    other = HardwareTarget(name=second, resource="hw:cpu", **SECOND[second], **FAST)  # this CPU
    res = raynas.search(
        space,
        "digits",
        objectives=["val_acc:max", "latency_p50_ms:min", f"{second}_latency_p50_ms:min"],
        strategy="random",
        hardware=[cpu, other],
        budget=2,
        max_epochs=1,
        storage_path=str(tmp_path),
        name="two-targets",
        seed=0,
        max_concurrent=1,
        verbose=0,
        points_to_evaluate=[_config(1e-3), _config(3e-3)],
    )
    assert len(res) == 2 and all(c.feasible for c in res.candidates), [
        c.reason for c in res.candidates
    ]
    for c in res.candidates:
        assert c.value("latency_p50_ms") > 0 and c.value(f"{second}_latency_p50_ms") > 0
        assert c.value("latency_std_ms") >= 0 and c.value(f"{second}_latency_std_ms") >= 0
    # the two learning rates are one inference graph: one measurement per target, shared
    a, b = res.candidates
    assert a.value("latency_p50_ms") == b.value("latency_p50_ms")
    assert a.value(f"{second}_latency_p50_ms") == b.value(f"{second}_latency_p50_ms")
    cache = MeasurementCache(os.path.join(res.path, "measurements"))
    for target, provider in ((cpu, "CPUExecutionProvider"), (other, other.provider)):
        records = cache.records(target)
        assert len(records) == 1
        m = records[0][1]
        assert m.feasible and m.provider == provider and m.parity_max_abs_diff is not None
    assert cache.records(other)[0][1].device == "CPU"
    assert cache.records(cpu)[0][1].device is None
