"""Tabular benchmark objective: look NAS-Bench-201 cells up in a table instead of training them.

Measuring a search strategy on real training costs GPU-days; on a tabular benchmark every
query is a table lookup, so hundreds of seeded runs take minutes. The table is a CSV (or a
pandas DataFrame) with one row per cell keyed by its NAS-Bench-201 arch string; the user names the
column the search may look at (the *signal*, e.g. 12-epoch validation accuracy), the column
reported for the cell a search returns (e.g. 200-epoch test accuracy), and optional cost
columns (e.g. latency), which may live in a second table joined on a shared index column.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from raynas.search_spaces.errors import RaynasError


class TabularError(RaynasError, ValueError):
    """A table is missing a column, or a config's cell is not in the table."""


class TabularBenchmark:
    """Answers ``query(config)`` for configs of a cell space from a table.

    Args:
        table: path of a CSV file, or a pandas DataFrame, with one row per cell.
        space: the space whose configs are queried; it must have ``to_arch_str(config)``
            (:class:`~raynas.search_spaces.NB201CellSpace` does).
        signal: column a search may look at (its objective).
        report: column to report for the cell a search returns (defaults to ``signal``).
        costs: further columns to return with every query (e.g. ``["lat_ms_pixel3"]``).
        join: a second table (path or DataFrame) holding some of ``costs``, joined on ``on``.
        on: the column both tables share (``arch_index`` for the NAS-Bench-201 tables).
        arch_column: the column holding the arch strings.

    Example:
        >>> import pandas as pd
        >>> from raynas.search_spaces import NB201CellSpace
        >>> space = NB201CellSpace(learning_rate=0.1, weight_decay=5e-4, batch_size=256)
        >>> cfg = space.default_config()
        >>> df = pd.DataFrame({"arch_str": [space.to_arch_str(cfg)], "val": [91.0]})
        >>> TabularBenchmark(df, space=space, signal="val").query(cfg)
        {'val': 91.0}
    """

    def __init__(
        self,
        table: str | os.PathLike[str] | Any,
        *,
        space: Any,
        signal: str,
        report: str | None = None,
        costs: Sequence[str] = (),
        join: str | os.PathLike[str] | Any | None = None,
        on: str = "arch_index",
        arch_column: str = "arch_str",
    ) -> None:
        if not callable(getattr(space, "to_arch_str", None)):
            raise TabularError(
                f"`space` must have a to_arch_str(config) method (such as NB201CellSpace), "
                f"but got {type(space).__name__}."
            )
        if isinstance(costs, str):
            costs = [costs]
        frame = _read(table, "table")
        for name, col in (("arch_column", arch_column), ("signal", signal)):
            _need(frame, col, name, "table")
        if join is not None:
            other = _read(join, "join")
            _need(frame, on, "on", "table")
            _need(other, on, "on", "join")
            wanted = [c for c in costs if c not in frame.columns]
            for c in wanted:
                _need(other, c, "costs", "join")
            frame = frame.merge(other[[on, *wanted]], on=on, how="left", validate="one_to_one")
        report = signal if report is None else report
        _need(frame, report, "report", "table")
        for c in costs:
            _need(frame, c, "costs", "table")
        if frame[arch_column].duplicated().any():
            dup = frame[arch_column][frame[arch_column].duplicated()].iloc[0]
            raise TabularError(f"`{arch_column}` must be unique, but {dup!r} appears twice.")
        self.space = space
        self.signal, self.report, self.costs = signal, report, list(costs)
        self.columns = list(dict.fromkeys([signal, report, *self.costs]))
        self.frame = frame.reset_index(drop=True)
        self.arch_column = arch_column
        self._rows = {s: i for i, s in enumerate(self.frame[arch_column].astype(str))}
        self._values = {c: self.frame[c].to_numpy(dtype=float) for c in self.columns}

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (
            f"TabularBenchmark(rows={len(self)}, signal={self.signal!r}, report={self.report!r}, "
            f"costs={self.costs!r})"
        )

    def row(self, config: Mapping[str, Any]) -> int:
        """Row index of the config's cell."""
        arch = self.space.to_arch_str(config)
        try:
            return self._rows[arch]
        except KeyError:
            raise TabularError(
                f"cell {arch!r} is not in the table ({len(self)} rows in `{self.arch_column}`)."
            ) from None

    def query(self, config: Mapping[str, Any]) -> dict[str, float]:
        """The signal, report and cost columns of the config's cell (NaN stays NaN)."""
        i = self.row(config)
        return {c: float(self._values[c][i]) for c in self.columns}

    __call__ = query

    def values(self, column: str) -> np.ndarray:
        """A column as a float array in row order."""
        if column not in self._values:
            _need(self.frame, column, "column", "table")
            self._values[column] = self.frame[column].to_numpy(dtype=float)
        return self._values[column]

    def config(self, row: int) -> dict[str, Any]:
        """The config of a row (through ``space.from_arch_str``)."""
        return self.space.from_arch_str(str(self.frame[self.arch_column].iloc[row]))

    def oracle(self, column: str | None = None, mode: str = "max") -> float:
        """Best value of a column over the whole table (the report column by default)."""
        v = self.values(column or self.report)
        v = v[np.isfinite(v)]
        return float(v.max() if mode == "max" else v.min()) if len(v) else math.nan


def _read(table: Any, what: str) -> Any:
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table.copy()
    if isinstance(table, (str, os.PathLike)):
        if not os.path.exists(table):
            raise TabularError(f"`{what}` file {os.fspath(table)!r} does not exist.")
        return pd.read_csv(table)
    raise TabularError(
        f"`{what}` must be a CSV path or a pandas DataFrame, but got {type(table).__name__}."
    )


def _need(frame: Any, column: str, arg: str, what: str) -> None:
    if column not in frame.columns:
        raise TabularError(
            f"`{arg}` names column {column!r}, which the {what} does not have; its columns are "
            f"{list(frame.columns)}."
        )
