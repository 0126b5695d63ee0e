"""The measuring process: :func:`main` runs with ``READ_FD WRITE_FD`` (started by
:class:`~raynas.hardware._runner.ProcessRunner` with the parent's ``sys.path``).

Reads ``(function, payload)`` messages from ``READ_FD``, runs ``function(payload)`` and writes
``("ok", result)`` or ``("error", exception, type name, message, traceback)`` to ``WRITE_FD``.
Exits when the parent closes its end.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
import traceback


def main(argv: list[str]) -> int:
    from raynas.hardware._runner import read_message, write_message

    rfd, wfd = int(argv[0]), int(argv[1])
    _die_with_parent()
    _warm_up()

    write_message(wfd, ("ready", os.getpid()))
    while True:
        try:
            fn, payload = read_message(rfd)
        except EOFError:
            return 0
        reply: tuple[object, ...]
        try:
            reply = ("ok", fn(payload))
        except BaseException as exc:  # reported to the parent, which decides
            tb = traceback.format_exc()
            try:
                pickle.dumps(exc)
                exc_obj = exc
            except Exception:
                exc_obj = None
            reply = ("error", exc_obj, type(exc).__name__, str(exc), tb)
        write_message(wfd, reply)


def _warm_up() -> None:
    """Import onnxruntime and run one trivial session, so that its one-time initialization is
    neither in the first measurement's timeout nor in its peak-memory reading."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    inits = [
        helper.make_tensor("w", TensorProto.FLOAT, [8, 4, 3, 3], rng.standard_normal(288)),
        helper.make_tensor("m", TensorProto.FLOAT, [8, 8], rng.standard_normal(64)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("MatMul", ["f", "m"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "warmup", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = min(model.ir_version, 9)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    session = ort.InferenceSession(
        onnx.shape_inference.infer_shapes(model).SerializeToString(),
        sess_options=so,
        providers=["CPUExecutionProvider"],
    )
    session.run(None, {"x": np.zeros((1, 4, 8, 8), dtype=np.float32)})


def _die_with_parent() -> None:
    """Exit when the parent dies, even while a session hangs in native code (which releases
    the GIL, so this thread keeps running)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="raynas-parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
