"""A real two-node Ray cluster on this machine: ``ray job submit`` runs a hardware-aware search;
the worker advertising ``hw:edge`` receives every measurement of the ``edge`` target."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests._local_cluster import local_cluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def test_ray_job_submit_on_a_head_and_an_edge_worker(tmp_path) -> None:
    storage = tmp_path / "shared_runs"  # every node of this one-machine cluster sees it
    with local_cluster(head_cpus=2, workers=[{"num_cpus": 1, "resources": {"hw:edge": 1}}]) as c:
        deadline = time.time() + 240
        while True:  # the head's job agent comes up a little after the node itself
            job = c.ray(
                "job",
                "submit",
                "--address",
                c.dashboard_url,
                "--",
                sys.executable,
                str(ROOT / "examples" / "cluster_job.py"),
                "--storage",
                str(storage),
                "--budget",
                "4",
                "--epochs",
                "2",
                timeout=700,
            )
            busy = "No available agent to submit job" in job.stdout + job.stderr
            if job.returncode == 0 or not busy or time.time() > deadline:
                break
            time.sleep(5)
        out = job.stdout + job.stderr
        assert job.returncode == 0, out[-4000:]
        assert "succeeded" in out
    summary = json.loads((storage / "cluster_search" / "cluster_summary.json").read_text())
    assert summary["candidates"] == 4 and summary["feasible"] >= 1, summary
    assert summary["measurements"] >= 1
    assert len(summary["edge_nodes"]) == 1
    assert summary["measured_on_nodes"] == summary["edge_nodes"], summary
