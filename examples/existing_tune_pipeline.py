"""Keep your own trainable and ``tune.Tuner``; add only a raynas searcher, scheduler and
hardware objective.

The user's pipeline below (a plain PyTorch MLP on digits, a Tune function trainable that reports
``val_acc`` every epoch and returns its model) is unchanged apart from three lines marked
``# raynas``: the search space becomes the ``param_space``, a raynas strategy suggests configs
through the Tune ``Searcher`` adapter, multi-objective ASHA stops weak candidates, and the
trained model is measured on the CPU with onnxruntime as a second objective. (A black-box
trainable reports latency only at its end, so the scheduler's rungs compare candidates on
accuracy; raynas's own trainable measures latency first and ranks on both at every rung.)

Run:  python examples/existing_tune_pipeline.py [--samples 8]
"""

from __future__ import annotations

import argparse

import numpy as np
import ray
import torch
from ray import tune
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from raynas.hardware import HardwareObjective, HardwareTarget, with_hardware
from raynas.schedulers import MultiObjectiveASHA
from raynas.search_spaces import Choice, Float, Int, SearchSpace
from raynas.strategies import get_strategy
from raynas.tune import Searcher

# -- the user's existing code ------------------------------------------------------------------
SPACE = SearchSpace(
    {  # raynas: the space the user searched with tune.choice before
        "hidden": Int(16, 256, step=16),
        "depth": Int(1, 3),
        "lr": Float(1e-3, 3e-2, log=True),
        "activation": Choice(["relu", "tanh"]),
    }
)


def build(config: dict) -> nn.Module:
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[config["activation"]]
    layers: list[nn.Module] = [nn.Flatten()]
    width = 64
    for _ in range(config["depth"]):
        layers += [nn.Linear(width, config["hidden"]), act()]
        width = config["hidden"]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def train_digits(config: dict):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x / 16.0, y, test_size=0.2, random_state=0)
    x_tr, x_va = (torch.tensor(a, dtype=torch.float32).view(-1, 1, 8, 8) for a in (x_tr, x_va))
    y_tr, y_va = torch.tensor(y_tr), torch.tensor(y_va)
    model = build(config)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    for epoch in range(1, 5):
        model.train()
        for idx in torch.randperm(len(x_tr)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = (model(x_va).argmax(1) == y_va).float().mean().item()
        tune.report({"val_acc": acc, "epoch": epoch})
    return {"model": model, "val_acc": acc}


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--storage", default=None)
    args = parser.parse_args(argv)
    np.random.seed(0)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    objectives = ["val_acc:max", "latency_p50_ms:min"]
    cpu = HardwareTarget(
        name="cpu", input_shape=(1, 8, 8), min_runs=20, min_seconds=0.2, energy="off"
    )
    hardware = HardwareObjective(cpu, metrics=("latency_p50_ms",), space=SPACE)  # raynas
    strategy = get_strategy("nsga2", space=SPACE, objectives=objectives, seed=0)  # raynas
    scheduler = MultiObjectiveASHA(
        objectives=objectives, max_t=5, grace_period=1, reduction_factor=2
    )  # raynas: max_t = 4 epochs + the final hardware report
    tuner = tune.Tuner(
        with_hardware(train_digits, hardware),  # raynas: measure the returned model
        tune_config=tune.TuneConfig(
            # raynas; budget: stopped trials are told with the fidelity they reached
            search_alg=Searcher(strategy, objectives=objectives, budget=scheduler),
            scheduler=scheduler,
            num_samples=args.samples,
        ),
        run_config=tune.RunConfig(name="existing_pipeline", storage_path=args.storage, verbose=0),
    )
    grid = tuner.fit()
    rows = sorted(
        (
            (r.metrics.get("val_acc"), r.metrics.get("latency_p50_ms"), r.config)
            for r in grid
            if r.metrics
        ),
        key=lambda t: -(t[0] or 0),
    )
    for acc, lat, cfg in rows:
        lat_s = "stopped early" if lat is None else f"{lat:.4f} ms"
        print(f"val_acc={acc:.3f}  latency={lat_s}  {cfg}")
    if started:
        ray.shutdown()
    return grid


if __name__ == "__main__":
    main()
