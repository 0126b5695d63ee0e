"""Two-node Ray cluster on this machine: the head, and an 'edge' node advertising hw:edge.

Run as a script by test_hw_remote.py (its own Ray, apart from the test session's). Prints one
JSON line with the node ids every measurement ran on.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    import ray
    from hw_fakes import hung_onnx_model, relu_onnx
    from ray.cluster_utils import Cluster
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from raynas.hardware import HardwareTarget, measure

    fast = dict(min_runs=3, min_seconds=0.0, warmup_runs=0, energy="off", verify_provider=False)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    edge = cluster.add_node(num_cpus=1, resources={"hw:edge": 1})
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        head_id = ray.get_runtime_context().get_node_id()
        edge_target = HardwareTarget(name="edge", local_fallback=False, **fast)
        local_target = HardwareTarget(name="laptop", local_fallback=True, **fast)
        data = relu_onnx()

        @ray.remote(num_cpus=1)
        def trial(i):  # a trial running on the head node measures for target 'edge'
            m = measure(data, edge_target)
            return ray.get_runtime_context().get_node_id(), m.node_id, m.feasible, m.hostname

        pin = NodeAffinitySchedulingStrategy(node_id=head_id, soft=False)
        trials = ray.get([trial.options(scheduling_strategy=pin).remote(i) for i in range(3)])
        from_driver = [measure(data, edge_target) for _ in range(2)]
        hung = measure(hung_onnx_model(), HardwareTarget(name="edge", timeout_s=3.0, **fast))
        after_hang = measure(data, edge_target)
        local = measure(data, local_target)
        print(
            json.dumps(
                {
                    "head": head_id,
                    "edge": edge.node_id,
                    "trial_nodes": [t[0] for t in trials],
                    "trial_measure_nodes": [t[1] for t in trials],
                    "trial_feasible": [t[2] for t in trials],
                    "driver_measure_nodes": [m.node_id for m in from_driver],
                    "driver_feasible": [m.feasible for m in from_driver],
                    "hung": [hung.feasible, hung.reason, hung.node_id],
                    "after_hang": [after_hang.feasible, after_hang.node_id],
                    "local": [local.feasible, local.node_id],
                }
            )
        )
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
