from __future__ import annotations

from pathlib import Path

import pytest
from hw_fakes import FakeNVML, PhaseMeter, make_rapl, relu_onnx

from raynas.hardware import HardwareTarget, NvmlMeter, RaplMeter, make_meter
from raynas.hardware._energy import measure_idle_power


def _set(root: Path, domain: str, uj: int) -> None:
    (root / domain / "energy_uj").write_text(f"{uj}\n")


def test_rapl_sums_packages_only(tmp_path):
    root = make_rapl(
        tmp_path / "powercap",
        {
            "intel-rapl:0": ("package-0", 1_000_000, 2**32),
            "intel-rapl:0:0": ("core", 500_000, 2**32),  # part of package 0: not added again
            "intel-rapl:1": ("package-1", 3_000_000, 2**32),
            "intel-rapl:2": ("psys", 9_000_000, 2**32),  # whole platform: would double count
            "intel-rapl-mmio:0": ("package-0", 0, 2**32),
        },
    )
    meter = RaplMeter(root=root)
    assert [d.name for d in meter.domains] == ["intel-rapl:0", "intel-rapl:1"]
    meter.start()
    _set(root, "intel-rapl:0", 3_500_000)  # +2.5 J
    _set(root, "intel-rapl:0:0", 900_000)
    _set(root, "intel-rapl:1", 3_250_000)  # +0.25 J
    _set(root, "intel-rapl:2", 19_000_000)
    assert meter.stop() == pytest.approx(2.75)
    assert meter.reason is None


def test_rapl_counter_wrap_around(tmp_path):
    max_range = 262_143_328_850
    root = make_rapl(
        tmp_path / "pc", {"intel-rapl:0": ("package-0", max_range - 400_000, max_range)}
    )
    meter = RaplMeter(root=root)
    meter.start()
    _set(root, "intel-rapl:0", 600_000)  # wrapped: 0.4 J before the wrap + 0.6 J after
    assert meter.stop() == pytest.approx(1.0)


def test_rapl_permission_error_is_reported_not_raised(tmp_path, monkeypatch):
    root = make_rapl(tmp_path / "pc", {"intel-rapl:0": ("package-0", 10, 2**32)})
    denied = root / "intel-rapl:0" / "energy_uj"
    original = Path.read_text

    def read_text(self, *args, **kwargs):
        if self == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    meter = RaplMeter(root=root)
    meter.start()
    assert meter.stop() is None
    assert "permission denied reading" in meter.reason
    assert "energy_uj" in meter.reason and "root" in meter.reason
    assert not meter.available()


def test_rapl_missing_everywhere(tmp_path):
    meter = RaplMeter(root=tmp_path / "nope")
    meter.start()
    assert meter.stop() is None
    assert "no RAPL domain" in meter.reason and "does not exist" in meter.reason
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no RAPL domain (intel-rapl:N) under" in RaplMeter(root=empty).reason


def test_nvml_total_energy_counter():
    nvml = FakeNVML(counter_mj=5_000)
    meter = NvmlMeter(device_index=0, nvml=nvml)
    assert nvml.inited
    meter.start()
    nvml.counter_mj += 1_500
    assert meter.stop() == pytest.approx(1.5)
    assert meter.available()


def test_nvml_failures_are_reasons():
    old_gpu = NvmlMeter(nvml=FakeNVML(supported=False))
    old_gpu.start()
    assert old_gpu.stop() is None
    assert "needs Volta or newer" in old_gpu.reason and "Not Supported" in old_gpu.reason
    bad_index = NvmlMeter(device_index=3, nvml=FakeNVML(gpus=1))
    assert bad_index.stop() is None
    assert "NVML unavailable for GPU 3" in bad_index.reason


def test_this_machine_reports_why_energy_is_unavailable(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    meter, reason = make_meter("nvml", gpu=True)
    assert meter is None and reason == "nvml: pynvml is not installed (pip install nvidia-ml-py)."
    meter, reason = make_meter("rapl", gpu=False, rapl_root="/nonexistent/powercap")
    assert meter is None and reason.startswith("rapl: no RAPL domain")
    assert make_meter("off", gpu=False) == (
        None,
        "energy measurement is off for this target (energy='off').",
    )


def test_fake_rapl_meter_is_found_by_make_meter(tmp_path):
    root = make_rapl(tmp_path / "pc", {"intel-rapl:0": ("package-0", 10, 2**32)})
    meter, reason = make_meter("auto", gpu=False, rapl_root=str(root))
    assert isinstance(meter, RaplMeter) and reason is None


def test_idle_window_is_at_least_one_second():
    meter = PhaseMeter(idle_w=3.0, extra_j=0.0)
    assert measure_idle_power(meter, 0.0) == pytest.approx(3.0, rel=1e-3)
    assert meter.windows[0] >= 1.0


def test_protocol_subtracts_idle_power_and_divides_per_run(tmp_path):
    """In-process run of the protocol with a meter drawing 2 W plus 0.5 J while timing."""
    from raynas.hardware._protocol import run_job

    meter = PhaseMeter(idle_w=2.0, extra_j=0.5)
    t = HardwareTarget(name="cpu", min_runs=5, min_seconds=0.0, warmup_runs=1, idle_seconds=0.0)
    out = run_job({"onnx": relu_onnx(), "target": t.to_dict(), "meter": meter})
    assert len(meter.windows) == 2 and all(w >= 1.0 for w in meter.windows)  # idle, active
    assert out["energy_source"] == "fake"
    assert out["idle_power_w"] == pytest.approx(2.0, rel=1e-3)
    assert out["energy_j"] == pytest.approx(0.5 / out["runs"], rel=1e-2)
    assert "energy_unavailable_reason" not in out
