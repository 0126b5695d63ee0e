"""Tiny searches on the text datasets; exported models + tokenizer reproduce torch on raw strings."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import raynas
from raynas.hardware import HardwareTarget

pytestmark = pytest.mark.ray

SPACE = {"embed_dim": [16], "num_heads": [1, 2], "ffn_dim": [16, 32], "max_layers": 1}


def fast(name: str = "cpu", quantization: str | None = None) -> HardwareTarget:
    return HardwareTarget(
        name=name,
        resource="hw:cpu",  # both targets measure on this machine's CPU, one at a time
        min_runs=5,
        min_seconds=0.02,
        warmup_runs=1,
        energy="off",
        quantization=quantization,
    )


@pytest.fixture(scope="module")
def reviews_search(ray_session, tmp_path_factory):
    return raynas.search(
        "transformer",
        "reviews",
        objectives=["val_acc:max", "latency_p50_ms:min"],
        space_kwargs={**SPACE, "max_length": [8, 24]},
        data_kwargs={"vocab_size": 300, "max_length": 24},
        hardware=[fast(), fast("int8", "dynamic")],
        budget=2,
        max_epochs=1,
        train_fraction=0.05,
        storage_path=str(tmp_path_factory.mktemp("text")),
        name="reviews",
        max_concurrent=1,
        verbose=0,
    )


def test_a_tiny_search_on_the_reviews_measures_float_and_int8(reviews_search) -> None:
    assert len(reviews_search) == 2
    assert reviews_search.space.vocab_size <= 300 and reviews_search.space.input_dtype == "int64"
    for c in reviews_search.candidates:
        assert c.feasible, c.reason
        assert 0.0 < c.metrics["val_acc"] <= 1.0
        assert c.metrics["latency_p50_ms"] > 0 and c.metrics["int8_latency_p50_ms"] > 0


def test_an_exported_model_and_its_tokenizer_reproduce_torch_on_raw_strings(
    reviews_search, tmp_path
) -> None:
    import onnxruntime as ort
    import tokenizers
    import torch

    from raynas._export import load_trained_model

    folders = reviews_search.export(str(tmp_path / "export"), top=2)
    raw = [
        "A dark, dull thriller with a parting shot that misfires.",
        "Achieves a sort of filmic epiphany that revels in the true potential of the medium.",
        "",
        "zyzzyva " * 40,  # longer than max_length: truncated alike on both sides
    ]
    space = reviews_search.space
    for folder in folders:
        assert "tokenizer.json" in os.listdir(folder)
        tok = tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        ids = np.array([e.ids for e in tok.encode_batch(raw)], dtype=np.int64)
        assert ids.shape == (4, 24)
        sess = ort.InferenceSession(
            os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"]
        )
        (inp,) = sess.get_inputs()
        assert inp.type == "tensor(int64)"
        meta = sess.get_modelmeta().custom_metadata_map
        config = json.loads(meta["raynas.config"])
        cand = next(c for c in reviews_search.candidates if c.config == config)
        model = load_trained_model(space, config, cand.checkpoint_path)
        torch_ids = space.tokenizer.encode(raw)[0]
        assert np.array_equal(torch_ids, ids)
        with torch.no_grad():
            expected = model(torch.from_numpy(torch_ids)).numpy()
        got = np.concatenate([sess.run(None, {inp.name: row[None]})[0] for row in ids])
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
        assert np.array_equal(got.argmax(1), expected.argmax(1))


def test_a_tiny_search_on_listops(ray_session, tmp_path) -> None:
    results = raynas.search(
        "transformer",
        "listops",
        objectives=["val_acc:max"],
        space_kwargs=SPACE,
        data_kwargs={"num_samples": 200, "max_depth": 2, "max_length": 32},
        budget=1,
        max_epochs=1,
        storage_path=str(tmp_path),
        name="listops",
        max_concurrent=1,
        verbose=0,
    )
    (c,) = results.candidates
    assert c.feasible, c.reason
    assert results.space.num_classes == 10 and results.space.input_shape == (32,)


def test_a_space_that_cannot_take_token_ids_is_refused_before_any_trial(tmp_path) -> None:
    from raynas.search_spaces.errors import RaynasError

    with pytest.raises(
        RaynasError, match=r"`vocab_size`, `tokenizer` are not arguments of MLPSpace"
    ):
        raynas.search(
            "mlp",
            "listops",
            data_kwargs={"num_samples": 50, "max_depth": 1},
            storage_path=str(tmp_path),
            verbose=0,
        )
