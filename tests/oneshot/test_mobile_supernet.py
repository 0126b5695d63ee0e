"""MobileSupernet: OFA-style elastic kernel / expansion / depth / width slicing is exact."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_nb201_supernet import randomize_bn  # noqa: E402

from raynas.oneshot import MobileSupernet, OneShotError  # noqa: E402
from raynas.search_spaces import InvalidConfigError, MobileBlockSpace  # noqa: E402


def space(**kwargs):
    kwargs.setdefault("input_shape", (1, 8, 8))
    kwargs.setdefault("num_classes", 10)
    kwargs.setdefault("stage_channels", (8, 16))
    kwargs.setdefault("strides", (1, 2))
    kwargs.setdefault("head_channels", 32)
    kwargs.setdefault("expand_ratios", (1, 3, 6))
    kwargs.setdefault("activation", ["relu6", "hswish"])
    return MobileBlockSpace(**kwargs)


def extremes(sp):
    """The smallest and the largest sub-network, every block alike."""
    out = []
    for k, e, w, d, se in ((3, 1, 0.5, 1, False), (7, 6, 1.0, 3, True)):
        block = {"kernel_size": k, "expand_ratio": e, "se": se}
        stage = {"width_mult": w, "blocks": [dict(block) for _ in range(d)]}
        cfg = sp.default_config()
        cfg.update(stages=[dict(stage) for _ in sp.stage_channels])
        out.append(sp.validate(cfg))
    return out


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 40)])
def test_sampled_subnetworks_equal_their_sliced_standalone_modules(shape):
    sp = space(input_shape=shape)
    supernet = randomize_bn(MobileSupernet(sp, seed=0)).eval()
    x = torch.randn(4, *shape, generator=torch.Generator().manual_seed(1))
    rng = np.random.default_rng(0)
    configs = extremes(sp) + [sp.sample(rng) for _ in range(12)]
    outs = []
    for cfg in configs:
        with torch.no_grad():
            a, b = supernet(x, cfg), supernet.extract(cfg)(x)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=lambda m, c=cfg: f"{c}: {m}")
        outs.append(a)
    assert not torch.allclose(outs[0], outs[1])  # different sub-networks differ


def test_sliced_state_dict_loads_strictly_for_many_configs():
    sp = space()
    supernet = MobileSupernet(sp, seed=0)
    rng = np.random.default_rng(1)
    for _ in range(40):
        cfg = sp.sample(rng)
        supernet.load_into(sp.build(cfg), cfg)


def test_kernel_is_the_centre_and_channels_are_leading():
    sp = space()
    supernet = MobileSupernet(sp, seed=0)
    small = extremes(sp)[0]
    big = supernet.stages[1].blocks[0].depthwise.conv.weight  # (mid_max, 1, 7, 7)
    net = supernet.extract(small)
    w = net.stages[1].blocks[0].depthwise.conv.weight  # (mid, 1, 3, 3)
    assert torch.equal(w, big[: w.shape[0], :, 2:5, 2:5])
    proj = net.stages[1].blocks[0].project.conv.weight
    assert torch.equal(
        proj, supernet.stages[1].blocks[0].project.conv.weight[: proj.shape[0], : proj.shape[1]]
    )
    assert len(net.stages[0].blocks) == 1 and len(supernet.stages[0].blocks) == 3


def test_train_mode_path_updates_exactly_the_sliced_running_statistics():
    sp = space()
    supernet = MobileSupernet(sp, seed=0).train()
    cfg = sp.sample(3)
    net = supernet.extract(cfg).train()
    x = torch.randn(8, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(supernet(x, cfg), net(x), atol=1e-5, rtol=0)
    after = supernet.path_state_dict(cfg)
    for k, v in net.state_dict().items():
        if "running" in k:
            torch.testing.assert_close(after[k], v, atol=1e-6, rtol=0)


def test_bad_inputs():
    with pytest.raises(OneShotError, match="`space` must be a MobileBlockSpace, but got int"):
        MobileSupernet(3)
    sp = space()
    supernet = MobileSupernet(sp)
    bad = sp.default_config()
    bad["stages"][0]["blocks"][0]["kernel_size"] = 4
    with pytest.raises(InvalidConfigError, match="kernel_size"):
        supernet(torch.randn(1, 1, 8, 8), bad)
