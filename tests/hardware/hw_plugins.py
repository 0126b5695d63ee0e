"""Which real plugin execution providers this machine can measure with (for skips)."""

from __future__ import annotations

import functools

import pytest


@functools.cache
def openvino_cpu_missing() -> str | None:
    """Why OpenVINO's CPU device cannot measure here, or ``None`` when it can."""
    from raynas.hardware._providers import select_device
    from raynas.hardware.errors import ProviderUnavailableError

    try:
        select_device("OpenVINOExecutionProvider", "CPU")
    except ProviderUnavailableError as exc:
        return str(exc)
    return None


def needs_openvino() -> pytest.MarkDecorator:
    """Skip with the reason where OpenVINO offers no CPU device (package missing, no wheel
    for the platform, or hardware that is not Intel's)."""
    reason = openvino_cpu_missing()
    return pytest.mark.skipif(reason is not None, reason=f"OpenVINO CPU device: {reason}")
