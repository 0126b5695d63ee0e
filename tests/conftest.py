"""Shared fixtures: one local Ray instance per test session, started only by tests that ask."""

from __future__ import annotations

import os
import pathlib

import pytest

# Ray workers must import the test modules that define trainables: put every test folder on
# their PYTHONPATH (pytest's rootdir-relative imports do not reach worker processes).
_TESTS = pathlib.Path(__file__).resolve().parent
_dirs = [str(_TESTS)] + sorted(
    str(p) for p in _TESTS.rglob("*") if p.is_dir() and "__" not in p.name
)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [*_dirs, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray with 2 CPUs for the whole session (tests using it are marked ``ray``)."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",  # never attach to a `ray start` cluster another test may run
            num_cpus=2,
            resources={"hw:cpu": 1},  # this machine's CPU is the test device `cpu`
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    yield ray
    ray.shutdown()


@pytest.fixture
def tmp_storage(tmp_path):
    """A storage path for Tune experiments inside the test's temporary folder."""
    path = tmp_path / "ray_results"
    path.mkdir()
    return str(path)
