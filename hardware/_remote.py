"""Measurements as Ray tasks on the node that holds the device.

A target names a Ray custom resource (``hw:<name>`` by default). A node with the device
advertises it (``ray start --resources='{"hw:jetson": 1}'``); every measurement for that target
is a task requiring ``{resource: 1}`` and ``num_cpus=0``, so Ray runs it on that node, one at a
time per unit of the resource, and never waits for CPUs that busy trials hold (a trial that
waits for its own measurement while holding the last CPU would otherwise deadlock).

Local runs: Ray cannot add a custom resource to a node that is already running, so there are
two sound ways, and raynas uses both:

* when raynas starts Ray itself it passes :func:`local_resources` to ``ray.init(resources=...)``,
  so local measurements are Ray tasks like remote ones;
* when Ray is already running without the resource (a user's own ``ray.init``, a Tune pipeline)
  or not running at all, the measurement runs on the caller's node in a child process, and
  :func:`~raynas.hardware._runner.device_lock` (an OS file lock named after the resource, shared
  by all processes of the node and released by the kernel if the holder dies) keeps it one at a
  time per device. Without Ray that is the only route; with Ray running, a target refuses it
  unless it has ``local_fallback=True``, so a device node that is missing is an error instead of
  a silent measurement on the wrong machine.

Inside the task the measurement still runs in the node's measuring child process with the
target's timeout, so a hung session ends as an infeasible result and frees the resource.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from ._target import HardwareTarget
from .errors import TargetError

_POLL_S = 5.0
_task_fn: Any = None


def ray_ready() -> bool:
    """Whether this process is connected to Ray (a driver after ``ray.init`` or a worker)."""
    if "ray" not in sys.modules:
        return False
    import ray

    return bool(ray.is_initialized())


def resource_advertised(resource: str) -> bool:
    """Whether some alive node of the connected Ray cluster advertises ``resource``."""
    if not ray_ready():
        return False
    import ray

    return float(ray.cluster_resources().get(resource, 0.0)) > 0.0


def local_resources(targets: Iterable[HardwareTarget]) -> dict[str, float]:
    """Custom resources to pass to ``ray.init(resources=...)`` for targets on this machine.

    Example:
        >>> local_resources([HardwareTarget(name="cpu1")])
        {'hw:cpu1': 1.0}
    """
    return {t.resource: 1.0 for t in targets if t.resource}  # type: ignore[misc]


def choose_route(target: HardwareTarget) -> str:
    """``"ray"`` when a node advertises the target's resource, ``"local"`` without Ray (or with
    ``local_fallback=True``).

    Raises:
        TargetError: Ray runs, no node advertises the resource, and the target has
            ``local_fallback=False`` (the default).
    """
    if resource_advertised(target.resource):  # type: ignore[arg-type]
        return "ray"
    if ray_ready() and not target.local_fallback:
        advertised: list[str] = []
        if ray_ready():
            import ray

            advertised = sorted(k for k in ray.cluster_resources() if k.startswith("hw:"))
        raise TargetError(
            f"`resource` of HardwareTarget `{target.name}` is {target.resource!r}, but no node "
            f"of the Ray cluster advertises it (advertised device resources: {advertised}); "
            f"start the device's node with --resources='{{\"{target.resource}\": 1}}', or set "
            "local_fallback=True to measure on the local node."
        )
    return "local"


def _measure_on_node(job: Mapping[str, Any]) -> tuple[tuple[Any, ...], str | None, str]:
    """Body of the Ray task: measure in this node's measuring process, under the device lock."""
    import ray

    from ._protocol import run_job
    from ._runner import default_runner, device_lock

    target = job["target"]
    with device_lock(target["resource"]):
        reply = default_runner().run(run_job, job, float(target["timeout_s"]))
    return reply, ray.get_runtime_context().get_node_id(), platform.node()


def run_remote(
    job: Mapping[str, Any], target: HardwareTarget
) -> tuple[tuple[Any, ...], str | None]:
    """Run one measurement as a Ray task requiring ``{target.resource: 1}``.

    Returns:
        the measuring process's reply (see :meth:`ProcessRunner.run`) and the Ray node id the
        task ran on. A lost node or a killed worker gives a ``("crash", reason)`` reply.
    """
    import ray
    from ray.exceptions import GetTimeoutError, RayError

    global _task_fn
    if _task_fn is None:
        _task_fn = ray.remote(_measure_on_node)
    ref = _task_fn.options(
        num_cpus=0,
        resources={target.resource: 1},
        max_retries=0,
        name=f"raynas-measure-{target.name}",
        # Inside a Tune trial, child tasks would be captured by the trial's placement group,
        # which holds no device resource: schedule the measurement on the cluster instead.
        scheduling_strategy="DEFAULT",
    ).remote(dict(job))
    while True:
        try:
            reply, node_id, _host = ray.get(ref, timeout=_POLL_S)
            return reply, node_id
        except GetTimeoutError:
            # Still queued or running: its own timeout bounds the run; only a device node
            # that left the cluster could leave it waiting for ever.
            if not resource_advertised(target.resource):  # type: ignore[arg-type]
                ray.cancel(ref, force=True)
                return ("crash", f"no node advertises {target.resource!r} any more"), None
        except RayError as exc:
            return ("crash", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"), None
