"""Measurement cache: a candidate is measured once per target within a search.

Keyed by the candidate's space key (``space.key(config)``, isomorphism-aware where the space is)
and the target's :meth:`~raynas.hardware.HardwareTarget.fingerprint`. Stored in one SQLite file
under the experiment directory, so it is shared by all trials of the search and survives a
resume. Concurrent trials are safe: SQLite serializes writes, and :meth:`get_or_measure` holds an
OS file lock per key stripe while it measures, so two trials that propose the same candidate at
the same time measure it once (the second waits and reads the first's result).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ._measurement import Measurement
from ._target import HardwareTarget

FILE_NAME = "raynas_measurements.sqlite"
_STRIPES = 64
_SCHEMA = """
CREATE TABLE IF NOT EXISTS measurements (
    space_key TEXT NOT NULL,
    target_fp TEXT NOT NULL,
    target_name TEXT NOT NULL,
    config TEXT,
    measurement TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (space_key, target_fp)
)
"""


class MeasurementCache:
    """A measurement cache in a SQLite file.

    Args:
        path: the SQLite file, or a directory (the experiment directory) to hold
            ``raynas_measurements.sqlite``. On a cluster it must be on storage every node
            mounts (the same rule as Tune's ``storage_path``); SQLite and ``flock`` need a
            POSIX file system (local disk, NFSv4), not an object store.

    Example:
        >>> import tempfile
        >>> cache = MeasurementCache(tempfile.mkdtemp())
        >>> t = HardwareTarget(name="cpu")
        >>> cache.get("cell-1", t) is None
        True
        >>> m = cache.get_or_measure("cell-1", t, lambda: Measurement(feasible=True, p50_ms=2.0))
        >>> cache.get("cell-1", t).p50_ms, cache.get("cell-1", t).from_cache
        (2.0, True)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        if p.is_dir() or (not p.suffix and not p.exists()):
            p = p / FILE_NAME
        p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        self._memo: dict[tuple[str, str], Measurement] = {}
        self._thread_lock = threading.Lock()
        with self._connect() as con:
            con.execute(_SCHEMA)

    def __getstate__(self) -> dict[str, Any]:  # travels to trials as its path only
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"MeasurementCache({str(self.path)!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=120.0, isolation_level=None)
        try:
            yield con
        finally:
            con.close()

    @staticmethod
    def _fp(target: HardwareTarget | str) -> str:
        return target if isinstance(target, str) else target.fingerprint()

    def get(self, key: str, target: HardwareTarget | str) -> Measurement | None:
        """The stored measurement of ``key`` on ``target`` (``from_cache=True``), or ``None``."""
        fp = self._fp(target)
        memo = self._memo.get((key, fp))
        if memo is not None:
            return memo
        with self._connect() as con:
            row = con.execute(
                "SELECT measurement FROM measurements WHERE space_key = ? AND target_fp = ?",
                (key, fp),
            ).fetchone()
        if row is None:
            return None
        m = Measurement.from_dict(json.loads(row[0])).with_(from_cache=True)
        self._memo[(key, fp)] = m
        return m

    def put(
        self,
        key: str,
        target: HardwareTarget,
        measurement: Measurement,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """Store a measurement (replacing an older one for the same key and target)."""
        data = measurement.with_(from_cache=False).to_dict()
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO measurements VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key,
                    target.fingerprint(),
                    target.name,
                    json.dumps(config, sort_keys=True, default=str) if config is not None else None,
                    json.dumps(data, default=str),
                    time.time(),
                ),
            )
        self._memo.pop((key, target.fingerprint()), None)

    @contextlib.contextmanager
    def _key_lock(self, key: str, fp: str) -> Iterator[None]:
        import fcntl

        folder = self.path.with_name(self.path.name + ".locks")
        folder.mkdir(exist_ok=True)
        stripe = int(hashlib.sha256(f"{key}\0{fp}".encode()).hexdigest(), 16) % _STRIPES
        fd = os.open(folder / f"{stripe:02d}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            with self._thread_lock:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def get_or_measure(
        self,
        key: str,
        target: HardwareTarget,
        measure: Callable[[], Measurement],
        config: Mapping[str, Any] | None = None,
    ) -> Measurement:
        """The cached measurement, or ``measure()`` stored under ``key`` (measured once)."""
        found = self.get(key, target)
        if found is not None:
            return found
        with self._key_lock(key, target.fingerprint()):
            found = self.get(key, target)
            if found is not None:
                return found
            m = measure()
            self.put(key, target, m, config)
            return m

    def records(self, target: HardwareTarget | str | None = None) -> list[tuple[Any, Measurement]]:
        """All ``(config, measurement)`` pairs (of one target), oldest first.

        What a latency predictor trains on: the configs are stored with their measurements.
        """
        query = "SELECT config, measurement FROM measurements"
        args: tuple[Any, ...] = ()
        if target is not None:
            query += " WHERE target_fp = ?"
            args = (self._fp(target),)
        with self._connect() as con:
            rows = con.execute(query + " ORDER BY created", args).fetchall()
        return [
            (json.loads(c) if c is not None else None, Measurement.from_dict(json.loads(m)))
            for c, m in rows
        ]

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM measurements").fetchone()[0])
