from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hw_fakes import relu_onnx
from hw_plugins import needs_openvino

from raynas.hardware import HardwareTarget, TargetError, local_resources, measure
from raynas.hardware._remote import choose_route

FAST = dict(min_runs=3, min_seconds=0.0, warmup_runs=0, energy="off")


def test_route_without_ray_is_local(monkeypatch):
    monkeypatch.setattr("raynas.hardware._remote.ray_ready", lambda: False)
    assert choose_route(HardwareTarget(name="cpu", **FAST)) == "local"
    assert choose_route(HardwareTarget(name="jetson", **FAST)) == "local"
    assert local_resources(
        [HardwareTarget(name="a"), HardwareTarget(name="b", resource="hw:x")]
    ) == {
        "hw:a": 1.0,
        "hw:x": 1.0,
    }


@pytest.mark.ray
def test_local_ray_without_the_resource_measures_here_only_when_asked(ray_session):
    ray = ray_session
    t = HardwareTarget(name="laptop", local_fallback=True, **FAST)
    assert choose_route(t) == "local"
    m = measure(relu_onnx(), t)
    assert m.feasible and m.node_id == ray.get_runtime_context().get_node_id()
    with pytest.raises(
        TargetError,
        match=r"`resource` of HardwareTarget `edge` is 'hw:edge', but no node of the Ray cluster "
        r"advertises it \(advertised device resources: \['hw:cpu'\]\).*local_fallback=True",
    ):
        measure(relu_onnx(), HardwareTarget(name="edge", **FAST))
    assert choose_route(HardwareTarget(name="cpu", **FAST)) == "ray"


@pytest.mark.ray
@pytest.mark.slow
def test_two_node_cluster_edge_node_receives_every_edge_measurement():
    script = os.path.join(os.path.dirname(__file__), "hw_cluster_check.py")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    head, edge = res["head"], res["edge"]
    assert head != edge
    assert res["trial_nodes"] == [head] * 3  # the trials ran on the head ...
    assert res["trial_measure_nodes"] == [edge] * 3  # ... their measurements on the edge node
    assert res["trial_feasible"] == [True] * 3
    assert res["driver_measure_nodes"] == [edge] * 2 and res["driver_feasible"] == [True] * 2
    feasible, reason, node = res["hung"]
    assert not feasible and reason.startswith("timeout:") and node == edge
    assert res["after_hang"] == [True, edge]  # the device is free again after the kill
    assert res["local"] == [True, head]  # a target with no advertised resource stays local


@pytest.mark.ray
@pytest.mark.slow
@needs_openvino()
def test_two_node_cluster_openvino_node_receives_every_openvino_measurement():
    script = os.path.join(os.path.dirname(__file__), "hw_plugin_cluster_check.py")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["head"] != res["device_node"]
    assert res["trial_nodes"] == [res["head"]] * 3
    assert res["measure_nodes"] == [res["device_node"]] * 4, res["reasons"]
    assert res["feasible"] == [True] * 4, res["reasons"]
    assert res["providers"] == ["OpenVINOExecutionProvider"] * 4
    assert res["devices"] == ["CPU"] * 4
