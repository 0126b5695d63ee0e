"""The contract every built-in space keeps, checked the same way for each (property-based).

Each entry of ``SPACES`` builds a small instance of one built-in space (few channels, short
stacks) so that building and running its networks stays fast.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import raynas.search_spaces as ss
from raynas.search_spaces import Choice, Domain, Float, Int, Repeat, SearchSpace

SPACES = {
    "nb201_image": lambda: ss.NB201CellSpace(
        input_shape=(1, 8, 8), num_classes=10, channels=4, cells_per_stage=1
    ),
    "nb201_sequence": lambda: ss.NB201CellSpace(
        input_shape=(40,), num_classes=10, channels=4, cells_per_stage=1, optimizer=["adam", "sgd"]
    ),
    "mlp": lambda: ss.MLPSpace(input_shape=(1, 8, 8), num_classes=10, width=Int(8, 64, step=8)),
    "mlp_fixed_training": lambda: ss.MLPSpace(
        input_shape=(40,),
        num_classes=10,
        max_layers=3,
        width=Choice([16, 32]),
        learning_rate=1e-3,
        weight_decay=Float(0.0, 1e-3),
        batch_size=64,
    ),
    "mobile_image": lambda: ss.MobileBlockSpace(
        input_shape=(1, 8, 8),
        num_classes=10,
        stage_channels=(8, 12, 16),
        strides=(1, 2, 2),
        max_depth=2,
        stem_channels=8,
        head_channels=32,
    ),
    "mobile_sequence": lambda: ss.MobileBlockSpace(
        input_shape=(1, 40),
        num_classes=10,
        stage_channels=(8, 16),
        strides=(2, 2),
        max_depth=2,
        stem_channels=8,
        head_channels=16,
    ),
    "transformer_rows": lambda: ss.TransformerSpace(
        input_shape=(1, 8, 8),
        num_classes=10,
        embed_dim=[16, 32],
        num_heads=[2, 4],
        ffn_dim=[16, 32],
        max_layers=2,
    ),
    "transformer_patches": lambda: ss.TransformerSpace(
        input_shape=(3, 8, 8),
        num_classes=5,
        tokens="patches",
        patch_size=4,
        embed_dim=[8, 16],
        num_heads=[1, 2],
        ffn_dim=[16],
        max_layers=2,
        pooling=["cls", "mean"],
    ),
    "transformer_sequence": lambda: ss.TransformerSpace(
        input_shape=(40,), num_classes=10, patch_size=5, embed_dim=[16], num_heads=[2]
    ),
}
NAMES = list(SPACES)
_CACHE: dict[str, SearchSpace] = {}


def space_of(name: str) -> SearchSpace:
    if name not in _CACHE:
        _CACHE[name] = SPACES[name]()
    return _CACHE[name]


seeds = st.integers(0, 2**32 - 1)
quick = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plain_fields(space: SearchSpace) -> list[str]:
    """Top-level fields that are leaf domains (not repeats or structs)."""
    return [k for k, f in space.fields.items() if isinstance(f, Domain)]


@pytest.mark.parametrize("name", NAMES)
@quick
@given(seed=seeds)
def test_samples_validate_and_are_canonical(name, seed):
    space = space_of(name)
    config = space.sample(seed)
    assert space.validate(config) == config
    assert space.sample(seed) == config  # same seed, same sample
    assert space.sample(np.random.default_rng(seed)) == config
    assert space.key(config) == space.key(space.validate(config))


@pytest.mark.parametrize("name", NAMES)
@quick
@given(a=seeds, b=seeds)
def test_different_seeds_give_different_samples(name, a, b):
    space = space_of(name)
    if a != b:
        # every small space here searches a continuous learning rate or weight decay
        assert space.sample(a) != space.sample(b)


@pytest.mark.parametrize("name", NAMES)
def test_a_stream_of_samples_is_diverse(name):
    space = space_of(name)
    rng = np.random.default_rng(0)
    keys = {space.key(space.sample(rng)) for _ in range(30)}
    assert len(keys) >= 25


@pytest.mark.parametrize("name", NAMES)
@quick
@given(seed=seeds)
def test_mutate_changes_a_decision_and_stays_valid(name, seed):
    space = space_of(name)
    rng = np.random.default_rng(seed)
    config = space.sample(rng)
    child = space.mutate(config, rng)
    assert space.validate(child) == child
    assert child != config
    assert space.mutate(config, seed) == space.mutate(config, seed)


@pytest.mark.parametrize("name", NAMES)
@quick
@given(seed=seeds)
def test_crossover_gives_a_valid_child_of_its_parents(name, seed):
    space = space_of(name)
    rng = np.random.default_rng(seed)
    a, b = space.sample(rng), space.sample(rng)
    child = space.crossover(a, b, rng)
    assert space.validate(child) == child
    for k in plain_fields(space):
        if k in a and k in b and k in child:
            assert child[k] in (a[k], b[k])
    assert space.crossover(a, a, rng) == a


@pytest.mark.parametrize("name", NAMES)
@quick
@given(seed=seeds)
def test_encode_has_a_fixed_length(name, seed):
    space = space_of(name)
    config = space.sample(seed)
    vec = space.encode(config)
    assert vec.shape == (space.encode_len,)
    assert np.isfinite(vec).all()
    assert space.encode(space.default_config()).shape == (space.encode_len,)


@pytest.mark.parametrize("name", NAMES)
def test_default_config_is_valid_and_has_training_values(name):
    space = space_of(name)
    config = space.default_config()
    assert space.validate(config) == config
    for k in ("learning_rate", "weight_decay", "batch_size"):
        assert k in config
    assert math.isclose(config["learning_rate"], 1e-3) or "learning_rate" not in plain_fields(space)
    assert space.training_config(config) == {k: config[k] for k in space.training_keys}


@pytest.mark.parametrize("name", NAMES)
def test_declared_shape_and_attributes(name):
    space = space_of(name)
    assert isinstance(space.input_shape, tuple) and all(d > 0 for d in space.input_shape)
    assert space.num_classes >= 1


@pytest.mark.parametrize("name", NAMES)
def test_to_tune_samples_validate(name):
    pytest.importorskip("ray")
    from ray.tune.search.variant_generator import generate_variants

    space = space_of(name)
    param_space = space.to_tune()
    for i in range(8):
        (_, spec), *_ = list(
            generate_variants({"config": param_space}, random_state=np.random.RandomState(i))
        )
        space.validate(spec["config"])


@pytest.mark.parametrize("name", NAMES)
def test_to_hyperopt_samples_validate(name):
    pytest.importorskip("hyperopt")
    from hyperopt.pyll import stochastic

    space = space_of(name)
    expr = space.to_hyperopt()
    rng = np.random.default_rng(0)
    for _ in range(8):
        space.validate(stochastic.sample(expr, rng=rng))


# -- building ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=6, deadline=None)
@given(seed=seeds)
def test_built_modules_run_on_the_declared_shape(name, seed):
    torch = pytest.importorskip("torch")
    space = space_of(name)
    config = space.sample(seed)
    net = space.build(config, seed=0)
    out = net(torch.randn(3, *space.input_shape))
    assert out.shape == (3, space.num_classes)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_built_modules_export_to_onnx(name, onnx_check):
    torch = pytest.importorskip("torch")
    space = space_of(name)
    config = space.mutate(space.default_config(), 1)
    onnx_check(space.build(config, seed=0), torch.randn(2, *space.input_shape))


def test_spaces_are_search_spaces_with_repeat_or_edges():
    # guard against this file silently testing fewer spaces than exist
    kinds = {type(space_of(n)).__name__ for n in NAMES}
    assert kinds == {"NB201CellSpace", "MLPSpace", "MobileBlockSpace", "TransformerSpace"}
    assert any(isinstance(f, Repeat) for f in space_of("mlp").fields.values())


def test_spaces_work_without_importing_torch_or_ray():
    code = (
        "import sys\n"
        "import raynas.search_spaces as ss\n"
        "for cls in (ss.NB201CellSpace, ss.MLPSpace, ss.MobileBlockSpace, ss.TransformerSpace):\n"
        "    space = cls(input_shape=(1, 8, 8), num_classes=10)\n"
        "    c = space.mutate(space.sample(0), 1)\n"
        "    space.key(c), space.encode(c), space.default_config()\n"
        "print(sorted(m for m in ('torch', 'ray', 'onnxruntime') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", NAMES)
def test_spaces_pickle(name):
    import pickle

    space = space_of(name)
    clone = pickle.loads(pickle.dumps(space))
    config = space.sample(3)
    assert clone.validate(config) == config
    assert clone.key(config) == space.key(config)
    assert clone.sample(5) == space.sample(5)


@pytest.mark.parametrize("name", NAMES)
def test_extremes_are_the_smallest_and_largest_networks_with_default_training(name):
    space = space_of(name)
    extremes = space.extremes()
    assert len(extremes) == 2
    small, large = extremes
    for config in extremes:
        assert space.validate(config) == config
        assert space.training_config(config) == space.default_training()
    sizes = [sum(p.numel() for p in space.build(c, seed=0).parameters()) for c in extremes]
    assert sizes[0] < sizes[1]
    # unordered decisions (batch norm, squeeze-excite, pooling) keep their default, so a sample
    # may pass an extreme by a little; a typical one lies well inside
    samples = [
        sum(p.numel() for p in space.build(space.sample(seed), seed=0).parameters())
        for seed in range(15)
    ]
    assert sizes[0] < np.median(samples) < sizes[1]
