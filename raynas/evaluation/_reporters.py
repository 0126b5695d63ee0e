"""Where a candidate's reports go: Ray Tune, Ray Train workers, or a list in memory."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any


class TuneReporter:
    """Reports with ``tune.report`` and resumes from ``tune.get_checkpoint()`` (function trials)."""

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        from ray import tune

        checkpoint = tune.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        tune.report(metrics, checkpoint=checkpoint)

    @contextlib.contextmanager
    def latest_checkpoint(self) -> Iterator[str | None]:
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as path:
            yield path


class TrainReporter:
    """Reports from a Ray Train worker with ``ray.train.report`` (every rank calls it)."""

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        import ray.train

        checkpoint = ray.train.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint)

    @contextlib.contextmanager
    def latest_checkpoint(self) -> Iterator[str | None]:
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as path:
            yield path


class InMemoryReporter:
    """Keeps reports in a list and checkpoints in a folder: run candidates without Ray.

    Args:
        checkpoint_root: where checkpoints are kept (a new temporary folder when None).
        resume_from: a checkpoint folder to resume from (e.g. ``other.checkpoints[-1]``).

    Example:
        >>> r = InMemoryReporter()
        >>> r.report({"epoch": 1}, None)
        >>> r.reports
        [{'epoch': 1}]
    """

    def __init__(self, *, checkpoint_root: str | None = None, resume_from: str | None = None):
        self.reports: list[dict[str, Any]] = []
        self.checkpoints: list[str] = []
        self.checkpoint_root = checkpoint_root or tempfile.mkdtemp(prefix="raynas-ckpt-")
        self.resume_from = resume_from

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        self.reports.append(dict(metrics))
        if checkpoint_dir:
            dest = os.path.join(self.checkpoint_root, f"checkpoint_{len(self.checkpoints):06d}")
            shutil.copytree(checkpoint_dir, dest)
            self.checkpoints.append(dest)

    @contextlib.contextmanager
    def latest_checkpoint(self) -> Iterator[str | None]:
        yield self.resume_from
