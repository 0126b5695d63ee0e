"""Errors of the schedulers package."""

from __future__ import annotations

from raynas.search_spaces.errors import RaynasError


class SchedulerError(RaynasError, ValueError):
    """A scheduler is configured badly, or asked for something its state cannot give."""


class TransferError(RaynasError, ValueError):
    """Weights cannot be carried from one network to another as asked."""
