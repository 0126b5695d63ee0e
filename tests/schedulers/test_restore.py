"""NASTrainable's restore path with ArchitecturePBT: a donor checkpoint of another architecture."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from raynas.evaluation import EvaluationSettings, InMemoryReporter, run_candidate
from raynas.schedulers._restore import adapt_checkpoint
from raynas.search_spaces import MLPSpace

SPACE = MLPSpace(input_shape=(1, 8, 8), num_classes=10, width=[16, 32, 64], max_layers=2)
BASE = {"activation": "relu", "dropout": 0.0, "batch_norm": True, "learning_rate": 0.01,
        "weight_decay": 1e-5, "batch_size": 64, "seed": 1}  # fmt: skip
NARROW = {**BASE, "layers": [{"width": 32}]}
WIDE = {**BASE, "layers": [{"width": 64}]}


@pytest.fixture(scope="module")
def digits():
    from raynas.data import DigitsDataModule

    return DigitsDataModule()


@pytest.fixture(scope="module")
def donor(digits, tmp_path_factory):
    """A narrow candidate trained for 2 epochs: its reports and its last checkpoint folder."""
    reporter = InMemoryReporter(checkpoint_root=str(tmp_path_factory.mktemp("donor")))
    run_candidate(NARROW, space=SPACE, datamodule=digits, reporter=reporter,
                  settings=EvaluationSettings(max_epochs=2), num_threads=1)  # fmt: skip
    return reporter


def _net(config, ckpt_file):
    net = SPACE.build({k: v for k, v in config.items() if k in SPACE.fields}, seed=0)
    state = torch.load(ckpt_file, weights_only=False)["state_dict"]
    net.load_state_dict({k[len("model.") :]: v for k, v in state.items()})
    return net.eval()


def test_adapted_checkpoint_holds_a_function_preserving_wider_network(donor, tmp_path) -> None:
    src = os.path.join(donor.checkpoints[-1], "candidate.ckpt")
    path = tmp_path / "restore.ckpt"
    shutil.copy(src, path)
    wide = SPACE.build({k: v for k, v in WIDE.items() if k in SPACE.fields}, seed=5)
    report = adapt_checkpoint(
        path, space=SPACE, network=wide, example_input=torch.zeros(2, 1, 8, 8), noise=0.0
    )
    assert report is not None and report.function_preserving, report
    ckpt = torch.load(path, weights_only=False)
    assert ckpt["optimizer_states"][0]["state"] == {}  # momenta of other shapes are dropped
    assert ckpt["raynas"]["transfer"] == report.summary()
    x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(_net(WIDE, path)(x), _net(NARROW, src)(x), atol=1e-5, rtol=0)


def test_a_checkpoint_of_the_same_architecture_is_left_alone(donor, tmp_path) -> None:
    path = tmp_path / "restore.ckpt"
    shutil.copy(os.path.join(donor.checkpoints[-1], "candidate.ckpt"), path)
    before = path.read_bytes()
    net = SPACE.build({k: v for k, v in NARROW.items() if k in SPACE.fields}, seed=5)
    assert adapt_checkpoint(path, space=SPACE, network=net) is None
    assert path.read_bytes() == before


def test_run_candidate_continues_a_donor_in_a_mutated_architecture(donor, digits) -> None:
    reporter = InMemoryReporter(resume_from=donor.checkpoints[-1])
    run_candidate(WIDE, space=SPACE, datamodule=digits, reporter=reporter,
                  settings=EvaluationSettings(max_epochs=4), num_threads=1)  # fmt: skip
    assert [r["epoch"] for r in reporter.reports] == [3, 4]  # the donor's epochs count
    assert all(r["feasible"] for r in reporter.reports), reporter.reports
    wide_params = sum(p.numel() for p in SPACE.build(SPACE.validate(
        {k: v for k, v in WIDE.items() if k in SPACE.fields})).parameters())  # fmt: skip
    assert reporter.reports[0]["params"] == wide_params
    # it starts from the donor's knowledge, not from scratch: one more epoch keeps it as good
    assert reporter.reports[0]["val_acc"] >= donor.reports[-1]["val_acc"] - 0.05
    ckpt = torch.load(os.path.join(reporter.checkpoints[-1], "candidate.ckpt"), weights_only=False)
    assert ckpt["raynas"]["config"]["layers"] == [{"width": 64}]
