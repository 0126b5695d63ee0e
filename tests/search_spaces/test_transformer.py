"""TransformerSpace: tokenizers, the built encoder, the heads/width rule and other errors."""

from __future__ import annotations

import pytest

from raynas.search_spaces import Int, InvalidConfigError, SpaceDefinitionError, TransformerSpace

torch = pytest.importorskip("torch")


def small(**kwargs):
    kwargs.setdefault("input_shape", (1, 8, 8))
    kwargs.setdefault("num_classes", 10)
    kwargs.setdefault("embed_dim", [16, 32])
    kwargs.setdefault("num_heads", [2, 4])
    kwargs.setdefault("ffn_dim", [16, 32])
    kwargs.setdefault("max_layers", 3)
    return TransformerSpace(**kwargs)


def tokens_of(space, x):
    from raynas.search_spaces._torch_transformer import Tokenizer

    return Tokenizer(space.input_shape, space.tokens, space.patch_size)(x)


def test_image_rows_are_tokens():
    space = small(input_shape=(2, 8, 6))
    x = torch.randn(3, 2, 8, 6)
    t = tokens_of(space, x)
    assert t.shape == (3, 8, 12) and space.num_tokens() == 8
    # token 5 = row 5 of channel 0, then row 5 of channel 1
    torch.testing.assert_close(t[:, 5], torch.cat([x[:, 0, 5], x[:, 1, 5]], dim=1))


def test_image_patches_are_tokens():
    space = small(input_shape=(3, 8, 12), tokens="patches", patch_size=4)
    x = torch.randn(2, 3, 8, 12)
    t = tokens_of(space, x)
    assert t.shape == (2, 6, 48) and space.num_tokens() == 6
    # token 4 = patch at row-block 1, column-block 1, flattened as (channel, y, x)
    torch.testing.assert_close(t[:, 4], x[:, :, 4:8, 4:8].reshape(2, -1))


@pytest.mark.parametrize("shape", [(40,), (2, 40)])
def test_sequences_are_cut_into_chunks(shape):
    space = small(input_shape=shape, patch_size=5)
    assert space.tokens == "chunks" and space.num_tokens() == 8
    x = torch.randn(2, *shape)
    t = tokens_of(space, x)
    channels = 1 if len(shape) == 1 else shape[0]
    assert t.shape == (2, 8, 5 * channels)
    x3 = x.reshape(2, channels, 40)
    torch.testing.assert_close(t[:, 3], x3[:, :, 15:20].reshape(2, -1))
    assert space.build(space.sample(0))(x).shape == (2, 10)


def test_built_encoder_follows_the_config():
    space = small()
    config = {
        **space.default_config(),
        "embed_dim": 32,
        "num_heads": 4,
        "layers": [{"ffn_dim": 16}, {"ffn_dim": 32}, {"ffn_dim": 16}],
        "pooling": "cls",
    }
    net = space.build(config)
    p = dict(net.named_parameters())
    assert p["embed.weight"].shape == (32, 8)
    assert p["pos_embed"].shape == (1, 9, 32)  # 8 rows + CLS
    assert p["cls_token"].shape == (1, 1, 32)
    assert [layer.linear1.out_features for layer in net.layers] == [16, 32, 16]
    assert all(layer.self_attn.num_heads == 4 for layer in net.layers)
    assert p["head.weight"].shape == (10, 32)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)

    mean = space.build({**config, "pooling": "mean", "layers": [{"ffn_dim": 32}]})
    names = dict(mean.named_parameters())
    assert "cls_token" not in names and names["pos_embed"].shape == (1, 8, 32)


def test_token_order_matters_through_positions():
    space = small()
    net = space.build(space.default_config(), seed=0).eval()
    x = torch.randn(1, 1, 8, 8)
    flipped = x.flip(2)  # rows reversed
    assert not torch.allclose(net(x), net(flipped))


def test_default_config():
    config = TransformerSpace(input_shape=(1, 8, 8), num_classes=10).default_config()
    assert (config["embed_dim"], config["num_heads"], config["pooling"]) == (64, 4, "cls")
    assert config["layers"] == [{"ffn_dim": 128}] * 2 and config["dropout"] == 0.1


def test_validation_names_the_path():
    space = small()
    bad = {**space.default_config(), "layers": [{"ffn_dim": 16}, {"ffn_dim": 7}]}
    with pytest.raises(
        InvalidConfigError, match=r"`layers\[1\].ffn_dim` must be one of \[16, 32\], but got 7"
    ):
        space.validate(bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"embed_dim": [16, 24], "num_heads": [2, 16]},
            r"`num_heads` = 16 does not divide `embed_dim` = 24; every head count must divide "
            r"every embedding width \(num_heads: \[2, 16\], embed_dim: \[16, 24\]\)",
        ),
        (
            {"embed_dim": [30], "num_heads": [4]},
            r"`num_heads` = 4 does not divide `embed_dim` = 30",
        ),
        ({"embed_dim": Int(8, 10000)}, r"`embed_dim` must have finitely many values"),
        ({"num_heads": [0, 2]}, r"`num_heads` must only hold integers >= 1, but it holds 0"),
        ({"ffn_dim": []}, r"`ffn_dim` must not be an empty list of choices"),
        (
            {"min_layers": 3, "max_layers": 1},
            r"`min_layers` must be less than or equal to `max_layers`, but got min_layers=3 > "
            r"max_layers=1",
        ),
        ({"min_layers": 0}, r"`min_layers` must be an int >= 1, but got 0"),
        ({"pooling": "max"}, r"`pooling` has the value 'max'.*allowed: \['cls', 'mean'\]"),
        ({"dropout": 1.5}, r"`dropout` must only hold numbers in \[0.0, 0.99\], but it holds 1.5"),
        (
            {"tokens": "columns"},
            r"`tokens` must be one of \['rows', 'patches'\] for the image input_shape "
            r"\(1, 8, 8\), but got 'columns'",
        ),
        (
            {"input_shape": (40,), "tokens": "rows"},
            r"`tokens` must be one of \['chunks'\] for the sequence input_shape \(40,\)",
        ),
        (
            {"tokens": "patches", "patch_size": 3},
            r"`patch_size` = 3 must divide the image height and width of `input_shape` "
            r"\(1, 8, 8\)",
        ),
        (
            {"input_shape": (40,), "patch_size": 6},
            r"`patch_size` = 6 must divide the sequence length 40 of `input_shape` \(40,\)",
        ),
        ({"patch_size": 0}, r"`patch_size` must be an int >= 1, but got 0"),
        ({"input_shape": (8, 0)}, r"`input_shape` must be a tuple of positive ints"),
    ],
)
def test_construction_errors(kwargs, match):
    with pytest.raises(SpaceDefinitionError, match=match):
        small(**kwargs)
