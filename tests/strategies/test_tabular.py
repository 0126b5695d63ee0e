"""TabularBenchmark on a small fixture table built here (never the shared NAS-Bench-201 files)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from raynas.search_spaces import Choice, SearchSpace
from raynas.tabular import TabularBenchmark, TabularError


def make_space():
    from raynas.search_spaces import NB201CellSpace

    return NB201CellSpace(
        input_shape=(3, 32, 32),
        num_classes=10,
        learning_rate=0.1,
        weight_decay=5e-4,
        batch_size=256,
    )


@pytest.fixture
def space():
    return make_space()


@pytest.fixture
def tables(space):
    """40 random cells with made-up accuracies, and a latency table keyed by arch_index."""
    rng = np.random.default_rng(0)
    rows = {}
    while len(rows) < 40:
        cfg = space.sample(rng)
        rows.setdefault(space.to_arch_str(cfg), cfg)
    archs = list(rows)
    acc = rng.uniform(10, 90, len(archs)).round(3)
    table = pd.DataFrame(
        {
            "arch_index": np.arange(len(archs)),
            "arch_str": archs,
            "val_12ep": acc,
            "test_200ep": acc + 5,
        }
    )
    table.loc[3, "val_12ep"] = np.nan
    latency = pd.DataFrame(
        {"arch_index": np.arange(len(archs))[::-1], "lat_ms": rng.uniform(1, 20, len(archs))}
    )
    return table, latency, rows


def test_query_returns_signal_report_and_joined_costs(space, tables):
    table, latency, rows = tables
    bench = TabularBenchmark(
        table, space=space, signal="val_12ep", report="test_200ep", costs=["lat_ms"], join=latency
    )
    arch = table.arch_str[5]
    got = bench.query(rows[arch])
    want_lat = float(latency.set_index("arch_index").lat_ms[5])
    assert got == {
        "val_12ep": table.val_12ep[5],
        "test_200ep": table.val_12ep[5] + 5,
        "lat_ms": want_lat,
    }
    assert bench(rows[arch]) == got
    assert bench.row(rows[arch]) == 5
    assert math.isnan(bench.query(rows[table.arch_str[3]])["val_12ep"])
    assert bench.oracle() == pytest.approx(table.test_200ep.max())
    assert space.to_arch_str(bench.config(7)) == table.arch_str[7]


def test_reads_csv_files(space, tables, tmp_path):
    table, latency, rows = tables
    table.to_csv(tmp_path / "t.csv", index=False)
    latency.to_csv(tmp_path / "l.csv", index=False)
    bench = TabularBenchmark(
        tmp_path / "t.csv", space=space, signal="val_12ep", costs="lat_ms", join=tmp_path / "l.csv"
    )
    assert set(bench.query(rows[table.arch_str[0]])) == {"val_12ep", "lat_ms"}
    assert len(bench) == 40


def test_errors_name_the_column_and_the_choices(space, tables, tmp_path):
    table, latency, rows = tables
    with pytest.raises(
        TabularError, match=r"`signal` names column 'acc'.*\['arch_index', 'arch_str'"
    ):
        TabularBenchmark(table, space=space, signal="acc")
    with pytest.raises(TabularError, match="`report` names column 'test'"):
        TabularBenchmark(table, space=space, signal="val_12ep", report="test")
    with pytest.raises(TabularError, match="`costs` names column 'energy'.*join"):
        TabularBenchmark(table, space=space, signal="val_12ep", costs=["energy"], join=latency)
    with pytest.raises(TabularError, match="`on` names column 'idx'"):
        TabularBenchmark(
            table, space=space, signal="val_12ep", costs=["lat_ms"], join=latency, on="idx"
        )
    with pytest.raises(TabularError, match="does not exist"):
        TabularBenchmark(tmp_path / "missing.csv", space=space, signal="val_12ep")
    with pytest.raises(TabularError, match="CSV path or a pandas DataFrame"):
        TabularBenchmark([1, 2], space=space, signal="val_12ep")
    with pytest.raises(TabularError, match="to_arch_str"):
        TabularBenchmark(table, space=SearchSpace({"a": Choice([1, 2])}), signal="val_12ep")
    doubled = pd.concat([table, table.iloc[:1]])
    with pytest.raises(TabularError, match="must be unique"):
        TabularBenchmark(doubled, space=space, signal="val_12ep")
    bench = TabularBenchmark(table, space=space, signal="val_12ep")
    missing = next(
        c for c in (space.sample(i) for i in range(1000)) if space.to_arch_str(c) not in rows
    )
    with pytest.raises(TabularError, match=r"is not in the table \(40 rows"):
        bench.query(missing)
