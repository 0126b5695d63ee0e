"""Errors of the evaluation package.

:class:`EvaluationError` is bad user input (raised before any trial starts). The
:class:`CandidateFailure` family marks a candidate's own failure; the trainable turns it into an
infeasible result (``feasible=False`` and a ``reason``) instead of a crashed trial.
"""

from __future__ import annotations

from raynas.search_spaces.errors import RaynasError


class EvaluationError(RaynasError, ValueError):
    """Bad settings for training candidates: a wrong epoch count, fraction, task, resource..."""


class CandidateFailure(RaynasError):
    """A candidate failed in a way that makes it infeasible; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NonFiniteLossError(CandidateFailure):
    """The training or validation loss became NaN or infinite."""
