"""NAS-Bench-201 cell space: arch strings, isomorphism classes, the built network, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from raynas.search_spaces import (
    Float,
    InvalidConfigError,
    NB201CellSpace,
    SpaceDefinitionError,
)
from raynas.search_spaces._nb201 import BEST_CELL, EDGES, OPS, arch_str, unique_cell_str

torch = pytest.importorskip("torch")


def small(**kwargs):
    kwargs.setdefault("input_shape", (1, 8, 8))
    kwargs.setdefault("num_classes", 10)
    kwargs.setdefault("channels", 4)
    kwargs.setdefault("cells_per_stage", 1)
    return NB201CellSpace(**kwargs)


def cell(s: str) -> dict[str, str]:
    return dict(zip(EDGES, [t.split("~")[0] for t in s.split("|") if t and t != "+"], strict=True))


def spelled(ops) -> str:
    """The NAS-Bench-201 spelling, written out independently of the code under test."""
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


ALL_OPS = list(itertools.product(OPS, repeat=6))
ALL_STRS = [spelled(ops) for ops in ALL_OPS]


def test_all_15625_arch_strings_round_trip():
    space = small()
    assert len(set(ALL_STRS)) == 15625
    for ops, s in zip(ALL_OPS, ALL_STRS, strict=True):
        config = space.from_arch_str(s)
        assert [config[e] for e in EDGES] == list(ops)
        assert space.to_arch_str(config) == s
        assert arch_str(config) == s


def test_key_gives_exactly_6466_isomorphism_classes():
    space = small(learning_rate=1e-3, weight_decay=0.0, batch_size=32)
    configs = [space.from_arch_str(s) for s in ALL_STRS]
    keys = {space.key(c) for c in configs}
    cell_keys = {space.cell_key(c) for c in configs}
    assert len(keys) == 6466
    assert len(cell_keys) == 6466


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # node 1 = input (skip_connect), so the two edges into node 3 are interchangeable
        (
            "|skip_connect~0|+|none~0|none~1|+|nor_conv_3x3~0|nor_conv_1x1~1|none~2|",
            "|skip_connect~0|+|none~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|",
        ),
        # node 1 = input: node 2 may read it from node 0 or node 1
        (
            "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|",
            "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|",
        ),
        # node 2 does not reach the output: its edges do not matter
        (
            "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
            "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
        ),
        # skip_connect is the identity: node 1 = input, so 3<-1 conv equals 3<-0 conv
        (
            "|skip_connect~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|",
            "|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|",
        ),
        # node 1 is zero (none), so whatever leaves it is zero
        (
            "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|nor_conv_1x1~1|none~2|",
            "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|",
        ),
    ],
)
def test_isomorphic_cells_share_a_key(a, b):
    space = small()
    assert space.key(space.from_arch_str(a)) == space.key(space.from_arch_str(b))
    assert space.to_arch_str(space.from_arch_str(a)) != space.to_arch_str(space.from_arch_str(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
            "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
        ),
        # a chain 0 -> 1 -> 2 is not the same as two parallel edges
        (
            "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|",
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|",
        ),
    ],
)
def test_different_cells_have_different_keys(a, b):
    space = small()
    assert space.key(space.from_arch_str(a)) != space.key(space.from_arch_str(b))


def test_the_convention_counts_zero_terms():
    # The NAS-Bench-201 rule (6,466 classes) keeps a `none` input as a zero term of its node's
    # sum, so swapping nodes 1 and 2 here is not an isomorphism: node 2 has a zero input, node 1
    # has none. Merging such cells too would give 5,390 classes, not the benchmark's 6,466.
    space = small()
    a = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    b = "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    assert space.cell_key(space.from_arch_str(a)) != space.cell_key(space.from_arch_str(b))
    assert space.cell_key(space.from_arch_str(a)) == (
        "(#+(0)@nor_conv_1x1)@avg_pool_3x3+((0)@nor_conv_3x3)@nor_conv_1x1+0"
    )


def test_key_includes_training_values():
    space = small()
    a = space.from_arch_str(BEST_CELL, learning_rate=0.01)
    b = space.from_arch_str(BEST_CELL, learning_rate=0.02)
    assert space.cell_key(a) == space.cell_key(b)
    assert space.key(a) != space.key(b)


def test_unique_cell_str_matches_the_documented_rule():
    # node 1 = c(0); node 2 = c(0) + c(node 1); output = skip(0) + c(node 1) + c(node 2),
    # each sum sorted as strings ('(' sorts before '0', '#' before both)
    c = "nor_conv_3x3"
    node2 = f"((0)@{c})@{c}+(0)@{c}"
    assert unique_cell_str(cell(BEST_CELL)) == f"({node2})@{c}+((0)@{c})@{c}+0"
    zero = cell("|none~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|skip_connect~1|skip_connect~2|")
    assert unique_cell_str(zero) == "#+#+#+(0)@nor_conv_1x1"


def test_default_config_is_the_best_cell_with_sensible_training():
    space = small()
    config = space.default_config()
    assert space.to_arch_str(config) == BEST_CELL
    assert config["learning_rate"] == 1e-3 and config["batch_size"] == 64


def test_from_arch_str_takes_training_values_and_rejects_unknown_ones():
    space = small(optimizer=["adam", "sgd"], epochs=3)
    config = space.from_arch_str(BEST_CELL, learning_rate=0.05, optimizer="sgd")
    assert config["learning_rate"] == 0.05 and config["optimizer"] == "sgd"
    assert config["epochs"] == 3
    with pytest.raises(InvalidConfigError, match=r"`momentum` is not a training parameter"):
        space.from_arch_str(BEST_CELL, momentum=0.9)
    with pytest.raises(InvalidConfigError, match=r"`edge_1_0` is not a training parameter"):
        space.from_arch_str(BEST_CELL, edge_1_0="none")
    with pytest.raises(InvalidConfigError, match=r"`optimizer` must be one of \['adam', 'sgd'\]"):
        space.from_arch_str(BEST_CELL, optimizer="rmsprop")


@pytest.mark.parametrize(
    ("s", "match"),
    [
        ("nor_conv_3x3", r"must look like .*3 nodes joined by '\+'.*but got 'nor_conv_3x3'"),
        (
            "|none~0|+|none~0|+|none~0|none~1|none~2|",
            r"node 2 .* must have 2 input\(s\), but got 1",
        ),
        (
            "|none~0|+|none~0|none~2|+|none~0|none~1|none~2|",
            r"input 1 of node 2 must read '<op>~1', but got 'none~2'",
        ),
        (
            "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            r"`edge_1_0` must be one of \['none', .*\], but got 'conv_5x5'",
        ),
        (42, r"the arch string must be a str, but got 42"),
    ],
)
def test_malformed_arch_strings_are_refused(s, match):
    with pytest.raises(InvalidConfigError, match=match):
        small().from_arch_str(s)


def test_restricted_ops():
    space = small(ops=["skip_connect", "nor_conv_3x3"])
    for seed in range(20):
        assert set(space.sample(seed)[e] for e in EDGES) <= {"skip_connect", "nor_conv_3x3"}
    with pytest.raises(InvalidConfigError, match=r"`edge_3_1` must be one of .*but got 'none'"):
        space.from_arch_str(
            "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|"
        )
    # the default cell uses only allowed ops
    assert set(space.default_config()[e] for e in EDGES) <= {"skip_connect", "nor_conv_3x3"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ops": ["none", "conv_5x5"]}, r"`ops` has the unknown op 'conv_5x5'; allowed: \['none'"),
        ({"ops": []}, r"`ops` must be a non-empty list of op names"),
        ({"ops": "none"}, r"`ops` must be a non-empty list of op names"),
        ({"ops": ["none", "none"]}, r"`ops` must not repeat an op, but got \['none', 'none'\]"),
        ({"channels": 0}, r"`channels` must be an int >= 1, but got 0"),
        ({"cells_per_stage": -1}, r"`cells_per_stage` must be an int >= 0, but got -1"),
        ({"input_shape": (1, 2, 3, 4)}, r"`input_shape` must have 1 or 2 or 3 dimensions"),
        (
            {"input_shape": (0, 8)},
            r"`input_shape` must be a tuple of positive ints, but got \(0, 8\)",
        ),
        ({"num_classes": 0}, r"`num_classes` must be an int >= 1, but got 0"),
        (
            {"learning_rate": -0.1},
            r"`learning_rate` must only hold numbers >= 0.0, but it holds -0.1",
        ),
        ({"learning_rate": 0}, r"`learning_rate` must be greater than 0, but it can be 0"),
        (
            {"learning_rate": Float(0.0, 0.1)},
            r"`learning_rate` must be greater than 0, but it can be 0 \(Float\(0.0, 0.1",
        ),
        ({"batch_size": []}, r"`batch_size` must not be an empty list of choices"),
        (
            {"batch_size": [32, 0.5]},
            r"`batch_size` must only hold integers >= 1, but it holds 0.5",
        ),
        (
            {"optimizer": ["adam", "lion"]},
            r"`optimizer` has the value 'lion'.*allowed: \['adam', 'adamw', 'sgd'\]",
        ),
        ({"epochs": 0}, r"`epochs` must only hold integers >= 1, but it holds 0"),
        ({"weight_decay": object}, r"`weight_decay` must be a Domain .*but got <class 'object'>"),
    ],
)
def test_construction_errors(kwargs, match):
    with pytest.raises(SpaceDefinitionError, match=match):
        small(**kwargs)


# -- the network ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "dim"), [((1, 8, 8), 2), ((3, 7, 5), 2), ((40,), 1), ((1, 40), 1), ((2, 9), 1)]
)
def test_forward_on_images_and_sequences(shape, dim):
    space = small(input_shape=shape, num_classes=3)
    for seed in range(5):
        net = space.build(space.sample(seed))
        out = net(torch.randn(4, *shape))
        assert out.shape == (4, 3)
        assert torch.isfinite(out).all()
    convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d))]
    assert {type(m) for m in convs} == {torch.nn.Conv2d if dim == 2 else torch.nn.Conv1d}


def test_parameter_names_follow_the_documented_layout():
    space = small(cells_per_stage=2)
    s = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    net = space.build(space.from_arch_str(s))
    names = dict(net.named_parameters())
    assert names["stem.0.weight"].shape == (4, 1, 3, 3)
    assert names["cells.0.edges.edge_1_0.conv.weight"].shape == (4, 4, 3, 3)
    assert names["cells.1.edges.edge_3_1.conv.weight"].shape == (4, 4, 1, 1)
    assert names["cells.3.edges.edge_1_0.conv.weight"].shape == (8, 8, 3, 3)  # stage 2
    assert names["cells.2.conv_a.conv.weight"].shape == (8, 4, 3, 3)  # reduction block
    assert names["cells.2.downsample.1.weight"].shape == (8, 4, 1, 1)
    assert names["cells.5.conv_b.bn.weight"].shape == (16,)
    assert names["classifier.weight"].shape == (10, 16)
    assert names["lastact.0.weight"].shape == (16,)
    assert len(net.cells) == 3 * 2 + 2
    edges = set(net.cells[0].edges.keys())
    assert edges == {"edge_1_0", "edge_2_1", "edge_3_0", "edge_3_1"}  # no module for `none`


def test_full_size_parameter_counts_match_nas_bench_201():
    space = NB201CellSpace(input_shape=(3, 32, 32), num_classes=10)

    def params(s):
        return sum(p.numel() for p in space.build(space.from_arch_str(s)).parameters())

    # NAS-Bench-201 (CIFAR-10): the largest cell has 1.53 M parameters, the empty one 0.073 M.
    assert (
        params(
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
        )
        == 1531546
    )
    assert params("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|") == 73306


def test_an_all_none_cell_ignores_its_input():
    space = small()
    net = space.build(space.from_arch_str("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")).eval()
    a, b = net(torch.randn(2, 1, 8, 8)), net(torch.randn(2, 1, 8, 8))
    torch.testing.assert_close(a, b)
    net = space.build(space.from_arch_str(BEST_CELL)).eval()
    assert not torch.allclose(net(torch.randn(2, 1, 8, 8)), net(torch.randn(2, 1, 8, 8)))


def test_build_seed_is_reproducible_and_leaves_global_rng_alone():
    space = small()
    config = space.default_config()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = space.build(config, seed=7)
    after = torch.rand(1)
    b = space.build(config, seed=7)
    assert torch.equal(before, after)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(1, 7, 7), (40,)])
def test_onnx_export_of_a_cell_with_every_op(shape, onnx_check):
    space = small(input_shape=shape)
    s = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|"
    onnx_check(space.build(space.from_arch_str(s), seed=0), torch.randn(2, *shape))


def test_path_encoding_sees_which_ops_reach_the_output():
    space = small()
    best = space.from_arch_str(BEST_CELL)  # every path is live
    x = space.path_encode(best)
    assert x.shape == (4 + 16 + 16 + 64,)
    assert [x[a:b].sum() for a, b in ((0, 4), (4, 20), (20, 36), (36, 100))] == [1, 1, 1, 1]
    # cutting edge 1<-0 kills the two paths through node 1 and nothing else
    cut = dict(best, edge_1_0="none")
    y = space.path_encode(cut)
    assert y[4:20].sum() == 0 and y[36:].sum() == 0
    assert (y[:4] == x[:4]).all() and (y[20:36] == x[20:36]).all()
    # the order of ops along a path matters: conv1x1 then conv3x3 differs from the reverse
    a = space.path_encode(
        space.from_arch_str(
            spelled(["nor_conv_1x1", "none", "none", "none", "nor_conv_3x3", "none"])
        )
    )
    b = space.path_encode(
        space.from_arch_str(
            spelled(["nor_conv_3x3", "none", "none", "none", "nor_conv_1x1", "none"])
        )
    )
    assert a[4:20].sum() == b[4:20].sum() == 1 and (a != b).any()
    # the predictor features: encode() first, then the paths
    f = space.features(best)
    assert (f[: space.encode_len] == space.encode(best)).all()
    assert (f[space.encode_len :] == x).all()


def test_features_of_a_plain_space_are_its_encoding():
    from raynas.search_spaces import Choice, SearchSpace

    space = SearchSpace({"a": Choice([1, 2, 3]), "b": Float(0.0, 1.0)})
    config = {"a": 2, "b": 0.5}
    assert (space.features(config) == space.encode(config)).all()


def test_merge_isomorphic_false_keys_each_cell_but_keeps_the_function_key():
    # node 2 is dead (its output edge is `none`), so these two cells compute the same function
    # but the network still runs node 2's convolutions: a hardware-aware search must measure both
    a = "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|"
    b = "|skip_connect~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"
    merged, apart = small(), small(merge_isomorphic=False)
    ca, cb = merged.from_arch_str(a), merged.from_arch_str(b)
    assert merged.key(ca) == merged.key(cb)
    assert apart.key(ca) != apart.key(cb)
    assert apart.function_key(ca) == apart.function_key(cb) == merged.key(ca)
    assert apart.key(ca) == apart.key(apart.from_arch_str(a))  # stable


def test_every_cell_is_its_own_config_without_merging():
    space = small(merge_isomorphic=False)
    configs = [
        space.from_arch_str(arch_str(dict(zip(EDGES, ops, strict=True))))
        for ops in itertools.product(OPS, repeat=6)
    ]
    assert len({space.key(c) for c in configs}) == 15625
    assert len({space.function_key(c) for c in configs}) == 6466


def test_merge_isomorphic_must_be_a_bool():
    with pytest.raises(
        SpaceDefinitionError, match=r"`merge_isomorphic` must be True or False, but got 'no'"
    ):
        small(merge_isomorphic="no")


@pytest.mark.slow
def test_the_onnx_export_drops_dead_operations_so_isomorphic_cells_measure_alike():
    # why merge_isomorphic=True is right for raynas' own hardware measurements
    onnx = pytest.importorskip("onnx")
    from raynas.hardware._export import _export_dynamo

    space = small()
    graphs = []
    for a in (
        "|skip_connect~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
        "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|",
    ):
        model = space.build(space.from_arch_str(a)).eval()
        graph = onnx.load_model_from_string(_export_dynamo(model, torch.zeros(1, 1, 8, 8), 18))
        graphs.append(sorted(n.op_type for n in graph.graph.node))
    assert graphs[0] == graphs[1]


def test_function_features_are_shared_by_isomorphic_cells_only():
    # node 2 is dead in both (its output edge is `none`): same function, different networks
    a = "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|"
    b = "|skip_connect~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"
    other = (
        "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|none~1|skip_connect~2|"
    )
    space = small(merge_isomorphic=False)
    ca, cb, co = (space.from_arch_str(s) for s in (a, b, other))
    assert space.cell_key(ca) == space.cell_key(cb) != space.cell_key(co)
    fa, fb, fo = (space.function_features(c) for c in (ca, cb, co))
    assert (fa == fb).all() and (fa != fo).any()

    # the mean over the class: the class of `a` holds cells with every op on node 2's edges
    def own(s: str) -> np.ndarray:
        onehot = [[op == o for o in OPS] for op in cell(s).values()]
        return np.concatenate([np.ravel(onehot), space.path_encode(space.from_arch_str(s))])

    twins = [s for s in ALL_STRS if space.cell_key(space.from_arch_str(s)) == space.cell_key(ca)]
    assert len(twins) > 2 and a in twins and b in twins
    assert fa.shape == (6 * 5 + 100,)
    assert np.allclose(fa, np.mean([own(t) for t in twins], axis=0))
    # a cell alone in its class: its own one-hot and paths
    assert (space.function_features(space.from_arch_str(BEST_CELL)) == own(BEST_CELL)).all()


def test_features_end_with_function_features_where_isomorphic_cells_are_apart():
    apart, merged = small(merge_isomorphic=False), small()
    c = apart.from_arch_str(BEST_CELL)
    f = apart.features(c)
    assert f.shape == (apart.encode_len + 100 + 130,)
    assert (f[apart.encode_len + 100 :] == apart.function_features(c)).all()
    assert merged.features(c).shape == (merged.encode_len + 100,)
    assert small(function_features=True).features(c).shape == f.shape
    assert small(merge_isomorphic=False, function_features=False).features(c).shape == (
        merged.encode_len + 100,
    )
    # a subset of ops: the classes are those of the smaller space
    three = small(ops=("none", "skip_connect", "nor_conv_3x3"), function_features=True)
    assert three.function_features(three.from_arch_str(BEST_CELL)).shape == (6 * 3 + 2 + 4 + 4 + 8,)
    with pytest.raises(SpaceDefinitionError, match="function_features.*'yes'"):
        small(function_features="yes")


def test_equivalents_are_the_other_cells_of_the_class_with_the_training_values():
    space = small(merge_isomorphic=False, learning_rate=1e-3)
    a = "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|"
    ca = space.from_arch_str(a)
    twins = space.equivalents(ca)
    expected = {
        s
        for s in ALL_STRS
        if s != a and space.cell_key(space.from_arch_str(s)) == space.cell_key(ca)
    }
    assert {space.to_arch_str(t) for t in twins} == expected
    assert all(space.validate(t)["learning_rate"] == 1e-3 for t in twins)
    assert {space.function_key(t) for t in twins} == {space.function_key(ca)}
    assert len({space.key(t) for t in twins}) == len(twins)
    # a cell alone in its class has none; merged spaces key twins together, so none either
    assert space.equivalents(space.from_arch_str(BEST_CELL)) == []
    assert small().equivalents(small().from_arch_str(a)) == []


def test_function_paths_contract_identities_and_are_shared_by_isomorphic_cells():
    space = small(merge_isomorphic=False)
    # the identity routed through node 2 (skip, skip) and a skip straight to the output: the
    # same computations, by different edges; path_encode and the one-hot tell them apart
    routed = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|nor_conv_3x3~1|skip_connect~2|"
    direct = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    cr, cd = space.from_arch_str(routed), space.from_arch_str(direct)
    fr, fd = space.function_paths(cr), space.function_paths(cd)
    assert fr.shape == (1 + 3 + 9 + 27,)
    assert (fr == fd).all() and (space.path_encode(cr) != space.path_encode(cd)).any()
    # two live paths: the identity (the empty sequence, block 0) and conv3x3 -> conv3x3
    assert fr.sum() == 2 and fr[0] == 1
    # a path through a `none` edge carries nothing: a cell that computes nothing has no paths
    zero = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert space.function_paths(space.from_arch_str(zero)).sum() == 0
    # isomorphic cells (one cell_key) get equal counts, over every cell of the space
    by_class: dict[str, set[tuple[float, ...]]] = {}
    for s in ALL_STRS:
        c = space.from_arch_str(s)
        by_class.setdefault(space.cell_key(c), set()).add(tuple(space.function_paths(c)))
    assert len(by_class) == 6466 and all(len(v) == 1 for v in by_class.values())
    # fewer ops, fewer blocks: sequences of the ops other than none and skip_connect
    conv_only = small(ops=("none", "skip_connect", "nor_conv_3x3"))
    assert conv_only.function_paths(conv_only.default_config()).shape == (4,)
