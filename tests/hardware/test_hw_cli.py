from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hw_fakes import relu_onnx

from raynas.cli import SUBCOMMANDS, build_parser, main


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "relu.onnx"
    path.write_bytes(relu_onnx(width=8, batch=2))
    return str(path)


FAST = ["--runs", "3", "--warmup", "0", "--min-seconds", "0", "--energy", "off"]


def test_measure_prints_a_table(model_path, capsys):
    rc = main(
        ["measure", model_path, "--provider", "CPUExecutionProvider", "--threads", "1", *FAST]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "latency p50 [ms]" in out and "latency p90 [ms]" in out
    assert "provider               CPUExecutionProvider (requested CPUExecutionProvider)" in out
    assert "batch size             2" in out  # the model's static batch
    assert "threads (intra/inter)  1/1" in out


def test_measure_json(model_path, capsys):
    assert main(["measure", model_path, "--json", "--threads", "2", *FAST]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["feasible"] is True and data["intra_op_threads"] == 2 and data["runs"] >= 3


def test_measure_errors_name_the_problem(model_path, capsys):
    assert main(["measure", model_path, "--provider", "CUDAExecutionProvider", *FAST]) == 2
    err = capsys.readouterr().err
    assert (
        "raynas measure: error: `provider` of HardwareTarget `cli` is 'CUDAExecutionProvider'"
        in err
    )
    assert "available providers: [" in err
    assert main(["measure", model_path, "--batch", "3", *FAST]) == 2
    assert "is 3, but the model's input `x` has a static batch of 2" in capsys.readouterr().err
    assert main(["measure", model_path + ".missing", *FAST]) == 2
    assert "which is not a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["measure", "m.onnx", "--threads", "0"],
            "argument --threads: must be a positive integer, but got '0'",
        ),
        (
            ["measure", "m.onnx", "--input-shape", "1,a"],
            "argument --input-shape: must be positive integers",
        ),
        (
            ["measure", "m.onnx", "--provider-option", "novalue"],
            "argument --provider-option: must look like KEY=VALUE",
        ),
        (
            ["measure", "m.onnx", "--energy", "joules"],
            "argument --energy: invalid choice: 'joules'",
        ),
        (["fly"], "argument COMMAND: invalid choice: 'fly'"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_subcommand_table_is_extensible():
    assert set(SUBCOMMANDS) >= {"measure"}
    help_text, add_args, handler = SUBCOMMANDS["measure"]
    assert "measure" in help_text and callable(add_args) and callable(handler)
    assert "measure" in build_parser().format_help()


def test_python_dash_m_raynas(model_path):
    out = subprocess.run(
        [sys.executable, "-m", "raynas", "measure", model_path, *FAST],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "latency p50 [ms]" in out.stdout


def test_importing_the_package_stays_light():
    code = (
        "import sys, raynas.hardware as hw; "
        "t = hw.HardwareTarget; m = hw.Measurement; c = hw.MeasurementCache; "
        "print(sorted(k for k in ('torch', 'onnxruntime', 'onnx', 'ray') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_list_providers_shows_built_ins_plugins_and_devices(capsys):
    assert main(["measure", "--list-providers"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["provider", "kind", "devices", "package", "/", "library"]
    cpu = next(line for line in lines if line.startswith("CPUExecutionProvider "))
    assert cpu.split()[1:3] == ["built-in", "CPU"]
    ov = next(line for line in lines if line.startswith("OpenVINOExecutionProvider "))
    assert "plugin" in ov and "onnxruntime-ep-openvino" in ov


def test_measure_with_a_device_prints_it(model_path, capsys):
    assert main(["measure", model_path, "--device", "CPU", *FAST]) == 0
    out = capsys.readouterr().out
    assert "device                    CPU" in out
    assert "graph nodes per provider  CPUExecutionProvider: 1" in out


def test_measure_with_a_device_the_provider_lacks(model_path, capsys):
    assert main(["measure", model_path, "--device", "NPU", *FAST]) == 2
    err = capsys.readouterr().err
    assert "`device` of the target is 'NPU', which `provider` 'CPUExecutionProvider'" in err
    assert "its devices: ['CPU']" in err


def test_measure_without_a_model(capsys):
    assert main(["measure"]) == 2
    assert "the `model` argument (an ONNX file) is required, unless --list-providers" in (
        capsys.readouterr().err
    )
