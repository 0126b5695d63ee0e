"""Quickstart: a KerasTuner-style ``build_model(hp)`` space searched with plain Ray Tune.

The classic KerasTuner MLP example, in PyTorch: 1-3 dense layers of 32..512 units and a learning
rate, turned into a Tune ``param_space`` by ``to_tune()`` and trained for a few epochs on
scikit-learn's digits inside each trial. Prints the best config.

Run:  python examples/quickstart.py [--samples 8] [--epochs 5]
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

from raynas.search_spaces import DefineByRunSpace


def build_model(hp):
    """KerasTuner's example model, written for PyTorch."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 64
    for i in range(hp.Int("num_layers", 1, 3)):
        units = hp.Int(f"units_{i}", min_value=32, max_value=512, step=32)
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, 10))
    hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])
    return nn.Sequential(*layers)


SPACE = DefineByRunSpace(build_model)


def train_digits(config: dict) -> None:
    """A Tune function trainable: build the candidate, train it, report every epoch."""
    epochs = config.get("epochs", 5)
    config = SPACE.validate({k: v for k, v in config.items() if k != "epochs"})
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x / 16.0, y, test_size=0.2, random_state=0, stratify=y
    )
    x_tr, x_va = (torch.tensor(a, dtype=torch.float32).view(-1, 8, 8) for a in (x_tr, x_va))
    y_tr, y_va = torch.tensor(y_tr), torch.tensor(y_va)
    model = SPACE.build(config)
    opt = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    gen = torch.Generator().manual_seed(0)
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in torch.randperm(len(x_tr), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_va)
            acc = (logits.argmax(1) == y_va).float().mean().item()
            loss = nn.functional.cross_entropy(logits, y_va).item()
        tune.report({"val_acc": acc, "val_loss": loss, "epoch": epoch})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8, help="number of candidates")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs per candidate")
    parser.add_argument("--storage", default=None, help="Tune storage path (default ~/ray_results)")
    args = parser.parse_args(argv)

    np.random.seed(0)  # Tune's variant generator draws from numpy's global state
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    param_space = {**SPACE.to_tune(), "epochs": args.epochs}
    print(f"Search space: {list(SPACE.fields)}; {args.samples} candidates x {args.epochs} epochs")
    tuner = tune.Tuner(
        tune.with_resources(train_digits, {"cpu": 1}),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric="val_acc", mode="max", num_samples=args.samples, reuse_actors=True
        ),
        run_config=tune.RunConfig(name="quickstart", storage_path=args.storage, verbose=1),
    )
    best = tuner.fit().get_best_result()
    config = SPACE.validate({k: v for k, v in best.config.items() if k != "epochs"})
    print(f"\nBest config: {config}")
    print(f"Best validation accuracy: {best.metrics['val_acc']:.4f}")
    if started:
        ray.shutdown()
    return config


if __name__ == "__main__":
    main()
