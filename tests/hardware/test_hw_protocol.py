from __future__ import annotations

import time

import numpy as np
import pytest
from hw_fakes import relu_onnx

from raynas.hardware import HardwareTarget, TargetError
from raynas.hardware._protocol import make_inputs, make_runner, make_session, timed_runs


def test_timed_runs_respects_min_runs_min_seconds_and_max_runs():
    calls = []

    def run():
        calls.append(1)

    out = timed_runs(run, min_runs=5, min_seconds=0.0, max_runs=100)
    assert len(out["ms"]) == 5 == len(calls) and out["joules"] is None
    out = timed_runs(run, min_runs=1, min_seconds=60.0, max_runs=7)  # the cap wins
    assert len(out["ms"]) == 7

    def slow():
        time.sleep(0.01)

    out = timed_runs(slow, min_runs=1, min_seconds=0.05, max_runs=1000)
    assert out["elapsed"] >= 0.05 and len(out["ms"]) >= 2
    assert all(ms >= 10.0 for ms in out["ms"])


def test_session_threads_inputs_and_both_runners():
    t = HardwareTarget(name="cpu", intra_op_threads=2, inter_op_threads=2, batch_size=1)
    session = make_session(relu_onnx(width=3), t)
    feeds = make_inputs(session, t, np.random.default_rng(0))
    assert feeds["x"].shape == (1, 3) and feeds["x"].dtype == np.float32
    for binding in (False, True):
        run = make_runner(session, feeds, io_binding=binding)
        run()  # runs without error, both with plain feeds and with bound inputs/outputs


def test_inputs_of_other_types():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 5])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, ["batch", 5])
    g = helper.make_graph([helper.make_node("Identity", ["ids"], ["y"])], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    t = HardwareTarget(name="cpu", batch_size=4)
    session = make_session(m.SerializeToString(), t)
    feeds = make_inputs(session, t, np.random.default_rng(0))
    assert feeds["ids"].shape == (4, 5) and feeds["ids"].dtype == np.int64
    assert set(np.unique(feeds["ids"])) <= {0, 1}  # valid ids for any vocabulary
    x2 = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", "seq"])
    g2 = helper.make_graph(
        [helper.make_node("Relu", ["a"], ["b"])],
        "g",
        [x2],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", "seq"])],
    )
    m2 = helper.make_model(g2, opset_imports=[helper.make_opsetid("", 17)])
    m2.ir_version = 8
    s2 = make_session(m2.SerializeToString(), t)
    with pytest.raises(
        TargetError, match=r"input `a` has the symbolic dimension 1 \('seq'\) .* give `input_shape`"
    ):
        make_inputs(s2, t, np.random.default_rng(0))
