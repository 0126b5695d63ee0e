"""The YAML search config: every error names the key, the value and what is allowed."""

from __future__ import annotations

import os
import textwrap

import pytest

from raynas.config import ConfigError, load_config, validate_config
from raynas.objectives import Objective
from raynas.search_spaces import Choice, Int

GOOD = {
    "name": "hw-digits",
    "space": {"type": "mlp", "max_layers": 3, "width": [32, 64, 128]},
    "data": "digits",
    "objectives": ["val_acc:max", "latency_p50_ms:min"],
    "constraints": ["latency_p50_ms <= 5"],
    "strategy": {"name": "nsga2"},
    "scheduler": {"name": "moasha", "grace_period": 1},
    "hardware": [{"name": "cpu", "provider": "CPUExecutionProvider", "threads": 1}],
    "budget": 12,
    "training": {"max_epochs": 3},
    "resources_per_trial": {"cpu": 1},
}


def test_a_good_config_validates() -> None:
    cfg = validate_config(GOOD)
    assert (cfg.space, cfg.space_kwargs) == ("mlp", {"max_layers": 3, "width": [32, 64, 128]})
    assert cfg.objectives == [
        Objective("val_acc", "max"),
        Objective("latency_p50_ms", "min", ("<=", 5.0)),
    ]
    assert cfg.budget == 12 and cfg.max_epochs == 3
    assert cfg.strategy == "nsga2" and cfg.scheduler == "moasha"
    assert cfg.scheduler_kwargs == {"grace_period": 1}
    assert cfg.points_to_evaluate is None and cfg.warm_start is None
    assert cfg.reuse_actors is True
    assert validate_config({**GOOD, "reuse_actors": False}).reuse_actors is False
    first = {"layers": [{"width": 64}], "activation": "relu"}
    cfg = validate_config({**GOOD, "warm_start": "~/runs/first", "points_to_evaluate": [first]})
    assert cfg.warm_start == os.path.expanduser("~/runs/first")
    assert cfg.points_to_evaluate == [first]


def test_the_yaml_and_the_keyword_arguments_are_the_same_options() -> None:
    """One declaration: a config's keys are raynas.search's keywords, with the same checks."""
    from raynas.frontdoor import SearchOptions

    python = SearchOptions(
        "mlp",
        "digits",
        space_kwargs={"max_layers": 3, "width": [32, 64, 128]},
        objectives=["val_acc:max", "latency_p50_ms:min"],
        constraints=["latency_p50_ms <= 5"],
        strategy="nsga2",
        scheduler="moasha",
        scheduler_kwargs={"grace_period": 1},
        hardware=[{"name": "cpu", "provider": "CPUExecutionProvider", "threads": 1}],
        budget=12,
        max_epochs=3,
        resources_per_trial={"cpu": 1},
        name="hw-digits",
    )
    assert python == validate_config(GOOD)
    assert SearchOptions("mlp", training={"max_epochs": 3}).max_epochs == 3
    with pytest.raises(ConfigError, match=r"`max_epochs` is given twice"):
        SearchOptions("mlp", max_epochs=2, training={"max_epochs": 3})
    for bad in ({"budjet": 3}, {"constraint": ["params <= 5"]}):
        key = next(iter(bad))
        with pytest.raises(ConfigError, match=rf"`{key}` is not an option of raynas.search"):
            validate_config({**GOOD, **bad})


def test_domain_shorthand_in_space_kwargs() -> None:
    cfg = validate_config(
        {
            **GOOD,
            "space": {
                "type": "mlp",
                "width": {"int": [16, 128], "step": 16},
                "activation": {"choice": ["relu", "gelu"]},
            },
        }
    )
    width = cfg.space_kwargs["width"]
    assert isinstance(width, Int) and width.finite_values()[:2] == [16, 32]
    assert isinstance(cfg.space_kwargs["activation"], Choice)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bogus": 1}, r"`bogus` is not an option of raynas.search; the options are \['budget'"),
        ({"budjet": 1}, r"`budjet` is not an option of raynas.search \(did you mean `budget`\?\)"),
        (
            {"space": {"type": "resnet"}},
            r"`space.type` must be one of \['mlp', 'mobile', 'nb201', 'transformer'\] or "
            r"'module:attribute', but got 'resnet'",
        ),
        (
            {"data": {"name": "cifar10"}},
            r"`data.name` must be one of \['digits', 'listops', 'mnist1d', 'reviews'\]",
        ),
        ({"data": "cifar10"}, r"`data` must be one of \['digits', 'listops', 'mnist1d', 'reviews'"),
        (
            {"strategy": "simulated_annealing"},
            r"`strategy` must be one of \[.*'evolution'.*\] "
            r"or 'module:attribute', but got 'simulated_annealing'",
        ),
        ({"scheduler": {"name": "median"}}, r"`scheduler.name` must be one of \[.*'moasha'.*\]"),
        ({"budget": 0}, r"`budget` must be an int >= 1 \(the number of candidates\), but got 0"),
        ({"budget": "ten"}, r"`budget` must be an int >= 1"),
        (
            {"training": {"epochs": 3}},
            r"`training.epochs` is not a known key \(did you mean `training.max_epochs`\?\); the keys of "
            r"`training` are \['max_epochs', 'train_fraction', 'time_budget_s'\]",
        ),
        ({"training": {"max_epochs": 0}}, r"`training.max_epochs` must be an int >= 1, but got 0"),
        (
            {"training": {"train_fraction": 1.5}},
            r"`training.train_fraction` must be a number in "
            r"\(0, 1\], but got 1.5",
        ),
        ({"resources_per_trial": {"tpu": "one"}}, r"`resources_per_trial.tpu` must be a number"),
        ({"resources_per_trial": {"cpu": 0}}, r"`resources_per_trial` cannot give a trial 0 CPUs"),
        ({"resources_per_trial": {"gpu": -1}}, r"`resources_per_trial.gpu` must be a number >= 0"),
        ({"objectives": []}, r"`objectives` must be a non-empty list"),
        (
            {"objectives": ["val_acc:maximize"]},
            r"`objectives\[0\]`: `mode` of objective `val_acc` "
            r"must be one of \['min', 'max'\], but got 'maximize'",
        ),
        ({"constraints": ["latency_p50_ms"]}, r"`constraints\[0\]` must be 'metric <= bound'"),
        ({"objectives": ["val_acc", "val_acc:min"]}, r"`objectives`: .*val_acc"),
        (
            {"hardware": [{"provider": "CPUExecutionProvider"}]},
            r"`hardware\[0\]` must be a mapping with at least a `name`",
        ),
        ({"seed": -1}, r"`seed` must be an int >= 0, but got -1"),
        ({"warm_start": ""}, r"`warm_start` must be the folder of an earlier raynas search"),
        ({"reuse_actors": "no"}, r"`reuse_actors` must be true or false, but got 'no'"),
        (
            {"points_to_evaluate": {"width": 16}},
            r"`points_to_evaluate` must be a list of configs of the space",
        ),
        ({"name": "a/b"}, r"`name` must be a folder name without path separators"),
        (
            {"space": {"type": "mlp", "width": {"int": [16]}}},
            r"`space.width.int` must be a list "
            r"\[low, high\]",
        ),
        (
            {"space": {"type": "mlp", "width": {"int": [64, 16]}}},
            r"`space.width`: `low` must be "
            r"less than or equal to `high`",
        ),
        ({"space": {"type": "nosuchmodule:thing"}}, None),
    ],
)
def test_errors_name_key_value_and_allowed(change: dict, message: str | None) -> None:
    raw = {**GOOD, **change}
    if message is None:  # module:attribute is resolved when the search is built, not here
        validate_config(raw)
        return
    with pytest.raises(ConfigError, match=message):
        validate_config(raw)


def test_space_is_required() -> None:
    raw = {k: v for k, v in GOOD.items() if k != "space"}
    with pytest.raises(ConfigError, match=r"`space` is missing"):
        validate_config(raw)


def test_yaml_is_loaded_safely(tmp_path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("space: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match=r"not valid YAML"):
        load_config(str(evil))
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match=r"the config file is empty"):
        load_config(str(empty))
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_config(str(tmp_path / "missing.yaml"))
    good = tmp_path / "good.yaml"
    good.write_text(
        textwrap.dedent("""
        space: {type: mlp}
        objectives: [val_acc:max, latency_p50_ms:min]
        budget: 4
    """)
    )
    assert load_config(str(good)).budget == 4
