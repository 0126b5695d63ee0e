"""Two-node Ray cluster on this machine: the head, and a node advertising ``hw:<name>`` for a
plugin-provider target (OpenVINO by default). Run as a script by test_hw_remote.py, apart from
the test session's Ray; argv[1], when given, is a JSON dict of HardwareTarget fields.

Prints one JSON line: the nodes every measurement ran on, and the provider and device used.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TARGET = {"name": "openvino", "provider": "OpenVINOExecutionProvider", "device": "CPU"}


def main() -> None:
    import ray
    import torch
    from ray.cluster_utils import Cluster
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from raynas.hardware import HardwareTarget, measure

    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else TARGET
    fast = dict(min_runs=5, min_seconds=0.0, warmup_runs=1, energy="off", input_shape=(8,))
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    device_node = cluster.add_node(num_cpus=1, resources={f"hw:{spec['name']}": 1})
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        head_id = ray.get_runtime_context().get_node_id()
        # the device is on the other node: checked there, never measured here
        target = HardwareTarget(
            **spec, local_fallback=False, verify_provider=False, exporter="torchscript", **fast
        )
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

        @ray.remote(num_cpus=1)
        def trial(i):  # a trial on the head node measures on the device node
            m = measure(model, target)
            return (
                ray.get_runtime_context().get_node_id(),
                m.node_id,
                m.feasible,
                m.reason,
                m.provider,
                m.device,
            )

        pin = NodeAffinitySchedulingStrategy(node_id=head_id, soft=False)
        trials = ray.get([trial.options(scheduling_strategy=pin).remote(i) for i in range(3)])
        driver = measure(model, target)
        print(
            json.dumps(
                {
                    "head": head_id,
                    "device_node": device_node.node_id,
                    "trial_nodes": [t[0] for t in trials],
                    "measure_nodes": [t[1] for t in trials] + [driver.node_id],
                    "feasible": [t[2] for t in trials] + [driver.feasible],
                    "reasons": [t[3] for t in trials] + [driver.reason],
                    "providers": [t[4] for t in trials] + [driver.provider],
                    "devices": [t[5] for t in trials] + [driver.device],
                }
            )
        )
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
