from __future__ import annotations

import pytest
from hw_fakes import digits_data, tiny_cnn, train_digits

from raynas.hardware import HardwareTarget, TargetError, accuracy, export_onnx, measure, quantize

FAST = dict(min_runs=5, min_seconds=0.0, warmup_runs=1, energy="off", exporter="torchscript")


@pytest.fixture(scope="module")
def trained():
    x, y, xv, yv = digits_data()
    model = train_digits(tiny_cnn(), x, y, epochs=4)
    return model, x, y, xv, yv


def test_static_int8_is_a_separate_target_with_its_accuracy(trained):
    model, x, _, xv, yv = trained
    fp32 = HardwareTarget(name="cpu", input_shape=(1, 8, 8), batch_size=8, **FAST)
    int8 = HardwareTarget(
        name="cpu-int8", input_shape=(1, 8, 8), batch_size=8, quantization="static", **FAST
    )
    assert int8.fingerprint() != fp32.fingerprint()
    mf = measure(model, fp32, route="local")
    mq = measure(model, int8, calibration=x[:256], eval_data=(xv, yv), route="local")
    assert mf.feasible and mq.feasible, (mf.reason, mq.reason)
    assert mq.quantization == "static" and mf.quantization is None
    assert mq.float_acc > 0.85  # the trained float model is good ...
    assert mq.quantized_acc > mq.float_acc - 0.05  # ... and int8 keeps nearly all of it
    assert mq.model_size_bytes < mf.model_size_bytes  # int8 weights
    assert mq.metrics()["quantized_acc"] == mq.quantized_acc


def test_static_quantization_is_qdq_per_channel(trained):
    import onnx

    model, x, *_ = trained
    fp = export_onnx(model, input_shape=(1, 8, 8), batch_size=4, exporter="torchscript").onnx
    q = onnx.load_from_string(quantize(fp, "static", calibration=x[:64]))
    ops = {n.op_type for n in q.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    # per channel: the conv weight's scale is a vector with one entry per output channel
    scales = {i.name: list(i.dims) for i in q.graph.initializer if "scale" in i.name}
    assert any(d == [4] for d in scales.values())


def test_dynamic_quantization_and_accuracy(trained):
    model, _, _, xv, yv = trained
    fp = export_onnx(model, input_shape=(1, 8, 8), batch_size=1, exporter="torchscript").onnx
    q = quantize(fp, "dynamic")
    acc_f, acc_q = accuracy(fp, xv, yv), accuracy(q, xv, yv)
    assert acc_f > 0.85 and acc_q > acc_f - 0.05
    t = HardwareTarget(name="cpu-dyn", input_shape=(1, 8, 8), quantization="dynamic", **FAST)
    m = measure(model, t, eval_data=(xv, yv), route="local")
    assert m.feasible and m.quantized_acc == pytest.approx(acc_q)


def test_static_needs_calibration_data(trained):
    model, *_ = trained
    t = HardwareTarget(name="cpu-int8", input_shape=(1, 8, 8), quantization="static", **FAST)
    with pytest.raises(
        TargetError, match=r"`cpu-int8` has quantization='static', which needs `calibration` data"
    ):
        measure(model, t)
    with pytest.raises(
        TargetError, match=r"`quantization` must be one of \['static', 'dynamic'\], but got 'int4'"
    ):
        quantize(b"", "int4")
