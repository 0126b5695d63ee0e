"""SPOS training, BN recalibration, the weight-sharing evaluator and supernet files."""

from __future__ import annotations

import logging

import pytest
from oneshot_helpers import quiet_trainer, tiny_digits, tiny_nb201

torch = pytest.importorskip("torch")

from raynas.oneshot import (  # noqa: E402
    SPOS,
    NB201Supernet,
    OneShotError,
    WeightSharingEvaluator,
    load_supernet,
    recalibrate_batch_norm,
    save_supernet,
    supernet_bytes,
)
from raynas.search_spaces import InvalidConfigError  # noqa: E402

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)


def test_recalibration_gives_the_exact_statistics_of_the_calibration_data():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3))
    net[1].running_mean.fill_(5.0)
    batches = [torch.randn(16, 1, 6, 6) * 2 + 1 for _ in range(3)]
    recalibrate_batch_norm(net, batches)
    assert not net.training
    with torch.no_grad():
        feats = torch.cat([net[0](b) for b in batches])
    torch.testing.assert_close(net[1].running_mean, feats.mean((0, 2, 3)), atol=1e-5, rtol=1e-5)
    assert net[1].momentum == 0.1  # restored


def test_evaluator_scores_without_touching_the_supernet(digits_splits):
    space = tiny_nb201()
    supernet = NB201Supernet(space, seed=0)
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    ev = WeightSharingEvaluator(supernet, digits_splits, calibration_batches=2)
    cfg = space.sample(1)
    first = ev.score(cfg)
    assert set(first) == {"val_acc", "val_loss", "params", "feasible", "reason"}
    assert 0.0 <= first["val_acc"] <= 1.0 and first["feasible"] is True
    assert ev.score({**cfg, "learning_rate": 0.05}) == first  # training values do not matter
    assert ev(cfg) == first
    for k, v in supernet.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(InvalidConfigError, match="`edge_1_0` must be one of"):
        ev.score({**cfg, "edge_1_0": "conv9x9"})


def test_spos_training_makes_the_inherited_weights_better_than_untrained_ones():
    digits_splits = tiny_digits(800)
    space = tiny_nb201()
    spos = SPOS(space, epochs=5, learning_rate=0.1, seed=0)
    untrained = WeightSharingEvaluator(NB201Supernet(space, seed=0), digits_splits)
    quiet_trainer(max_epochs=5).fit(
        spos,
        train_dataloaders=digits_splits.loader("train", batch_size=32, shuffle=True),
        val_dataloaders=digits_splits.loader("val", batch_size=256),
    )
    cfg = space.from_arch_str(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    trained = WeightSharingEvaluator(spos, digits_splits).score(cfg)["val_acc"]
    assert trained > untrained.score(cfg)["val_acc"] + 0.1
    assert spos.summary["epoch"] == 5


def test_supernet_files_round_trip(tmp_path, digits_splits):
    space = tiny_nb201()
    supernet = NB201Supernet(space, seed=2)
    save_supernet(supernet, tmp_path / "supernet.pt")
    cfg = space.sample(0)
    ref = WeightSharingEvaluator(supernet, digits_splits).score(cfg)
    for source in (tmp_path / "supernet.pt", str(tmp_path), supernet_bytes(supernet)):
        loaded = load_supernet(source)
        assert type(loaded) is NB201Supernet
        assert WeightSharingEvaluator(loaded, digits_splits).score(cfg) == ref
    with pytest.raises(OneShotError, match="does not exist"):
        load_supernet(tmp_path / "missing.pt")
    with pytest.raises(OneShotError, match="must be a path, a Tune Checkpoint"):
        load_supernet(42)


def test_evaluator_rejects_bad_arguments(digits_splits):
    supernet = NB201Supernet(tiny_nb201())
    with pytest.raises(OneShotError, match="`supernet` must be an NB201Supernet"):
        WeightSharingEvaluator(torch.nn.Linear(2, 2), digits_splits)
    with pytest.raises(
        OneShotError, match=r"`part` must be one of \['val', 'test'\], but got 'train'"
    ):
        WeightSharingEvaluator(supernet, digits_splits, part="train")
    with pytest.raises(OneShotError, match="`calibration_batches` must be an int >= 1, but got 0"):
        WeightSharingEvaluator(supernet, digits_splits, calibration_batches=0)
