"""Weight transfer between networks of one space: copy, slice, pad, Net2Net widening.

Networks come from the built-in ``MLPSpace`` and ``MobileBlockSpace`` (their documented module
names: ``layers.<i>.linear``/``.bn``, ``head``; ``stages.<s>.blocks.<b>.expand``/``.depthwise``/
``.se``/``.project``, ``classifier``).
"""

from __future__ import annotations

import copy

import pytest
import torch
from sched_nets import warm_up
from torch import nn

from raynas.schedulers import TransferError, morph, transfer_weights, unit_groups
from raynas.search_spaces import MLPSpace, MobileBlockSpace

DIGIT = (1, 8, 8)
EX = torch.zeros(2, *DIGIT)
TRAIN = {"learning_rate": 0.01, "weight_decay": 1e-4, "batch_size": 32}


def _mlp_cfg(widths, *, batch_norm=True, dropout=0.2):
    return {"layers": [{"width": w} for w in widths], "activation": "relu",
            "dropout": dropout, "batch_norm": batch_norm, **TRAIN}  # fmt: skip


def _mlp(widths, seed=0, *, batch_norm=True, dropout=0.0):
    space = MLPSpace(input_shape=DIGIT, num_classes=10, width=[4, 8, 16, 20, 24, 32, 40, 48])
    return space.build(_mlp_cfg(widths, batch_norm=batch_norm, dropout=dropout), seed=seed)


def _x(n=16, shape=DIGIT):
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("batch_norm", [True, False])
def test_widening_an_mlp_layer_keeps_the_outputs(batch_norm) -> None:
    old = warm_up(_mlp([32, 16], batch_norm=batch_norm, dropout=0.2), DIGIT)
    new = _mlp([48, 16], seed=1, batch_norm=batch_norm, dropout=0.2)
    report = transfer_weights(old, new, example_input=EX)
    new.eval()
    x = _x()
    torch.testing.assert_close(new(x), old(x), atol=1e-5, rtol=0)
    assert report.function_preserving
    assert "layers.0.linear.weight" in report.widened and "layers.1.linear.weight" in report.widened
    assert "head.weight" in report.copied
    # the first 32 units are the old ones; every new unit replicates one of them
    w_old, w_new = old.layers[0].linear.weight, new.layers[0].linear.weight
    torch.testing.assert_close(w_new[:32], w_old)
    for j in range(32, 48):
        assert any(torch.equal(w_new[j], w_old[i]) for i in range(32))


def test_widening_several_layers_in_training_mode_keeps_the_outputs() -> None:
    old = warm_up(_mlp([16, 8, 8]), DIGIT)
    new = _mlp([40, 8, 24], seed=3)
    report = transfer_weights(old, new, example_input=EX, seed=7)
    old.train(), new.train()  # batch statistics: replicated channels have the same ones
    x = _x(64)
    torch.testing.assert_close(new(x), old(x), atol=1e-5, rtol=0)
    assert report.function_preserving


def test_narrowed_layer_keeps_the_sliced_weights() -> None:
    old = warm_up(_mlp([32, 16]), DIGIT)
    new = _mlp([20, 16], seed=1)
    report = transfer_weights(old, new, example_input=EX)
    for p in ("linear.weight", "linear.bias", "bn.weight", "bn.bias", "bn.running_mean"):
        got = (
            new.layers[0].get_parameter(p) if "running" not in p else new.layers[0].bn.running_mean
        )
        want = (
            old.layers[0].get_parameter(p) if "running" not in p else old.layers[0].bn.running_mean
        )
        torch.testing.assert_close(got, want[:20])
    # the consumer keeps the columns of the kept units
    torch.testing.assert_close(new.layers[1].linear.weight, old.layers[1].linear.weight[:, :20])
    torch.testing.assert_close(new.head.weight, old.head.weight)
    assert "layers.0.linear.weight" in report.narrowed and not report.function_preserving


def test_pad_mode_keeps_the_initialisation_of_new_units() -> None:
    old = warm_up(_mlp([16, 8]), DIGIT)
    new = _mlp([24, 8], seed=1)
    init = new.layers[0].linear.weight.detach().clone()
    report = transfer_weights(old, new, example_input=EX, mode="pad")
    torch.testing.assert_close(new.layers[0].linear.weight[:16], old.layers[0].linear.weight)
    torch.testing.assert_close(new.layers[0].linear.weight[16:], init[16:])
    assert "layers.0.linear.weight" in report.padded and not report.function_preserving


def test_noise_perturbs_only_the_replicas() -> None:
    old = warm_up(_mlp([16, 8]), DIGIT)
    exact, noisy = _mlp([24, 8], seed=1), _mlp([24, 8], seed=1)
    transfer_weights(old, exact, example_input=EX, seed=3)
    report = transfer_weights(old, noisy, example_input=EX, seed=3, noise=0.05)
    assert "layers.0.linear.weight" in report.perturbed and not report.function_preserving
    w_exact, w_noisy = exact.layers[0].linear.weight, noisy.layers[0].linear.weight
    torch.testing.assert_close(w_noisy[:16], w_exact[:16])
    assert not torch.allclose(w_noisy[16:], w_exact[16:])
    exact.eval(), noisy.eval()
    x = _x()
    diff = (exact(x) - noisy(x)).abs().max().item()
    assert 0 < diff < 0.5


def test_a_new_layer_starts_fresh_and_the_others_are_copied() -> None:
    old = warm_up(_mlp([16, 16]), DIGIT)
    new = _mlp([16, 16, 16], seed=1)
    fresh_init = new.layers[2].linear.weight.detach().clone()
    report = transfer_weights(old, new, example_input=EX)
    assert set(report.fresh) >= {"layers.2.linear.weight", "layers.2.linear.bias"}
    torch.testing.assert_close(new.layers[2].linear.weight, fresh_init)
    torch.testing.assert_close(new.layers[1].linear.weight, old.layers[1].linear.weight)
    assert not report.function_preserving
    # and the other way: a removed layer is reported as dropped
    back = _mlp([16, 16], seed=2)
    assert "layers.2.linear.weight" in transfer_weights(new, back, example_input=EX).dropped


MOBILE = MobileBlockSpace(
    input_shape=DIGIT,
    num_classes=10,
    stage_channels=(8, 16),
    strides=(1, 2),
    max_depth=2,
    kernel_sizes=(3, 5),
    expand_ratios=(1, 3, 6),
    width_mults=(1.0, 2.0),
    head_channels=32,
)
MB = {"stages": [
        {"width_mult": 1.0, "blocks": [{"kernel_size": 3, "expand_ratio": 3, "se": True},
                                       {"kernel_size": 3, "expand_ratio": 3, "se": False}]},
        {"width_mult": 1.0, "blocks": [{"kernel_size": 3, "expand_ratio": 3, "se": True}]}],
      "activation": "relu6", **TRAIN}  # fmt: skip


def _mobile(change=None, seed=0):
    cfg = copy.deepcopy(MB)
    if change:
        change(cfg)
    return MOBILE.build(cfg, seed=seed)


def _block(s, b, **kw):
    return lambda cfg: cfg["stages"][s]["blocks"][b].update(kw)


@pytest.mark.parametrize(
    "change",
    [
        _block(0, 0, expand_ratio=6),  # hidden channels: Net2Net through depthwise + SE
        _block(1, 0, expand_ratio=6),
        _block(0, 1, kernel_size=5),  # the 3x3 kernel zero-padded in a 5x5 one
        lambda cfg: cfg["stages"][1].update(width_mult=2.0),  # last stage: widens into the head
    ],
    ids=["expand-se", "expand-stage2", "kernel", "stage-width"],
)
def test_mobile_block_changes_that_keep_the_function(change) -> None:
    old = warm_up(_mobile(), DIGIT)
    new = _mobile(change, seed=1)
    report = transfer_weights(old, new, example_input=EX)
    new.eval()
    x = _x()
    torch.testing.assert_close(new(x), old(x), atol=1e-5, rtol=0)
    assert report.function_preserving, report
    assert report.widened


def test_mobile_kernel_shrinks_to_its_centre_and_se_starts_fresh() -> None:
    old = warm_up(_mobile(_block(0, 0, kernel_size=5)), DIGIT)
    new = _mobile(_block(0, 1, se=True), seed=1)
    report = transfer_weights(old, new, example_input=EX)
    prefix = "stages.0.blocks.0.depthwise.conv"
    torch.testing.assert_close(
        new.get_parameter(f"{prefix}.weight"), old.get_parameter(f"{prefix}.weight")[:, :, 1:4, 1:4]
    )
    assert f"{prefix}.weight" in report.narrowed
    assert {"stages.0.blocks.1.se.reduce.weight", "stages.0.blocks.1.se.expand.weight"} <= set(
        report.fresh
    )


def test_mobile_residual_that_appears_or_disappears_is_reported_as_rewired() -> None:
    # stem (16 channels) -> stage 0 (8 channels): only block 1 is residual. At width 2.0 the
    # stage has 16 channels, block 0 becomes residual and ties the stem to the stage.
    narrow = warm_up(_mobile(), DIGIT)
    wide = _mobile(lambda cfg: cfg["stages"][0].update(width_mult=2.0), seed=1)
    report = transfer_weights(narrow, wide, example_input=EX)
    assert any("joins 2 old dimensions" in r for r in report.rewired)
    assert not report.function_preserving
    w = "stages.0.blocks.1.project.bn.weight"
    assert w in report.padded  # carried over into the leading units, not replicated
    torch.testing.assert_close(wide.get_parameter(w)[:8], narrow.get_parameter(w))
    back = _mobile(seed=2)
    report = transfer_weights(warm_up(wide, DIGIT), back, example_input=EX)
    assert any("splits into 2" in r for r in report.rewired)
    assert not report.function_preserving


def test_mobile_block_without_expansion_drops_the_expand_layer() -> None:
    old = warm_up(_mobile(), DIGIT)
    new = _mobile(_block(0, 1, expand_ratio=1), seed=1)
    report = transfer_weights(old, new, example_input=EX)
    assert "stages.0.blocks.1.expand.conv.weight" in report.dropped
    assert not report.function_preserving


def test_units_mixed_by_layernorm_are_padded_not_replicated() -> None:
    def net(w):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, w), nn.LayerNorm(w), nn.ReLU(), nn.Linear(w, 2))

    old, new = net(6), net(9)
    report = transfer_weights(old, new, example_input=torch.zeros(2, 4))
    assert "0.weight" in report.padded
    assert any("LayerNorm normalizes across units" in o for o in report.opaque)


def test_untraceable_network_falls_back_to_shapes() -> None:
    class Branchy(nn.Module):
        def __init__(self, w: int) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, w), nn.Linear(w, 2)

        def forward(self, x):
            if x.sum() > 0:  # data-dependent: torch.fx cannot trace it
                x = -x
            return self.b(self.a(x))

    old, new = Branchy(3), Branchy(5)
    report = transfer_weights(old, new, example_input=torch.zeros(2, 4))
    assert "torch.fx could not trace" in report.note
    assert "a.weight" in report.padded and not report.function_preserving
    torch.testing.assert_close(new.a.weight[:3], old.a.weight)


def test_unit_groups_of_an_mlp() -> None:
    groups = unit_groups(_mlp([32, 16]), EX)
    hidden = [g for g in groups if not g["opaque"]]
    assert [g["size"] for g in hidden] == [32, 16]
    assert ("layers.1.linear.weight", 1, "in") in hidden[0]["members"]
    assert ("layers.0.bn.running_var", 0, "unit") in hidden[0]["members"]


def test_morph_builds_the_new_config_and_transfers() -> None:
    space = MLPSpace(input_shape=DIGIT, num_classes=10)
    old_cfg = space.validate(_mlp_cfg([16, 32]))
    new_cfg = dict(old_cfg, layers=[{"width": 48}, {"width": 32}])
    old = warm_up(space.build(old_cfg, seed=0), DIGIT)
    new, report = morph(space, old, old_cfg, new_cfg, seed=0)
    new.eval()
    x = _x()
    torch.testing.assert_close(new(x), old(x), atol=1e-5, rtol=0)
    assert report.function_preserving
    # from a state_dict only (as in a checkpoint): the old network is rebuilt for the analysis
    new2, report2 = morph(space, old.state_dict(), old_cfg, new_cfg, seed=0)
    new2.eval()
    torch.testing.assert_close(new2(x), old(x), atol=1e-5, rtol=0)
    assert report2.function_preserving


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "copy"}, r"`mode` must be one of \['net2net', 'pad'\], but got 'copy'"),
        ({"noise": -1.0}, r"`noise` must be a number >= 0, but got -1.0"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, match) -> None:
    with pytest.raises(TransferError, match=match):
        transfer_weights(_mlp([4]), _mlp([4]), **kwargs)


def test_bad_networks_are_refused() -> None:
    with pytest.raises(TransferError, match=r"`new` must be a torch.nn.Module, but got dict"):
        transfer_weights(_mlp([4]), {})  # type: ignore[arg-type]
    with pytest.raises(TransferError, match=r"`old` must be a torch.nn.Module or a state_dict"):
        transfer_weights(3, _mlp([4]))  # type: ignore[arg-type]
    with pytest.raises(TransferError, match=r"`space` must have a `build\(config\)` method"):
        morph(object(), _mlp([4]), {}, {})
