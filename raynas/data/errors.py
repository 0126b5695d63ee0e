"""Errors of the data package."""

from __future__ import annotations

from raynas.search_spaces.errors import RaynasError


class DataError(RaynasError, ValueError):
    """Bad input to a dataset: a wrong shape, fraction, name or batch size."""
