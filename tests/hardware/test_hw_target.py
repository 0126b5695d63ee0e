from __future__ import annotations

import pickle

import pytest

from raynas.hardware import HardwareTarget, ProviderUnavailableError, TargetError


def test_defaults_and_resource():
    t = HardwareTarget(name="edge-1")
    assert t.resource == "hw:edge-1"
    assert t.provider == "CPUExecutionProvider"
    assert not t.uses_io_binding and t.device_type == "cpu"
    assert HardwareTarget(name="x", resource="hw:jetson").resource == "hw:jetson"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": ""}, r"`name` of HardwareTarget must be a non-empty str .* but got ''"),
        ({"name": "a b"}, r"`name` .* but got 'a b'"),
        (
            {"provider": "CUDA EP"},
            r"`provider` of HardwareTarget must be an onnxruntime .* got 'CUDA EP'",
        ),
        (
            {"provider": "CUDA"},
            r"`provider` 'CUDA' is neither built into this onnxruntime nor a registered plugin; "
            r"built-in providers: \[.*'CPUExecutionProvider'.*\]; plugin providers raynas knows: "
            r"\[.*'OpenVINOExecutionProvider'.*\].* Did you mean 'CUDAExecutionProvider'\?",
        ),
        ({"device": ""}, r"`device` of HardwareTarget must be None or a non-empty str, but got ''"),
        (
            {"intra_op_threads": 0},
            r"`intra_op_threads` of HardwareTarget must be an int >= 1, but got 0",
        ),
        ({"inter_op_threads": 1.5}, r"`inter_op_threads` .* int >= 1, but got 1.5"),
        ({"batch_size": True}, r"`batch_size` .* but got True"),
        ({"warmup_runs": -1}, r"`warmup_runs` .* int >= 0, but got -1"),
        ({"min_runs": 10, "max_runs": 5}, r"`max_runs` .* >= `min_runs` \(10\), but got 5"),
        ({"min_seconds": -1.0}, r"`min_seconds` .* finite number >= 0.0, but got -1.0"),
        ({"timeout_s": 0}, r"`timeout_s` of HardwareTarget must be > 0, but got 0.0"),
        ({"input_shape": (1, 0)}, r"`input_shape` .* positive ints .* but got \(1, 0\)"),
        ({"percentiles": (50, 120)}, r"`percentiles` .* \[0, 100\], but got \(50, 120\)"),
        (
            {"energy": "joulemeter"},
            r"`energy` .* one of \['auto', 'rapl', 'nvml', 'off'\], but got 'joulemeter'",
        ),
        (
            {"quantization": "int4"},
            r"`quantization` .* one of \[None, 'static', 'dynamic'\], but got 'int4'",
        ),
        (
            {"exporter": "jit"},
            r"`exporter` .* one of \['auto', 'dynamo', 'torchscript'\], but got 'jit'",
        ),
        ({"graph_optimization": "max"}, r"`graph_optimization` .* but got 'max'"),
        ({"input_dtype": "uint4"}, r"`input_dtype` .* but got 'uint4'"),
        (
            {"allow_fallback": "yes"},
            r"`allow_fallback` of HardwareTarget must be True or False, but got 'yes'",
        ),
        ({"io_binding": "on"}, r"`io_binding` .* None, True or False, but got 'on'"),
        ({"resource": ""}, r"`resource` .* non-empty str, but got ''"),
        ({"provider_options": 5}, r"`provider_options` .* mapping .* but got 5"),
        (
            {"parity_tolerance": (1e-3,)},
            r"`parity_tolerance` .* None or \(rtol, atol\), two finite numbers >= 0, but got",
        ),
        ({"parity_tolerance": (1e-3, -1)}, r"`parity_tolerance` .* but got \(0.001, -1\)"),
    ],
)
def test_validation_names_field_value_and_rule(kwargs, match):
    with pytest.raises(TargetError, match=match):
        HardwareTarget(**kwargs)


def test_missing_provider_lists_available_ones():
    with pytest.raises(
        ProviderUnavailableError,
        match=r"'CUDAExecutionProvider'.*available providers: \[.*'CPUExecutionProvider'.*\]",
    ):
        HardwareTarget(name="gpu", provider="CUDAExecutionProvider")
    # the same error is a TargetError and a ValueError for callers that catch those
    assert issubclass(ProviderUnavailableError, TargetError)
    assert issubclass(ProviderUnavailableError, ValueError)


def test_fallback_and_remote_targets_are_accepted():
    t = HardwareTarget(name="gpu", provider="CUDAExecutionProvider", allow_fallback=True)
    assert t.check_provider() is False
    assert t.uses_io_binding and t.device_type == "cuda"
    # a device on another node: not checked here, checked where it runs
    r = HardwareTarget(name="jetson", provider="TensorrtExecutionProvider", verify_provider=False)
    with pytest.raises(ProviderUnavailableError, match="TensorrtExecutionProvider"):
        r.check_provider(["CPUExecutionProvider"])
    assert r.check_provider(["TensorrtExecutionProvider"]) is True


def test_parity_tolerance_follows_the_provider_that_runs_the_session():
    fp32, fp16 = (1e-3, 1e-4), (1e-2, 1e-2)
    cuda = HardwareTarget(name="gpu", provider="CUDAExecutionProvider", verify_provider=False)
    assert cuda.tolerance("CUDAExecutionProvider", *fp32) == (1e-2, 1e-3)  # TF32 by default
    assert cuda.tolerance("CUDAExecutionProvider", *fp16) == (1e-2, 1e-2)  # never tighter
    assert cuda.tolerance("CPUExecutionProvider", *fp32) == fp32  # fell back to the CPU
    ieee = HardwareTarget.from_dict(cuda.to_dict(), provider_options={"use_tf32": 0})
    assert ieee.tolerance("CUDAExecutionProvider", *fp32) == fp32
    trt = HardwareTarget(name="trt", provider="TensorrtExecutionProvider", verify_provider=False)
    assert trt.tolerance("TensorrtExecutionProvider", *fp32) == (1e-2, 1e-3)
    own = HardwareTarget(name="cpu", parity_tolerance=[0.05, 0])
    assert own.parity_tolerance == (0.05, 0.0)
    assert own.tolerance("CPUExecutionProvider", *fp32) == (0.05, 0.0)
    assert HardwareTarget.from_dict(own.to_dict()) == own
    # a tolerance changes which candidates are feasible: it is part of the cache key
    assert own.fingerprint() != HardwareTarget(name="cpu").fingerprint()


def test_dict_round_trip_pickle_and_fingerprint():
    t = HardwareTarget(
        name="cpu2", intra_op_threads=2, input_shape=(1, 8, 8), provider_options={"a": 1}
    )
    assert HardwareTarget.from_dict(t.to_dict()) == t
    assert pickle.loads(pickle.dumps(t)) == t
    assert hash(t) == hash(HardwareTarget.from_dict(t.to_dict()))
    assert t.options == {"a": "1"}
    # what changes the meaning of a measurement changes the fingerprint; a timeout does not
    assert t.fingerprint() == HardwareTarget.from_dict(t.to_dict(), timeout_s=5).fingerprint()
    assert (
        t.fingerprint() != HardwareTarget.from_dict(t.to_dict(), intra_op_threads=1).fingerprint()
    )
    assert t.fingerprint() != HardwareTarget.from_dict(t.to_dict(), batch_size=4).fingerprint()


def test_from_dict_refuses_unknown_fields():
    with pytest.raises(
        TargetError,
        match=r"unknown HardwareTarget field\(s\) \['thread'\]; allowed fields: \[.*'intra_op_threads'",
    ):
        HardwareTarget.from_dict({"name": "cpu", "thread": 2})
