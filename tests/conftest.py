"""Shared fixtures: one local Ray instance per test session, started only by tests that ask."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray with 2 CPUs for the whole session (tests using it are marked ``ray``)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def tmp_storage(tmp_path):
    """A storage path for Tune experiments inside the test's temporary folder."""
    path = tmp_path / "ray_results"
    path.mkdir()
    return str(path)
