"""The code stays clean: ruff's lint rules and formatting, and mypy on the installed packages.

The tools are the `dev` extra's (pinned in pyproject.toml, so a newer release cannot turn the
suite red by itself); a checkout installed without them skips these tests.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [sys.executable, "-m", tool, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ruff_lint_passes() -> None:
    out = _run("ruff", "check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_leaves_the_code_as_it_is() -> None:
    out = _run("ruff", "format", "--check", ".")
    assert out.returncode == 0, "run `ruff format .`:\n" + out.stdout + out.stderr


def test_mypy_passes_on_the_packages() -> None:
    out = _run("mypy", "raynas", "search_spaces", "hardware")
    assert out.returncode == 0, out.stdout + out.stderr
