"""The exception hierarchy shared by every raynas package.

Everything raynas raises on purpose derives from :class:`RaynasError`, so callers can catch one
type. The user-input errors also derive from :class:`ValueError`.
"""

from __future__ import annotations


class RaynasError(Exception):
    """Base class of all errors raised by raynas."""


class SpaceDefinitionError(RaynasError, ValueError):
    """A search space is defined badly (empty choices, ``low > high``, unknown op, ...)."""


class InvalidConfigError(RaynasError, ValueError):
    """A configuration does not belong to its search space.

    Attributes:
        path: where in the config the bad value sits, such as ``layers[2].kernel_size``.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path
