"""Plugin execution providers: registration, EP devices, options, errors, and real measurements."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hw_fakes import relu_onnx
from hw_plugins import needs_openvino

from raynas.hardware import HardwareTarget, ProviderUnavailableError, measure
from raynas.hardware import _providers as providers
from raynas.hardware._providers import PluginPackage

FAST = dict(min_runs=10, min_seconds=0.0, warmup_runs=2, energy="off")


def small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 10),
    ).eval()


def test_built_in_provider_through_its_ep_device_records_device_and_nodes():
    t = HardwareTarget(name="cpudev", device="CPU", input_shape=(1, 8, 8), **FAST)
    assert t.uses_ep_device
    m = measure(small_cnn(), t, route="local")
    assert m.feasible, m.reason
    assert (m.provider, m.requested_provider, m.device) == (
        "CPUExecutionProvider",
        "CPUExecutionProvider",
        "CPU",
    )
    assert sum(m.ep_nodes.values()) >= 4 and set(m.ep_nodes) == {"CPUExecutionProvider"}
    assert m.parity_max_abs_diff is not None and m.parity_max_abs_diff < 1e-4
    assert "device                    CPU" in m.table()


@needs_openvino()
def test_openvino_measures_an_exported_candidate():
    t = HardwareTarget(
        name="ov",
        provider="OpenVINOExecutionProvider",
        device="CPU",
        input_shape=(1, 8, 8),
        **FAST,
    )
    m = measure(small_cnn(), t, route="local")
    assert m.feasible, m.reason
    assert (m.provider, m.device) == ("OpenVINOExecutionProvider", "CPU")
    assert m.ep_nodes.get("OpenVINOExecutionProvider", 0) > 0
    assert m.p50_ms > 0 and m.runs >= 10
    assert m.parity_max_abs_diff is not None  # checked against torch within the tolerance


def test_openvino_threads_go_through_load_config():
    opts = providers.session_options_for("OpenVINOExecutionProvider", "CPU", 2, {})
    assert json.loads(opts["load_config"]) == {
        "CPU": {"INFERENCE_NUM_THREADS": "2", "INFERENCE_PRECISION_HINT": "f32"}
    }
    # threads are a property of OpenVINO's CPU plugin only
    assert providers.session_options_for("OpenVINOExecutionProvider", "GPU.0", 1, {}) == {}
    assert "num_of_threads" not in opts
    own = providers.session_options_for("OpenVINOExecutionProvider", None, 1, {"load_config": "x"})
    assert own == {"load_config": "x"}  # the user's own option wins
    assert providers.session_options_for("CPUExecutionProvider", None, 4, {"a": "1"}) == {"a": "1"}


def test_fingerprint_tells_devices_and_options_apart_but_not_library_paths():
    base = HardwareTarget(name="t", verify_provider=False)
    dev = HardwareTarget(name="t", device="CPU", verify_provider=False)
    opt = HardwareTarget(name="t", device="CPU", provider_options={"x": 1}, verify_provider=False)
    lib = HardwareTarget(name="t", device="CPU", provider_library="/a.so", verify_provider=False)
    assert len({base.fingerprint(), dev.fingerprint(), opt.fingerprint()}) == 3
    assert lib.fingerprint() == dev.fingerprint()
    assert HardwareTarget.from_dict(lib.to_dict()) == lib


def test_unknown_provider_lists_built_in_and_plugin_ones():
    with pytest.raises(
        ProviderUnavailableError,
        match=r"HardwareTarget `x`: `provider` 'Nope' is neither built into this onnxruntime "
        r"nor a registered plugin; built-in providers: \[.*'CPUExecutionProvider'.*\]; plugin "
        r"providers raynas knows: \['OpenVINOExecutionProvider', 'WebGpuExecutionProvider'\]; "
        r"for another plugin give its library as `provider_library`",
    ):
        HardwareTarget(name="x", provider="Nope")


def test_plugin_whose_package_is_missing_names_the_package(monkeypatch):
    monkeypatch.setitem(
        providers.PLUGINS,
        "MissingExecutionProvider",
        PluginPackage(package="onnxruntime-ep-missing", module="raynas_no_such_module", extra="m"),
    )
    with pytest.raises(
        ProviderUnavailableError,
        match=r"`provider` 'MissingExecutionProvider' is a plugin execution provider whose "
        r"package 'onnxruntime-ep-missing' is not installed: pip install onnxruntime-ep-missing "
        r'\(or pip install "raynas\[m\]"\)',
    ):
        HardwareTarget(name="x", provider="MissingExecutionProvider")
    # allowed to fall back: the target is accepted and measures on the CPU provider
    t = HardwareTarget(name="x", provider="MissingExecutionProvider", allow_fallback=True, **FAST)
    assert not t.check_provider()


def test_device_the_provider_does_not_offer_lists_its_devices():
    with pytest.raises(
        ProviderUnavailableError,
        match=r"`device` of the target is 'NPU', which `provider` 'CPUExecutionProvider' does "
        r"not offer on this machine; its devices: \['CPU'\]",
    ):
        HardwareTarget(name="x", device="NPU")


def test_a_library_onnxruntime_refuses_is_reported(tmp_path):
    bogus = tmp_path / "libnot_an_ep.so"
    bogus.write_bytes(b"not a shared library")
    with pytest.raises(
        ProviderUnavailableError,
        match=r"onnxruntime could not register the plugin library '.*libnot_an_ep.so' of "
        r"`provider` 'BogusExecutionProvider'",
    ):
        HardwareTarget(name="x", provider="BogusExecutionProvider", provider_library=str(bogus))


def test_openvino_without_a_device_says_which_hardware_there_is():
    from hw_plugins import openvino_cpu_missing

    reason = openvino_cpu_missing()
    if reason is None:
        pytest.skip("OpenVINO offers a CPU device here")
    if "not installed" in reason:
        assert "pip install onnxruntime-ep-openvino" in reason
    else:
        assert "offers no device on this machine (OpenVINO's plugin offers Intel devices" in reason
        assert "the hardware onnxruntime sees: ['CPU (" in reason


def test_list_providers_has_built_ins_and_known_plugins():
    rows = {r.provider: r for r in providers.list_providers()}
    assert rows["CPUExecutionProvider"].kind == "built-in"
    assert rows["CPUExecutionProvider"].devices == ("CPU",)
    ov = rows["OpenVINOExecutionProvider"]
    assert ov.package == "onnxruntime-ep-openvino"
    assert ov.kind in ("plugin", "plugin (not installed)")
    # a registered plugin is not counted among the built-in providers
    assert "OpenVINOExecutionProvider" not in providers.builtin_providers()


def test_fallback_of_a_plugin_target_is_recorded():
    t = HardwareTarget(name="x", device="NPU", allow_fallback=True, **FAST)
    m = measure(relu_onnx(), t, route="local")
    assert m.feasible and m.provider == "CPUExecutionProvider" and m.device is None
    assert np.isfinite(m.p50_ms)


def test_a_provider_that_claims_none_of_the_graph_makes_it_infeasible(monkeypatch):
    """ggml's plugin, for one, claims no node of a graph with an op it lacks (BatchNorm): the
    session then runs on the CPU provider, and its latency is not the plugin's."""
    import types

    from raynas.hardware import _protocol

    real = _protocol.make_session

    class Claimless:
        def __init__(self, session):
            self._s, self.raynas_ep_device = session, session.raynas_ep_device

        def __getattr__(self, name):
            return getattr(self._s, name)

        def get_provider_graph_assignment_info(self):
            nodes = [object()] * 3
            return [
                types.SimpleNamespace(ep_name="OtherExecutionProvider", get_nodes=lambda: nodes)
            ]

    monkeypatch.setattr(_protocol, "make_session", lambda *a: Claimless(real(*a)))
    target = HardwareTarget(name="x", device="CPU", **FAST)
    out = _protocol.run_job({"onnx": relu_onnx(), "target": target.to_dict()})
    assert out["feasible"] is False and out["ep_nodes"] == {"OtherExecutionProvider": 3}
    assert out["reason"] == (
        "`CPUExecutionProvider` ran none of the graph's 3 nodes (OtherExecutionProvider ran "
        "them: ops it lacks); pass allow_fallback=True to measure such graphs on "
        "OtherExecutionProvider."
    )
    lenient = HardwareTarget(name="x", device="CPU", allow_fallback=True, **FAST)
    out = _protocol.run_job({"onnx": relu_onnx(), "target": lenient.to_dict()})
    assert out["feasible"] is True and out["provider"] == "OtherExecutionProvider"
    assert out["requested_provider"] == "CPUExecutionProvider" and out["p50_ms"] > 0
