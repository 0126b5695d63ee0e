from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from hw_fakes import tiny_cnn

from raynas.hardware import ExportError, HardwareTarget, export_onnx, measure
from raynas.hardware import _export as export_mod


def test_torchscript_export_static_batch_parity_and_training_flag():
    model = tiny_cnn().train()
    res = export_onnx(model, input_shape=(1, 8, 8), batch_size=3, exporter="torchscript", opset=17)
    assert model.training  # restored
    assert res.exporter == "torchscript" and res.note is None and res.opset == 17
    proto = onnx.load_from_string(res.onnx)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [3, 1, 8, 8]  # static batch
    assert {o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")} == {17}
    assert res.parity_max_abs_diff is not None and res.parity_max_abs_diff < 1e-4
    assert res.sample_input.shape == (3, 1, 8, 8)


def test_reference_outputs_of_a_gpu_model_are_computed_in_ieee_float32():
    """torch runs cuDNN convolutions in TF32 by default, which made a candidate trained on an
    H200 fail the float32 parity check (max |diff| 0.066); the reference runs in IEEE float32."""
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    before = conv.fp32_precision, matmul.fp32_precision
    with export_mod.full_fp32(torch.device("cuda", 0)):
        assert (conv.fp32_precision, matmul.fp32_precision) == ("ieee", "ieee")
    assert (conv.fp32_precision, matmul.fp32_precision) == before
    with pytest.raises(RuntimeError), export_mod.full_fp32(torch.device("cuda")):
        raise RuntimeError("the forward failed")
    assert (conv.fp32_precision, matmul.fp32_precision) == before  # restored on errors too
    with export_mod.full_fp32(torch.device("cpu")):  # CPU math is IEEE already: untouched
        assert (conv.fp32_precision, matmul.fp32_precision) == before


def test_eval_mode_restored_also_for_eval_models():
    model = tiny_cnn().eval()
    export_onnx(model, input_shape=(1, 8, 8), exporter="torchscript")
    assert not model.training


def test_fallback_to_torchscript_when_dynamo_fails(monkeypatch):
    def broken(model, x, opset):
        raise RuntimeError("dynamo cannot trace this model\nlong details...")

    monkeypatch.setattr(export_mod, "_export_dynamo", broken)
    res = export_onnx(tiny_cnn(), input_shape=(1, 8, 8), exporter="auto")
    assert res.exporter == "torchscript"
    assert (
        res.note == "dynamo exporter: RuntimeError: dynamo cannot trace this model long details..."
    )


class Eigh(torch.nn.Module):
    """No ONNX exporter supports eigh: an unexportable candidate."""

    def forward(self, x):
        return torch.linalg.eigh(x @ x.transpose(-1, -2))[0]


def test_unexportable_model_is_an_export_error_with_the_reason():
    with pytest.raises(ExportError, match=r"torchscript exporter: .*eigh"):
        export_onnx(Eigh(), input_shape=(3, 3), exporter="torchscript")


def test_unexportable_candidate_is_infeasible_with_the_exporters_reason():
    t = HardwareTarget(name="cpu", input_shape=(3, 3), exporter="torchscript", energy="off")
    m = measure(Eigh(), t)
    assert not m.feasible
    assert m.reason.startswith("export failed: torchscript exporter: ")
    assert "eigh" in m.reason
    assert m.params == 0 and m.runs == 0 and m.p50_ms is None


def test_non_finite_torch_output_is_refused():
    class NaNNet(torch.nn.Module):
        def forward(self, x):
            return x * float("nan")

    with pytest.raises(ExportError, match="contains NaN or inf"):
        export_onnx(NaNNet(), input_shape=(4,), exporter="torchscript")


def test_parity_tolerance_and_mismatch_reason():
    res = export_onnx(torch.nn.Linear(4, 3), input_shape=(4,), exporter="torchscript")
    from raynas.hardware._export import check_parity_cpu

    ok = check_parity_cpu(res.onnx, res.reference())
    assert ok["ok"] and ok["reason"] is None
    bad = dict(res.reference(), outputs=[res.torch_outputs[0] + 0.01])
    out = check_parity_cpu(res.onnx, bad)
    assert not out["ok"]
    assert out["max_abs_diff"] == pytest.approx(0.01, rel=1e-3)
    assert (
        "ONNX output 0 differs from torch: max |diff| = 0.01 exceeds the tolerance (rtol=0.001, atol=0.0001"
        in out["reason"]
    )
    # fp16 tolerance is looser: the same 0.01 error on outputs of size ~1 passes at (1e-2, 1e-2)
    loose = dict(
        bad, rtol=export_mod.TOLERANCES["float16"][0], atol=export_mod.TOLERANCES["float16"][1]
    )
    assert check_parity_cpu(res.onnx, loose)["ok"]


def test_parity_mismatch_in_measure_is_infeasible():
    model = torch.nn.Linear(4, 3)
    t = HardwareTarget(
        name="cpu",
        input_shape=(4,),
        exporter="torchscript",
        energy="off",
        min_runs=3,
        min_seconds=0.0,
        warmup_runs=0,
    )
    res = export_onnx(model, input_shape=(4,), exporter="torchscript")
    wrong = dict(res.reference(), outputs=[np.zeros_like(res.torch_outputs[0]) + 5.0])
    m = measure(model, t, job_extra={"reference": wrong})
    assert not m.feasible and "differs from torch" in m.reason
    assert m.parity_max_abs_diff is not None and m.parity_max_abs_diff > 1.0


def test_parity_tolerance_of_the_target_decides_a_tf32_sized_difference():
    """Outputs off by 0.3% (what TF32 math gives) fail the float32 tolerance and pass a target's
    ``parity_tolerance``; the measurement reports the difference either way."""
    model = torch.nn.Linear(4, 3)
    common = dict(
        input_shape=(4,), exporter="torchscript", energy="off", min_runs=3, min_seconds=0.0
    )
    res = export_onnx(model, input_shape=(4,), exporter="torchscript")
    off = dict(res.reference(), outputs=[res.torch_outputs[0] * 1.003])
    strict = measure(model, HardwareTarget(name="cpu", **common), job_extra={"reference": off})
    assert not strict.feasible and "rtol=0.001, atol=0.0001" in strict.reason
    tf32 = HardwareTarget(name="cpu", parity_tolerance=(1e-2, 1e-3), **common)
    loose = measure(model, tf32, job_extra={"reference": off})
    assert loose.feasible and loose.parity_max_abs_diff == pytest.approx(strict.parity_max_abs_diff)


def test_bad_arguments():
    with pytest.raises(
        ValueError,
        match=r"`exporter` must be one of \['auto', 'dynamo', 'torchscript'\], but got 'jit'",
    ):
        export_onnx(torch.nn.Linear(2, 2), input_shape=(2,), exporter="jit")
    with pytest.raises(ValueError, match=r"`dtype` must be one of .* but got 'float8'"):
        export_onnx(torch.nn.Linear(2, 2), input_shape=(2,), dtype="float8")


def test_static_costs():
    from raynas.hardware import count_flops, count_params

    model = tiny_cnn()
    assert count_params(model) == sum(p.numel() for p in model.parameters())
    # conv 1->4, 3x3, 8x8 output: 2*4*9*64; linear 256->10: 2*256*10 (batch-norm/relu not counted)
    assert count_flops(model, (1, 8, 8)) == 2 * 4 * 9 * 64 + 2 * 256 * 10


@pytest.mark.slow
def test_dynamo_exporter_is_the_default():
    model = tiny_cnn()
    res = export_onnx(model, input_shape=(1, 8, 8))
    assert res.exporter == "dynamo" and res.note is None
    assert res.parity_max_abs_diff < 1e-4


def _graph(onnx_bytes: bytes) -> list[tuple[str, tuple[str, ...]]]:
    proto = onnx.load_from_string(onnx_bytes)
    return [(n.op_type, tuple(n.input)) for n in proto.graph.node]


def test_dynamo_export_builds_its_op_registry_once_and_matches_torchs_own_call(monkeypatch):
    monkeypatch.setattr(export_mod, "_REGISTRIES", {})
    model = tiny_cnn().eval()
    first = export_onnx(model, input_shape=(1, 8, 8), exporter="dynamo")
    registry = export_mod._REGISTRIES.get(18)
    assert registry is not None, "the first export caches the registry of its opset"
    second = export_onnx(tiny_cnn().eval(), input_shape=(1, 8, 8), exporter="dynamo")
    assert export_mod._REGISTRIES == {18: registry}, "the second export reuses it"
    assert second.parity_max_abs_diff < 1e-4

    # torch's public call (what a torch without the internal API gets) gives the same graph
    monkeypatch.setattr(export_mod, "_cached_export", lambda model, x, opset: None)
    public = export_onnx(model, input_shape=(1, 8, 8), exporter="dynamo")
    assert public.exporter == "dynamo" and public.parity_max_abs_diff < 1e-4
    assert _graph(public.onnx) == _graph(first.onnx)
