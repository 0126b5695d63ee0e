"""Energy meters: Intel RAPL (``/sys/class/powercap``) and NVIDIA NVML's total-energy counter.

A meter reads a cumulative energy counter at :meth:`~EnergyMeter.start` and
:meth:`~EnergyMeter.stop`. It never raises for a missing or unreadable counter: ``stop`` returns
``None`` and :attr:`~EnergyMeter.reason` says why. Counters have coarse update periods (RAPL
~1 ms, NVML ~20-100 ms), so the measurement protocol keeps windows at least
:data:`MIN_WINDOW_S` long and subtracts the idle power measured just before.
"""

from __future__ import annotations

import os
import re
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

MIN_WINDOW_S = 1.0
_PACKAGE = re.compile(r"intel-rapl:(\d+)")


class EnergyMeter(ABC):
    """A cumulative energy counter read over a window.

    Attributes:
        source: short name of the counter (``"rapl"``, ``"nvml"``).
        reason: why the last reading is unavailable (``None`` while it works).

    Example:
        >>> meter = RaplMeter(root="/nonexistent")
        >>> meter.start(); meter.stop() is None
        True
        >>> "no RAPL domain" in meter.reason
        True
    """

    source: str = ""

    def __init__(self) -> None:
        self.reason: str | None = None

    @abstractmethod
    def start(self) -> None:
        """Read the counter at the beginning of a window."""

    @abstractmethod
    def stop(self) -> float | None:
        """Joules consumed since :meth:`start`, or ``None`` (see :attr:`reason`)."""

    def available(self) -> bool:
        """Whether the counter can be read now (a zero-length probe window)."""
        self.start()
        return self.stop() is not None


class RaplMeter(EnergyMeter):
    """Intel/AMD RAPL package energy through the Linux powercap interface.

    Sums the top-level package domains ``intel-rapl:N`` (their sub-domains ``intel-rapl:N:M``
    are parts of the package and are not added again; a ``psys`` domain, which already covers
    the packages, is left out). A counter that wrapped around during the window is corrected with
    its ``max_energy_range_uj``.

    Args:
        root: the powercap folder (injectable for tests).
    """

    source = "rapl"

    def __init__(self, *, root: str | os.PathLike[str] = "/sys/class/powercap") -> None:
        super().__init__()
        self.root = Path(root)
        self._start: list[int] | None = None
        self.domains = self._discover()

    def _discover(self) -> list[Path]:
        if not self.root.is_dir():
            self.reason = (
                f"no RAPL domain: {self.root} does not exist (not a Linux machine with the "
                "powercap driver, or a container that does not expose it)."
            )
            return []
        found = []
        for d in sorted(self.root.iterdir()):
            if not _PACKAGE.fullmatch(d.name):
                continue
            try:
                label = (d / "name").read_text().strip()
            except OSError:
                label = ""
            if label == "psys":
                continue
            found.append(d)
        if not found:
            self.reason = f"no RAPL domain (intel-rapl:N) under {self.root}."
        return found

    def _read(self, name: str) -> list[int] | None:
        values = []
        for d in self.domains:
            path = d / name
            try:
                values.append(int(path.read_text().strip()))
            except PermissionError:
                self.reason = (
                    f"permission denied reading {path}: RAPL energy counters are readable by "
                    "root only (since Linux 5.10, CVE-2020-8694); run as root or grant read "
                    f"access (sudo chmod a+r {self.root}/intel-rapl:*/energy_uj)."
                )
                return None
            except (OSError, ValueError) as exc:
                self.reason = f"cannot read {path}: {exc}"
                return None
        return values

    def start(self) -> None:
        self._start = self._read("energy_uj") if self.domains else None

    def stop(self) -> float | None:
        if not self.domains or self._start is None:
            return None
        end = self._read("energy_uj")
        ranges = self._read("max_energy_range_uj")
        if end is None or ranges is None:
            return None
        total_uj = 0
        for s, e, r in zip(self._start, end, ranges, strict=True):
            total_uj += e - s if e >= s else (r - s) + e
        self.reason = None
        return total_uj / 1e6


class NvmlMeter(EnergyMeter):
    """NVIDIA GPU energy from NVML's total-energy counter (millijoules since driver load).

    Needs a Volta or newer GPU and ``pynvml`` (``pip install nvidia-ml-py``).

    Args:
        device_index: the GPU's NVML index.
        nvml: the NVML module (``pynvml`` by default; a fake one in tests).
    """

    source = "nvml"

    def __init__(self, *, device_index: int = 0, nvml: Any = None) -> None:
        super().__init__()
        self.device_index = device_index
        self._start: int | None = None
        self._handle: Any = None
        self._nvml = nvml
        if self._nvml is None:
            try:
                import pynvml  # type: ignore[import-not-found]

                self._nvml = pynvml
            except ImportError:
                self.reason = "pynvml is not installed (pip install nvidia-ml-py)."
                return
        try:
            self._nvml.nvmlInit()
            self._handle = self._nvml.nvmlDeviceGetHandleByIndex(device_index)
        except Exception as exc:  # NVMLError_* (driver missing, bad index, ...)
            self.reason = f"NVML unavailable for GPU {device_index}: {exc}"
            self._handle = None

    def _read(self) -> int | None:
        if self._handle is None:
            return None
        try:
            return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except Exception as exc:  # NVMLError_NotSupported on pre-Volta GPUs
            self.reason = (
                f"NVML total-energy counter unavailable on GPU {self.device_index} "
                f"(needs Volta or newer): {exc}"
            )
            return None

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> float | None:
        if self._start is None:
            return None
        end = self._read()
        if end is None:
            return None
        self.reason = None
        return (end - self._start) / 1e3


def make_meter(
    mode: str, *, gpu: bool, device_index: int = 0, rapl_root: str | None = None
) -> tuple[EnergyMeter | None, str | None]:
    """The meter a target asks for, or ``(None, reason)`` when it cannot be read here.

    Args:
        mode: ``"auto"`` (NVML for GPU providers, RAPL otherwise), ``"rapl"``, ``"nvml"``,
            ``"off"``.
        gpu: whether the provider runs on an NVIDIA GPU.
        device_index: the GPU index for NVML.
        rapl_root: powercap folder (default ``/sys/class/powercap``).
    """
    if mode == "off":
        return None, "energy measurement is off for this target (energy='off')."
    kind = ("nvml" if gpu else "rapl") if mode == "auto" else mode
    meter: EnergyMeter
    if kind == "nvml":
        meter = NvmlMeter(device_index=device_index)
    else:
        meter = RaplMeter(root=rapl_root or "/sys/class/powercap")
    if meter.available():
        return meter, None
    return None, f"{kind}: {meter.reason}"


def measure_idle_power(meter: EnergyMeter, seconds: float) -> float | None:
    """Average power (W) over an idle window of ``seconds`` (at least :data:`MIN_WINDOW_S`)."""
    window = max(seconds, MIN_WINDOW_S)
    meter.start()
    t0 = time.perf_counter()
    time.sleep(window)
    joules = meter.stop()
    elapsed = time.perf_counter() - t0
    if joules is None:
        return None
    return joules / elapsed
