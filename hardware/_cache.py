"""Measurement cache: an inference graph is measured once per target within a search.

Keyed by the exported graph (:func:`graph_key`: the ONNX model with its weights' values left
out, so candidates that differ only in training hyperparameters, or only in their weights,
share one measurement) and the target's :meth:`~raynas.hardware.HardwareTarget.fingerprint`.
The candidate's space key (``space.key(config)``) is kept as an alias of its graph, so a
candidate seen before is answered without exporting it again. Stored in one SQLite file
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
);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT NOT NULL,
    target_fp TEXT NOT NULL,
    graph_key TEXT NOT NULL,
    PRIMARY KEY (alias, target_fp)
);
"""
GRAPH_PREFIX = "graph:"


def graph_key(onnx_bytes: bytes, *, weights: bool = False) -> str:
    """A hash of an ONNX model's inference graph: nodes, attributes, inputs, outputs and the
    names, shapes and types of its initializers, but not their values (``weights=False``) nor
    doc strings and producer fields.

    Latency does not depend on the values of dense weights; a quantized target's accuracy does
    (``weights=True`` keeps them).

    Example:
        >>> from onnx import TensorProto, helper
        >>> def model(value):
        ...     w = helper.make_tensor("w", TensorProto.FLOAT, [1], [value])
        ...     g = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["y"])], "g",
        ...         [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        ...         [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [w])
        ...     return helper.make_model(g).SerializeToString()
        >>> graph_key(model(1.0)) == graph_key(model(2.0))
        True
        >>> graph_key(model(1.0), weights=True) == graph_key(model(2.0), weights=True)
        False
    """
    if weights:
        return GRAPH_PREFIX + "w-" + hashlib.sha256(onnx_bytes).hexdigest()[:32]
    import onnx

    model = onnx.load_model_from_string(onnx_bytes)
    for field_name in ("doc_string", "producer_name", "producer_version", "model_version"):
        model.ClearField(field_name)
    del model.metadata_props[:]
    graphs = [model.graph]
    while graphs:  # subgraphs (If, Loop, Scan bodies) too
        graph = graphs.pop()
        graph.ClearField("doc_string")
        for tensor in [*graph.initializer, *(s.values for s in graph.sparse_initializer)]:
            for name in (
                "raw_data",
                "float_data",
                "int32_data",
                "int64_data",
                "double_data",
                "uint64_data",
                "string_data",
                "external_data",
            ):
                tensor.ClearField(name)
        for node in graph.node:
            node.ClearField("doc_string")
            for attr in node.attribute:
                if attr.HasField("g"):
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)
    blob = model.SerializeToString(deterministic=True)
    return GRAPH_PREFIX + hashlib.sha256(blob).hexdigest()[:32]


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
        # is_file, not exists: another process may create the folder between the two checks
        if p.is_dir() or (not p.suffix and not p.is_file()):
            p = p / FILE_NAME
        p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        self._memo: dict[tuple[str, str], Measurement] = {}
        self._thread_lock = threading.Lock()
        with self._connect() as con:
            con.executescript(_SCHEMA)

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
        """The stored measurement of ``key`` (a graph key, or a candidate key that is an alias
        of one) on ``target`` (``from_cache=True``), or ``None``."""
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
                row = con.execute(
                    "SELECT m.measurement FROM aliases a JOIN measurements m ON "
                    "m.space_key = a.graph_key AND m.target_fp = a.target_fp "
                    "WHERE a.alias = ? AND a.target_fp = ?",
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

    def alias(self, alias: str, target: HardwareTarget, key: str) -> None:
        """Record that candidate key ``alias`` measures as (graph) ``key`` on ``target``."""
        if alias == key:
            return
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)",
                (alias, target.fingerprint(), key),
            )

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
        alias: str | None = None,
    ) -> Measurement:
        """The cached measurement, or ``measure()`` stored under ``key`` (measured once);
        ``alias`` (the candidate's key) is recorded as another name of ``key``."""
        found = self.get(key, target)
        if found is None:
            with self._key_lock(key, target.fingerprint()):
                found = self.get(key, target)
                if found is None:
                    found = measure()
                    self.put(key, target, found, config)
        if alias is not None:
            self.alias(alias, target, key)
        return found

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
