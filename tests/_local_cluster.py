"""A real multi-node Ray cluster on this machine, started with the ``ray`` CLI, for tests.

Each node runs in its own process session with its own temp dir, so the cluster neither
registers itself as "the current cluster" (other tests' ``ray.init`` stays local) nor leaves
processes behind: stopping kills the nodes' whole process groups instead of ``ray stop``, which
would take down every Ray instance on the machine. Every address is 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ray_cli() -> list[str]:
    """The ``ray`` command of this interpreter's environment."""
    exe = Path(sys.executable).with_name("ray")
    if exe.exists():
        return [str(exe)]
    return [
        sys.executable,
        "-c",
        "import sys; from ray.scripts.scripts import main; sys.exit(main())",
    ]


@dataclass
class LocalCluster:
    """Handles of a running cluster: the GCS address, the dashboard URL and the environment."""

    gcs_address: str
    dashboard_url: str
    env: dict[str, str]
    temp_dir: str
    procs: list[subprocess.Popen] = field(default_factory=list)

    def ray(
        self, *args: str, timeout: float = 600, cwd: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run a ``ray`` CLI command against this cluster."""
        return subprocess.run(
            [*ray_cli(), *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _own_ports() -> list[str]:
    """Ports a node would otherwise take at fixed defaults (the dashboard agent listens on 52365).

    Another Ray instance on this machine, such as a test session's ``ray.init``, already holds
    those, and a node whose agent cannot bind refuses every ``ray job submit``.
    """
    return [
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
    ]


def _start_node(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    args = [*args, *_own_ports()]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*ray_cli(), "start", "--block", *args],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc


def _wait_for_nodes(cluster: LocalCluster, count: int, deadline: float) -> None:
    code = (
        f"import ray, json; ray.init(address={cluster.gcs_address!r}, log_to_driver=False); "
        "print(json.dumps(len([n for n in ray.nodes() if n['Alive']])))"
    )
    while time.time() < deadline:
        try:
            res = subprocess.run(
                [sys.executable, "-c", code],
                env=cluster.env,
                capture_output=True,
                text=True,
                timeout=max(10.0, min(45.0, deadline - time.time())),
            )
        except subprocess.TimeoutExpired:
            # seen once in a full suite run: a probe that connected while the head was still
            # starting waited on its pubsub for good; a fresh probe is the cure
            continue
        if res.returncode == 0 and json.loads(res.stdout.strip().splitlines()[-1]) >= count:
            return
        time.sleep(2)
    raise TimeoutError(f"the local cluster did not reach {count} nodes in time")


@contextlib.contextmanager
def local_cluster(
    *, head_cpus: int = 1, workers: list[dict] | None = None, timeout: float = 180
) -> Iterator[LocalCluster]:
    """Start a head node and workers (``{"num_cpus": 1, "resources": {"hw:edge": 1}}``)."""
    workers = workers or []
    temp_dir = tempfile.mkdtemp(prefix="raynas-cluster-")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
    env.update(
        RAY_AUTH_MODE="token",
        RAY_NODE_IP_ADDRESS="127.0.0.1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    subprocess.run(
        [*ray_cli(), "get-auth-token", "--generate"], env=env, capture_output=True, check=True
    )
    gcs_port, dash_port, client_port = free_port(), free_port(), free_port()
    cluster = LocalCluster(
        gcs_address=f"127.0.0.1:{gcs_port}",
        dashboard_url=f"http://127.0.0.1:{dash_port}",
        env=env,
        temp_dir=temp_dir,
    )
    try:
        cluster.procs.append(
            _start_node(
                [
                    "--head",
                    "--node-ip-address=127.0.0.1",
                    "--dashboard-host=127.0.0.1",
                    f"--port={gcs_port}",
                    f"--dashboard-port={dash_port}",
                    f"--ray-client-server-port={client_port}",
                    f"--num-cpus={head_cpus}",
                    "--include-dashboard=true",
                    f"--temp-dir={temp_dir}",
                ],
                env,
                Path(temp_dir) / "head.log",
            )
        )
        deadline = time.time() + timeout
        _wait_for_nodes(cluster, 1, deadline)
        for i, w in enumerate(workers):
            args = [
                f"--address={cluster.gcs_address}",
                "--node-ip-address=127.0.0.1",
                f"--num-cpus={w.get('num_cpus', 1)}",
                f"--temp-dir={temp_dir}",
            ]
            if w.get("resources"):
                args.append(f"--resources={json.dumps(w['resources'])}")
            cluster.procs.append(_start_node(args, env, Path(temp_dir) / f"worker{i}.log"))
        _wait_for_nodes(cluster, 1 + len(workers), deadline)
        yield cluster
    finally:
        for proc in reversed(cluster.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(2)
        for proc in reversed(cluster.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)
        shutil.rmtree(temp_dir, ignore_errors=True)
