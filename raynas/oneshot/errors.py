"""Errors of the one-shot package.

:class:`OneShotError` is bad user input to a supernet, a search or a weight-sharing evaluator
(raised before any training starts, naming the argument, the value and what is allowed).
"""

from __future__ import annotations

from raynas.search_spaces.errors import InvalidConfigError, RaynasError

__all__ = ["InvalidConfigError", "OneShotError"]


class OneShotError(RaynasError, ValueError):
    """Bad settings for a supernet, a one-shot search or a weight-sharing evaluator."""
