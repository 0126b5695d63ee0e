"""Check raynas's GPU paths on a machine with an NVIDIA GPU (CI has none, so this is run by hand).

Three parts, each printing what it saw and failing loudly when a check does not hold::

    python benchmarks/gpu_paths.py --parts nvml provider search ddp darts

- ``nvml``: the hardware module's :class:`~raynas.hardware._energy.NvmlMeter`, read through the
  same protocol as a measurement (idle window, then timed runs with the meter around them), on a
  bf16 matrix-product load. Its power (joules / seconds) is printed next to the driver's power
  readings sampled every 20 ms over the same windows, as a ratio (the baseline): a unit or
  counter mistake shows as a ratio far from 1.
- ``provider``: ``HardwareTarget(provider="CUDAExecutionProvider")`` against this onnxruntime
  build: refused with the available providers listed when the build lacks it (the CPU-only
  ``onnxruntime`` wheel), measured with the provider recorded when it has it or on fallback.
- ``search``: a hardware-aware NAS-Bench-201 search on digits whose trials each ask for
  ``--gpus`` of a GPU (``--gpus 0`` runs the same search on CPUs, for a dry run); every candidate
  must have trained on the device it was given (an objective hook reports where its weights are).
- ``ddp``: one candidate trained data-parallel (``DataParallelTrainable``) by one GPU worker
  (two CPU workers with ``--gpus 0``) inside a Tune trial; it must report from CUDA.
- ``darts``: one DARTS supernet search as a Tune trial holding a whole GPU (a CPU with
  ``--gpus 0``); the Lightning module must have run on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from typing import Any


def _fail(msg: str) -> None:
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def part_nvml(seconds: float) -> None:
    import torch

    from raynas.hardware._energy import NvmlMeter, measure_idle_power
    from raynas.hardware._protocol import timed_runs

    meter = NvmlMeter()
    if not meter.available():
        _fail(f"NVML meter unavailable: {meter.reason}")
    nvml, handle = meter._nvml, meter._handle
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:  # the driver's power reading (mW), every 20 ms
        while not stop.is_set():
            samples.append((time.perf_counter(), nvml.nvmlDeviceGetPowerUsage(handle) / 1e3))
            time.sleep(0.02)

    def sampled_w(t0: float, t1: float) -> float:
        inside = [w for t, w in samples if t0 <= t <= t1]
        return sum(inside) / len(inside)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        t0 = time.perf_counter()
        idle_w = measure_idle_power(meter, seconds)
        t1 = time.perf_counter()
        if idle_w is None:
            _fail(f"idle window unreadable: {meter.reason}")
        idle_sampled = sampled_w(t0, t1)

        a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)

        def run() -> None:
            for _ in range(8):
                a @ b
            torch.cuda.synchronize()

        for _ in range(20):  # warm up, and let the 1 s power average settle on the load
            run()
        t0 = time.perf_counter()
        times = timed_runs(run, min_runs=10, min_seconds=seconds, max_runs=10**6, meter=meter)
        t1 = time.perf_counter()
    finally:
        stop.set()
        sampler.join()
    joules, elapsed = times["joules"], times["elapsed"]
    if joules is None:
        _fail(f"load window unreadable: {meter.reason}")
    load_w = joules / elapsed
    load_sampled = sampled_w(t0, t1)
    net_j = (joules - idle_w * elapsed) / len(times["ms"])
    tflops = 8 * 2 * 8192**3 * len(times["ms"]) / elapsed / 1e12
    print(f"GPU: {torch.cuda.get_device_name(0)}; {len(samples)} power samples")
    print("| window | NVML meter W | sampled W | ratio meter/sampled |")
    print("| --- | --- | --- | --- |")
    for window, meter_w, driver_w in (
        (f"idle {seconds:.0f} s", idle_w, idle_sampled),
        (f"load {elapsed:.1f} s", load_w, load_sampled),
    ):
        print(f"| {window} | {meter_w:.1f} | {driver_w:.1f} | {meter_w / driver_w:.3f} |")
    print(f"load: {tflops:.0f} TFLOP/s bf16, {net_j:.3f} J per run of 8 products over idle")
    for name, ratio in (("idle", idle_w / idle_sampled), ("load", load_w / load_sampled)):
        if not 0.8 <= ratio <= 1.25:
            _fail(f"{name}: the meter's power is {ratio:.3f}x the driver's power readings")
    if load_w < 1.5 * idle_w:
        _fail(
            f"the load ({load_w:.0f} W) did not raise the meter's power over idle ({idle_w:.0f} W)"
        )


def part_provider() -> None:
    import onnxruntime as ort
    import torch

    from raynas.hardware import HardwareTarget, measure
    from raynas.hardware.errors import ProviderUnavailableError

    avail = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__}: {avail}")
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    common: dict[str, Any] = dict(input_shape=(64,), min_runs=20, min_seconds=0.2)
    if "CUDAExecutionProvider" in avail:
        m = measure(model, HardwareTarget(name="cuda", provider="CUDAExecutionProvider", **common))
        print(f"CUDA EP: {m}")
        if m.provider != "CUDAExecutionProvider" or not m.feasible:
            _fail(f"the CUDA provider was not used: {m}")
        return
    try:
        HardwareTarget(name="cuda", provider="CUDAExecutionProvider", **common)
    except ProviderUnavailableError as exc:
        print(f"refused as expected: {exc}")
        if str(avail) not in str(exc):
            _fail("the error does not list the available providers")
    else:
        _fail("a provider missing from this onnxruntime build was accepted")
    m = measure(
        model,
        HardwareTarget(
            name="cuda",
            provider="CUDAExecutionProvider",
            allow_fallback=True,
            energy="off",
            **common,
        ),
    )
    print(f"fallback: provider used {m.provider}, p50 {m.p50_ms:.4f} ms, feasible {m.feasible}")
    if m.provider != "CPUExecutionProvider" or not m.feasible:
        _fail(f"fallback was not recorded: {m}")


def _device_hook(model: Any, config: dict[str, Any]) -> dict[str, str]:
    return {"device": str(next(model.parameters()).device)}


def part_search(gpus: float, budget: int) -> None:
    import ray

    import raynas
    from raynas.hardware import HardwareTarget

    resources: dict[str, float] = {"cpu": 1}
    if gpus:
        resources["gpu"] = gpus
    cpus = max(2, int(budget if not gpus else min(budget, 1 / gpus)))
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    print(f"Ray resources: {ray.cluster_resources()}")
    with tempfile.TemporaryDirectory() as storage:
        t0 = time.perf_counter()
        results = raynas.search(
            "nb201",
            "digits",
            objectives=["val_acc:max", "latency_p50_ms:min"],
            strategy="nsga2",
            hardware=[HardwareTarget(name="cpu", intra_op_threads=1, min_seconds=0.2)],
            budget=budget,
            max_epochs=2,
            resources_per_trial=resources,
            trainable_kwargs={"objectives": [_device_hook]},
            storage_path=storage,
            name="gpu_paths",
            seed=0,
            verbose=0,
        )
        wall = time.perf_counter() - t0
        rows = results.to_dataframe()
    ray.shutdown()
    want = "cuda" if gpus else "cpu"
    devices = list(rows["device"]) if "device" in rows else []
    print(f"{len(rows)} candidates in {wall:.0f} s, resources per trial {resources}")
    print(rows[["device", "val_acc", "latency_p50_ms", "feasible"]].to_string())
    if not all(rows["feasible"]):
        _fail(f"infeasible candidates: {list(rows.loc[~rows['feasible'].astype(bool), 'reason'])}")
    if len(devices) != budget or not all(str(d).startswith(want) for d in devices):
        _fail(f"expected {budget} candidates trained on {want}, got {devices}")


def _one_trial(
    trainable: Any, config: dict[str, Any], what: str, num_cpus: int
) -> tuple[float, dict[str, Any]]:
    """Run one Tune trial on a fresh local Ray; its wall time and last metrics."""
    import ray
    from ray import tune

    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as storage:
        t0 = time.perf_counter()
        grid = tune.Tuner(
            trainable,
            param_space=config,
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        ).fit()
        wall = time.perf_counter() - t0
        errors = grid.errors
        metrics = grid[0].metrics if len(grid) else {}
    ray.shutdown()
    if errors:
        _fail(f"the {what} trial failed: {errors}")
    return wall, metrics


def part_ddp(gpu: bool) -> None:
    from raynas.evaluation import DataParallelTrainable
    from raynas.search_spaces import MLPSpace

    space = MLPSpace(input_shape=(1, 8, 8), num_classes=10)
    trainable = DataParallelTrainable(
        space,
        "digits",
        num_workers=1 if gpu else 2,
        use_gpu=gpu,
        cpus_per_worker=1,
        max_epochs=2,
        objectives=[_device_hook],
    )
    wall, metrics = _one_trial(trainable, space.default_config(), "data-parallel", num_cpus=4)
    device = str(metrics.get("device"))
    print(
        f"data-parallel trial: {wall:.0f} s, trained on {device}, val_acc "
        f"{metrics.get('val_acc')}, feasible {metrics.get('feasible')}"
    )
    if not device.startswith("cuda" if gpu else "cpu") or not metrics.get("feasible"):
        _fail(f"expected a feasible candidate trained on {'cuda' if gpu else 'cpu'}: {metrics}")


def part_darts(gpu: bool) -> None:
    import pytorch_lightning as pl
    from ray import tune

    from raynas.oneshot import supernet_trainable
    from raynas.search_spaces import NB201CellSpace

    seen = os.path.join(tempfile.mkdtemp(), "device.txt")

    class Where(pl.Callback):
        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            with open(seen, "w") as f:
                f.write(str(pl_module.device))

    trainable = tune.with_resources(
        tune.with_parameters(
            supernet_trainable,
            space=NB201CellSpace(
                input_shape=(1, 8, 8), num_classes=10, channels=8, cells_per_stage=1
            ),
            data="digits",
            callbacks=[Where()],
        ),
        {"cpu": 1, "gpu": 1} if gpu else {"cpu": 1},
    )
    config = {"method": "darts", "epochs": 2, "batch_size": 64}
    wall, metrics = _one_trial(trainable, config, "DARTS", num_cpus=2)
    device = open(seen).read() if os.path.exists(seen) else "(not reported)"
    print(
        f"DARTS trial: {wall:.0f} s, supernet on {device}, metrics: "
        f"{ {k: v for k, v in metrics.items() if k in ('epoch', 'val_acc', 'arch')} }"
    )
    if not device.startswith("cuda" if gpu else "cpu"):
        _fail(f"the supernet trained on {device}, not on the trial's {'GPU' if gpu else 'CPU'}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parts = ["nvml", "provider", "search", "ddp", "darts"]
    p.add_argument("--parts", nargs="+", default=parts, choices=parts)
    p.add_argument("--seconds", type=float, default=4.0, help="idle and load window (nvml)")
    p.add_argument("--gpus", type=float, default=0.25, help="GPU share per trial (search)")
    p.add_argument("--budget", type=int, default=8, help="candidates (search)")
    args = p.parse_args(argv)
    for part in args.parts:
        print(f"## {part}", flush=True)
        t0 = time.perf_counter()
        if part == "nvml":
            part_nvml(args.seconds)
        elif part == "provider":
            part_provider()
        elif part == "search":
            part_search(args.gpus, args.budget)
        elif part == "ddp":
            part_ddp(args.gpus > 0)
        else:
            part_darts(args.gpus > 0)
        print(f"ok ({time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
