"""Errors raised by :mod:`raynas.hardware`, rooted in :class:`raynas.search_spaces.errors.RaynasError`.

A candidate's own failure (it does not export, its session hangs or crashes) is *not* raised: it
becomes an infeasible :class:`~raynas.hardware.Measurement` carrying the reason. What is raised is
a user's bad input (a target with a wrong field, a provider this onnxruntime lacks), which would
fail every candidate alike and must stop the search before it starts.
"""

from __future__ import annotations

from raynas.search_spaces.errors import RaynasError


class HardwareError(RaynasError):
    """Base class of the hardware module's errors."""


class TargetError(HardwareError, ValueError):
    """A :class:`~raynas.hardware.HardwareTarget` (or a measurement option) is specified badly."""


class ProviderUnavailableError(TargetError):
    """The requested execution provider is not in this onnxruntime build (and no fallback)."""


class ExportError(HardwareError):
    """A torch module could not be exported to ONNX, or the export does not match torch."""
