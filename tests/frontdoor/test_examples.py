"""Every example runs to completion with a tiny budget (in this process, on the session's Ray)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(900)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, argv: list[str]):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def test_quickstart(ray_session, tmp_path) -> None:
    config = run_example(
        "quickstart", ["--samples", "2", "--epochs", "1", "--storage", str(tmp_path)]
    )
    assert 1 <= config["num_layers"] <= 3


def test_hardware_aware_digits(ray_session, tmp_path) -> None:
    results = run_example(
        "hardware_aware_digits",
        ["--budget", "3", "--epochs", "1", "--out", str(tmp_path), "--quiet"],
    )
    assert len(results) == 3 and results.pareto_front()
    assert (Path(results.path) / "pareto.png").exists()
    assert list((Path(results.path) / "export").glob("*/model.onnx"))


def test_nb201_mnist1d_latency(ray_session, tmp_path) -> None:
    results = run_example(
        "nb201_mnist1d_latency",
        ["--budget", "2", "--epochs", "1", "--max-latency-ms", "1000", "--out", str(tmp_path)],
    )
    assert len(results) == 2 and results.feasible()


def test_transformer_digits(ray_session, tmp_path) -> None:
    results = run_example(
        "transformer_digits",
        ["--budget", "2", "--epochs", "1", "--max-latency-ms", "1000", "--out", str(tmp_path)],
    )
    assert len(results) == 2 and results.feasible()


def test_joint_nas_hpo_pbt(ray_session, tmp_path) -> None:
    results = run_example(
        "joint_nas_hpo_pbt", ["--population", "2", "--epochs", "2", "--out", str(tmp_path)]
    )
    assert len(results) == 2 and results.feasible()


def test_existing_tune_pipeline(ray_session, tmp_path) -> None:
    grid = run_example("existing_tune_pipeline", ["--samples", "2", "--storage", str(tmp_path)])
    assert len(grid) == 2 and not grid.errors
    assert any(r.metrics.get("latency_p50_ms") for r in grid)


def test_tabular_benchmark_on_a_fixture_table(tmp_path) -> None:
    import itertools

    import numpy as np
    import pandas as pd

    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    rng = np.random.default_rng(0)
    rows = []
    for i, e in enumerate(itertools.product(ops, repeat=6)):
        arch = f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"
        signal = 60 + 5 * e.count("nor_conv_3x3") + 2 * e.count("nor_conv_1x1") + rng.normal()
        rows.append({"arch_index": i, "arch_str": arch, "val": signal, "test": signal + 1})
    path = tmp_path / "fixture.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = run_example(
        "tabular_benchmark",
        [
            "--table",
            str(path),
            "--signal",
            "val",
            "--report",
            "test",
            "--budget",
            "30",
            "--seeds",
            "2",
            "--strategies",
            "random,evolution",
        ],
    )
    assert set(out) == {"random", "evolution"}
    assert all(60 < mean < 95 for mean, _ in out.values())


def test_transformer_reviews(ray_session, tmp_path, capsys) -> None:
    results = run_example(
        "transformer_reviews",
        ["--budget", "2", "--epochs", "1", "--train-fraction", "0.05", "--out", str(tmp_path)],
    )
    assert len(results) == 2 and results.feasible()
    assert list((Path(results.path) / "export").glob("*/tokenizer.json"))
    out = capsys.readouterr().out
    assert re.search(r"int8 p50 [0-9.]+ ms", out)
    assert len(re.findall(r"(fresh|rotten) +<- '", out)) == 2
