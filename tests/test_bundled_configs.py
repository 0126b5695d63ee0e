"""The YAML configs shipped in raynas/configs load, and their hardware targets and space build."""

from __future__ import annotations

from pathlib import Path

import pytest

from raynas.config import load_config
from raynas.hardware import HardwareTarget
from raynas.search_spaces import TransformerSpace

CONFIGS = Path(__file__).resolve().parents[1] / "raynas" / "configs"


def test_the_transformer_reviews_config_is_a_text_search() -> None:
    kwargs = load_config(str(CONFIGS / "transformer_reviews.yaml")).as_dict()
    assert (kwargs["space"], kwargs["data"]) == ("transformer", "reviews")
    targets = [HardwareTarget.from_dict(dict(h)) for h in kwargs["hardware"]]
    assert [t.quantization for t in targets] == [None, "dynamic"]
    # what raynas.search adds from the reviews data: its length, classes, vocabulary, tokenizer
    length = kwargs["data_kwargs"]["max_length"]
    space = TransformerSpace(
        input_shape=(length,), num_classes=2, vocab_size=4000, **kwargs["space_kwargs"]
    )
    assert space.input_dtype == "int64" and "max_length" in space.fields


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_config_loads(path) -> None:
    assert load_config(str(path)).budget >= 1
