"""MLPSpace: the config it holds, the module it builds, the errors it raises."""

from __future__ import annotations

import pytest

from raynas.search_spaces import (
    Choice,
    Float,
    Int,
    InvalidConfigError,
    MLPSpace,
    SpaceDefinitionError,
)

torch = pytest.importorskip("torch")


def test_samples_respect_the_depth_bounds_and_widths():
    space = MLPSpace(input_shape=(40,), num_classes=3, min_layers=2, max_layers=3, width=[16, 48])
    depths = set()
    for seed in range(40):
        config = space.sample(seed)
        depths.add(len(config["layers"]))
        assert {layer["width"] for layer in config["layers"]} <= {16, 48}
    assert depths == {2, 3}
    with pytest.raises(InvalidConfigError, match=r"`layers` must have 2 to 3 items, but got 4"):
        space.validate({**space.default_config(), "layers": [{"width": 16}] * 4})
    with pytest.raises(
        InvalidConfigError, match=r"`layers\[1\].width` must be one of \[16, 48\], but got 32"
    ):
        space.validate({**space.default_config(), "layers": [{"width": 16}, {"width": 32}]})


def test_built_module_matches_the_config():
    space = MLPSpace(input_shape=(1, 8, 8), num_classes=10)
    config = {
        **space.default_config(),
        "layers": [{"width": 32}, {"width": 48}, {"width": 16}],
        "activation": "gelu",
        "dropout": 0.25,
        "batch_norm": True,
    }
    net = space.build(config)
    names = {k: tuple(v.shape) for k, v in net.named_parameters()}
    assert names == {
        "layers.0.linear.weight": (32, 64),
        "layers.0.linear.bias": (32,),
        "layers.0.bn.weight": (32,),
        "layers.0.bn.bias": (32,),
        "layers.1.linear.weight": (48, 32),
        "layers.1.linear.bias": (48,),
        "layers.1.bn.weight": (48,),
        "layers.1.bn.bias": (48,),
        "layers.2.linear.weight": (16, 48),
        "layers.2.linear.bias": (16,),
        "layers.2.bn.weight": (16,),
        "layers.2.bn.bias": (16,),
        "head.weight": (10, 16),
        "head.bias": (10,),
    }
    assert all(isinstance(layer.act, torch.nn.GELU) for layer in net.layers)
    assert all(layer.dropout.p == 0.25 for layer in net.layers)
    assert net(torch.randn(5, 1, 8, 8)).shape == (5, 10)

    plain = space.build({**config, "batch_norm": False, "activation": "tanh"})
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.modules())
    assert isinstance(plain.layers[0].act, torch.nn.Tanh)


def test_zero_hidden_layers_is_a_linear_model():
    space = MLPSpace(input_shape=(40,), num_classes=4, min_layers=0, max_layers=1)
    config = {**space.default_config(), "layers": []}
    net = space.build(config)
    assert [k for k, _ in net.named_parameters()] == ["head.weight", "head.bias"]
    assert net(torch.randn(2, 40)).shape == (2, 4)


def test_default_config():
    space = MLPSpace(input_shape=(1, 8, 8), num_classes=10)
    config = space.default_config()
    assert config["layers"] == [{"width": 128}, {"width": 128}]
    assert config["activation"] == "relu" and config["dropout"] == 0.1
    assert config["batch_norm"] is False
    narrow = MLPSpace(
        input_shape=(4,),
        num_classes=2,
        min_layers=3,
        max_layers=5,
        width=Choice([8, 24]),
        activation="tanh",
        dropout=Float(0.2, 0.4),
        batch_norm=True,
    )
    config = narrow.default_config()
    assert config["layers"] == [{"width": 24}] * 3
    assert config["activation"] == "tanh" and config["dropout"] == 0.2
    assert config["batch_norm"] is True


def test_fixed_training_values_stay_fixed():
    space = MLPSpace(
        input_shape=(4,), num_classes=2, learning_rate=0.01, weight_decay=0.0, batch_size=16
    )
    for seed in range(10):
        config = space.sample(seed)
        assert (config["learning_rate"], config["weight_decay"], config["batch_size"]) == (
            0.01,
            0.0,
            16,
        )
    with pytest.raises(InvalidConfigError, match=r"`batch_size` is fixed to 16, but got 32"):
        space.validate({**space.default_config(), "batch_size": 32})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"min_layers": 3, "max_layers": 2},
            r"`min_layers` must be less than or equal to `max_layers`, but got min_layers=3 > "
            r"max_layers=2",
        ),
        ({"min_layers": -1}, r"`min_layers` must be an int >= 0, but got -1"),
        ({"max_layers": 2.5}, r"`max_layers` must be an int >= 0, but got 2.5"),
        ({"width": []}, r"`width` must not be an empty list of choices"),
        ({"width": [16, 0]}, r"`width` must only hold integers >= 1, but it holds 0"),
        (
            {"width": Float(1.0, 8.0)},
            r"`width` must only hold integers >= 1, so it cannot be Float",
        ),
        ({"width": [16.0, 32]}, r"`width` must only hold integers >= 1, but it holds 16.0"),
        ({"width": Int(0, 8)}, r"`width` must only hold integers >= 1, but it holds 0"),
        (
            {"activation": ["relu", "swish"]},
            r"`activation` has the value 'swish', which is not allowed; allowed: "
            r"\['relu', 'gelu', 'tanh', 'silu'\]",
        ),
        ({"dropout": 1.0}, r"`dropout` must only hold numbers in \[0.0, 0.99\], but it holds 1.0"),
        ({"batch_norm": "yes"}, r"`batch_norm` has the value 'yes', which is not allowed"),
        ({"input_shape": 40}, r"`input_shape` must be a tuple of positive ints, but got 40"),
    ],
)
def test_construction_errors(kwargs, match):
    kwargs = {"input_shape": (4,), "num_classes": 2, **kwargs}
    with pytest.raises(SpaceDefinitionError, match=match):
        MLPSpace(**kwargs)
