"""TransformerSpace over token ids: the new dimensions through every verb, the built network."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from raynas.search_spaces import (
    DefineByRunSpace,
    InvalidConfigError,
    SpaceDefinitionError,
    TransformerSpace,
)

torch = pytest.importorskip("torch")


def text_space(**kwargs):
    kwargs.setdefault("input_shape", (32,))
    kwargs.setdefault("num_classes", 2)
    kwargs.setdefault("vocab_size", 100)
    kwargs.setdefault("embed_dim", [16, 32])
    kwargs.setdefault("num_heads", [1, 2, 4])
    kwargs.setdefault("ffn_dim", [16, 32])
    kwargs.setdefault("max_layers", 3)
    return TransformerSpace(**kwargs)


def test_the_verbs_on_heads_per_layer_and_max_length() -> None:
    space = text_space()
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(60)]
    assert {c["max_length"] for c in configs} == {8, 16, 32}  # L // 4, L // 2, L
    assert any(len({layer["num_heads"] for layer in c["layers"]}) > 1 for c in configs)
    assert all(space.validate(c) == c for c in configs)
    mutants = [space.mutate(configs[0], rng) for _ in range(40)]
    assert any(m["max_length"] != configs[0]["max_length"] for m in mutants)
    assert any(
        [layer["num_heads"] for layer in m["layers"]]
        != [layer["num_heads"] for layer in configs[0]["layers"]]
        for m in mutants
    )
    child = space.crossover(configs[0], configs[1], rng)
    assert space.validate(child) == child
    assert child["max_length"] in (configs[0]["max_length"], configs[1]["max_length"])
    other = {**configs[0], "max_length": 8 if configs[0]["max_length"] != 8 else 16}
    assert space.key(other) != space.key(configs[0])
    assert space.key(dict(reversed(list(configs[0].items())))) == space.key(configs[0])
    assert len(space.encode(configs[0])) == len(space.encode(configs[1])) == space.encode_len
    assert not np.array_equal(space.encode(other), space.encode(configs[0]))
    tune = space.to_tune()
    assert "max_length" in tune and "layers" in str(tune)
    assert "num_heads" not in space.fields  # per layer, not shared


def test_validation_names_the_new_fields() -> None:
    space = text_space()
    good = space.default_config()
    with pytest.raises(InvalidConfigError, match=r"`max_length` must be one of \[8, 16, 32\]"):
        space.validate({**good, "max_length": 64})
    bad_layers = [{"num_heads": 3, "ffn_dim": 16}]
    with pytest.raises(InvalidConfigError, match=r"`layers\[0\].num_heads` must be one of"):
        space.validate({**good, "layers": bad_layers})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vocab_size": None, "max_length": [8]}, r"`max_length` is searched over token ids only"),
        ({"max_length": [8, 64]}, r"`max_length` must only hold integers in \[1, 32\]"),
        (
            {"input_shape": (1, 8, 8)},
            r"token ids \(`vocab_size` = 100\) need an `input_shape` \(L,\)",
        ),
        ({"tokens": "chunks"}, r"`tokens` must be 'ids' \(or None\) with `vocab_size`"),
        ({"vocab_size": 1}, r"`vocab_size` must be an int >= 2, but got 1"),
        (
            {"embed_dim": [18], "num_heads": [4]},
            r"`num_heads` = 4 does not divide `embed_dim` = 18",
        ),
    ],
)
def test_construction_errors(kwargs, match) -> None:
    with pytest.raises(SpaceDefinitionError, match=match):
        text_space(**kwargs)


def test_the_network_reads_max_length_ids_and_masks_padding() -> None:
    space = text_space()
    config = {
        **space.default_config(),
        "max_length": 16,
        "layers": [{"num_heads": 1, "ffn_dim": 16}, {"num_heads": 4, "ffn_dim": 32}],
    }
    for pooling in ("mean", "cls"):
        net = space.build({**config, "pooling": pooling}, seed=0).eval()
        heads = [layer.self_attn.num_heads for layer in net.layers]
        assert heads == [1, 4] and net.embed.num_embeddings == 100
        ids = torch.randint(1, 100, (4, 32))
        ids[:, 10:] = 0
        with torch.no_grad():
            out = net(ids)
            cut = ids.clone()
            cut[:, 16:] = torch.randint(1, 100, (4, 16))  # past max_length: never read
            torch.testing.assert_close(net(cut), out)
            longer = ids.clone()
            longer[:, 9] = 0  # one real token fewer: the prediction changes
            assert not torch.allclose(net(longer), out)
            empty = torch.zeros(2, 32, dtype=torch.long)  # all padding still gives numbers
            assert torch.isfinite(net(empty)).all()


def test_the_positions_follow_max_length() -> None:
    space = text_space()
    config = space.default_config()
    for n in (8, 16, 32):
        assert space.build({**config, "max_length": n}).pos_embed.shape[1] == n + 1  # + CLS


def test_the_space_carries_the_dtype_and_tokenizer() -> None:
    space = text_space(tokenizer="a tokenizer")
    assert space.input_dtype == "int64" and space.tokenizer == "a tokenizer"
    assert pickle.loads(pickle.dumps(space)).tokenizer == "a tokenizer"
    assert TransformerSpace(input_shape=(1, 8, 8), num_classes=10).input_dtype == "float32"


def build_embedding_model(hp):
    from torch import nn

    width = hp.Choice("embed_dim", [8, 16])
    return nn.Sequential(
        nn.Embedding(50, width, padding_idx=0),
        nn.Flatten(),
        nn.Linear(12 * width, hp.Int("classes", 2, 2)),
    )


def test_a_define_by_run_model_with_an_embedding_takes_int64_ids() -> None:
    space = DefineByRunSpace(build_embedding_model, input_shape=(12,), input_dtype="int64")
    assert space.input_shape == (12,) and space.input_dtype == "int64"
    again = pickle.loads(pickle.dumps(space))
    assert again.input_dtype == "int64" and again.input_shape == (12,)
    net = space.build({"embed_dim": 16, "classes": 2})
    assert net(torch.randint(0, 50, (3, 12))).shape == (3, 2)
    with pytest.raises(SpaceDefinitionError, match=r"`input_dtype` must be one of \['float32'"):
        DefineByRunSpace(build_embedding_model, input_dtype="int8")
