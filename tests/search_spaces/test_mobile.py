"""MobileBlockSpace: per-block and per-stage decisions, the built MBConv network, errors."""

from __future__ import annotations

import pytest

from raynas.search_spaces import Int, InvalidConfigError, MobileBlockSpace, SpaceDefinitionError

torch = pytest.importorskip("torch")


def small(**kwargs):
    kwargs.setdefault("input_shape", (1, 8, 8))
    kwargs.setdefault("num_classes", 10)
    kwargs.setdefault("stage_channels", (8, 16, 16))
    kwargs.setdefault("strides", (1, 2, 2))
    kwargs.setdefault("stem_channels", 8)
    kwargs.setdefault("head_channels", 32)
    kwargs.setdefault("channel_divisor", 4)
    return MobileBlockSpace(**kwargs)


def block(k=3, e=3, se=False):
    return {"kernel_size": k, "expand_ratio": e, "se": se}


def test_samples_respect_depth_bounds_and_choices():
    space = small(min_depth=2, max_depth=3, kernel_sizes=[3, 7], expand_ratios=[4])
    depths, kernels = set(), set()
    for seed in range(30):
        config = space.sample(seed)
        assert len(config["stages"]) == 3
        for stage in config["stages"]:
            depths.add(len(stage["blocks"]))
            assert stage["width_mult"] in (0.5, 0.75, 1.0)
            for b in stage["blocks"]:
                kernels.add(b["kernel_size"])
                assert b["expand_ratio"] == 4
    assert depths == {2, 3} and kernels == {3, 7}
    bad = space.default_config()
    bad["stages"][2]["blocks"][1]["kernel_size"] = 5
    with pytest.raises(
        InvalidConfigError,
        match=r"`stages\[2\].blocks\[1\].kernel_size` must be one of \[3, 7\], but got 5",
    ):
        space.validate(bad)


def test_built_blocks_follow_the_config():
    space = small()
    config = space.default_config()
    config["stages"] = [
        {"width_mult": 1.0, "blocks": [block(3, 3), block(5, 6, True)]},
        {"width_mult": 0.5, "blocks": [block(7, 4)]},
        {"width_mult": 0.75, "blocks": [block(3, 3, True), block(3, 3)]},
    ]
    assert space.stage_widths(config) == [8, 8, 12]
    net = space.build(config)
    p = dict(net.named_parameters())
    assert p["stem.conv.weight"].shape == (8, 1, 3, 3)
    # stage 0 block 1: 8 -> 48 expanded, 5x5 depthwise, SE 48 -> 12 -> 48
    assert p["stages.0.blocks.1.expand.conv.weight"].shape == (48, 8, 1, 1)
    assert p["stages.0.blocks.1.depthwise.conv.weight"].shape == (48, 1, 5, 5)
    assert p["stages.0.blocks.1.se.reduce.weight"].shape == (12, 48, 1, 1)
    assert p["stages.0.blocks.1.se.expand.weight"].shape == (48, 12, 1, 1)
    assert p["stages.0.blocks.1.project.conv.weight"].shape == (8, 48, 1, 1)
    assert p["stages.1.blocks.0.depthwise.conv.weight"].shape == (32, 1, 7, 7)
    assert p["stages.1.blocks.0.project.conv.weight"].shape == (8, 32, 1, 1)
    assert p["stages.2.blocks.1.project.conv.weight"].shape == (12, 36, 1, 1)
    assert p["head.conv.weight"].shape == (32, 12, 1, 1)
    assert p["classifier.weight"].shape == (10, 32)
    assert "stages.0.blocks.0.se.reduce.weight" not in p
    blocks = [b for s in net.stages for b in s.blocks]
    # residual only with stride 1 and equal widths
    assert [b.residual for b in blocks] == [True, True, False, False, True]
    assert [b.depthwise.conv.stride[0] for b in blocks] == [1, 1, 2, 2, 1]
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize(("shape", "size"), [((1, 8, 8), 2), ((3, 32, 32), 8), ((3, 7, 9), (2, 3))])
def test_strides_set_the_resolution(shape, size):
    space = small(input_shape=shape)
    net = space.build(space.default_config()).eval()
    seen = {}
    net.head.register_forward_hook(lambda m, i, o: seen.update(shape=tuple(o.shape[2:])))
    net(torch.randn(1, *shape))
    expected = size if isinstance(size, tuple) else (size, size)
    assert seen["shape"] == expected


@pytest.mark.parametrize("shape", [(40,), (2, 40)])
def test_sequences_use_1d_layers(shape):
    space = small(input_shape=shape)
    net = space.build(space.sample(0))
    assert net(torch.randn(3, *shape)).shape == (3, 10)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    assert any(isinstance(m, torch.nn.Conv1d) and m.groups > 1 for m in net.modules())


def test_default_config():
    config = MobileBlockSpace(input_shape=(3, 32, 32), num_classes=10).default_config()
    assert [len(s["blocks"]) for s in config["stages"]] == [2, 2, 2, 2]
    assert all(s["width_mult"] == 1.0 for s in config["stages"])
    assert all(b == block(3, 6, False) for s in config["stages"] for b in s["blocks"])
    assert config["activation"] == "relu6"


def test_activation_and_expand_ratio_one():
    space = small(expand_ratios=Int(1, 2), activation=["hswish", "relu"])
    config = space.default_config()
    config["activation"] = "hswish"
    for s in config["stages"]:
        s["blocks"] = [block(3, 1)]
    net = space.build(config)
    assert all(b.expand is None for s in net.stages for b in s.blocks)
    assert any(isinstance(m, torch.nn.Hardswish) for m in net.modules())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strides": (1, 2)}, r"`strides` must have one entry per stage \(3 stages in"),
        ({"stage_channels": ()}, r"`stage_channels` must be a non-empty tuple of ints"),
        ({"stage_channels": (8, 0, 8)}, r"`stage_channels\[1\]` must be an int >= 1, but got 0"),
        ({"min_depth": 0}, r"`min_depth` must be an int >= 1, but got 0"),
        (
            {"min_depth": 3, "max_depth": 2},
            r"`min_depth` must be less than or equal to `max_depth`, but got min_depth=3 > max_depth=2",
        ),
        ({"kernel_sizes": [3, 4]}, r"`kernel_sizes` must only hold odd kernel sizes .*holds 4"),
        ({"kernel_sizes": []}, r"`kernel_sizes` must not be an empty list of choices"),
        (
            {"expand_ratios": [0, 3]},
            r"`expand_ratios` must only hold integers >= 1, but it holds 0",
        ),
        (
            {"width_mults": [-0.5, 1.0]},
            r"`width_mults` must only hold numbers >= 1e-06, but it holds -0.5",
        ),
        (
            {"se": "maybe"},
            r"`se` has the value 'maybe', which is not allowed; allowed: \[False, True\]",
        ),
        (
            {"activation": "gelu"},
            r"`activation` has the value 'gelu'.*allowed: \['relu', 'relu6', 'hswish', 'silu'\]",
        ),
        ({"stem_stride": 0}, r"`stem_stride` must be an int >= 1, but got 0"),
        ({"input_shape": (1, 1, 8, 8)}, r"`input_shape` must have 1 or 2 or 3 dimensions"),
    ],
)
def test_construction_errors(kwargs, match):
    with pytest.raises(SpaceDefinitionError, match=match):
        small(**kwargs)
