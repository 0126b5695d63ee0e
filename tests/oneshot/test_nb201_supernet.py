"""NB201Supernet: every cell is a path whose sliced weights reproduce the supernet's output."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raynas.oneshot import NB201Supernet, OneShotError  # noqa: E402
from raynas.search_spaces import InvalidConfigError, NB201CellSpace  # noqa: E402
from raynas.search_spaces._nb201 import EDGES, OPS  # noqa: E402


def space(**kwargs):
    kwargs.setdefault("input_shape", (1, 8, 8))
    kwargs.setdefault("num_classes", 10)
    kwargs.setdefault("channels", 4)
    kwargs.setdefault("cells_per_stage", 1)
    return NB201CellSpace(**kwargs)


def cell_of(ops):
    return dict(zip(EDGES, ops, strict=True))


def randomize_bn(module, seed=0):
    """Give every BN non-trivial affine parameters and running statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                n = m.num_features
                m.weight.copy_(1 + 0.3 * torch.randn(n, generator=gen))
                m.bias.copy_(0.3 * torch.randn(n, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
    return module


def op_entries(sp, op):
    """(edge, suffix) -> shape of the real stand-alone network whose every edge holds ``op``."""
    net = sp.build(sp.from_arch_str(f"|{op}~0|+|{op}~0|{op}~1|+|{op}~0|{op}~1|{op}~2|"))
    out, common = {}, {}
    for name, t in net.state_dict().items():
        parts = name.split(".")
        if parts[0] == "cells" and len(parts) > 3 and parts[2] == "edges":
            out[(parts[1], parts[3], ".".join(parts[4:]))] = tuple(t.shape)
        else:
            common[name] = tuple(t.shape)
    return out, common


@pytest.mark.slow
def test_every_one_of_the_15625_cells_maps_onto_its_standalone_state_dict():
    """For all 5^6 cells: the sliced state dict has exactly the stand-alone network's keys and
    shapes, and each tensor is the supernet's tensor of that edge's chosen op."""
    sp = space(channels=2)
    supernet = NB201Supernet(sp, seed=0)
    full = supernet.state_dict()
    per_op, common = {}, None
    for op in OPS:
        per_op[op], common = op_entries(sp, op)
    for ops in itertools.product(OPS, repeat=6):
        cell = cell_of(ops)
        expected = dict(common)
        for e in EDGES:
            for (i, edge, suffix), shape in per_op[cell[e]].items():
                if edge == e:
                    expected[f"cells.{i}.edges.{e}.{suffix}"] = shape
        sliced = supernet.path_state_dict(cell)
        assert {k: tuple(v.shape) for k, v in sliced.items()} == expected, ops
        for k, v in sliced.items():
            parts = k.split(".")
            if parts[0] == "cells" and len(parts) > 3 and parts[2] == "edges":
                source = ".".join([*parts[:4], cell[parts[3]], *parts[4:]])
            else:
                source = k
            assert torch.equal(v, full[source]), (ops, k)


def test_a_sample_of_cells_loads_strictly_into_space_build():
    sp = space()
    supernet = NB201Supernet(sp, seed=1)
    for seed in range(60):
        cfg = sp.sample(seed)
        supernet.load_into(sp.build(cfg, seed=seed), cfg)  # strict: raises on any mismatch


def forward_pairs(sp, configs, x, seed=0):
    supernet = randomize_bn(NB201Supernet(sp, seed=seed)).eval()
    for cfg in configs:
        with torch.no_grad():
            yield cfg, supernet(x, cfg), supernet.extract(cfg)(x)


def sample_configs(sp, n, seed):
    rng = np.random.default_rng(seed)
    singles = [cell_of([op] * 6) for op in OPS]
    return singles + [sp.sample(rng) for _ in range(n)]


@pytest.mark.parametrize(
    ("shape", "cells_per_stage"), [((1, 8, 8), 1), ((1, 8, 8), 2), ((1, 40), 1)]
)
def test_sliced_module_gives_the_supernet_path_output(shape, cells_per_stage):
    sp = space(input_shape=shape, cells_per_stage=cells_per_stage)
    x = torch.randn(4, *shape, generator=torch.Generator().manual_seed(3))
    n = 50 if cells_per_stage == 1 and len(shape) == 3 else 12
    checked = 0
    for cfg, a, b in forward_pairs(sp, sample_configs(sp, n, seed=len(shape)), x):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=lambda m, c=cfg: f"{c}: {m}")
        checked += 1
    assert checked == n + 5


def test_outputs_differ_between_cells_so_the_equality_is_not_vacuous():
    sp = space()
    x = torch.randn(4, 1, 8, 8)
    outs = [a for _, a, _ in forward_pairs(sp, [cell_of([op] * 6) for op in OPS], x)]
    for a, b in itertools.combinations(outs, 2):
        assert not torch.allclose(a, b)


def test_extract_copies_weights_and_keeps_the_mode():
    sp = space()
    supernet = NB201Supernet(sp, seed=0)
    cfg = cell_of(["nor_conv_3x3"] * 6)
    net = supernet.extract(cfg)
    assert net.training
    with torch.no_grad():
        net.cells[0].edges["edge_1_0"].conv.weight.add_(1.0)
    before = supernet.cells[0].edges["edge_1_0"]["nor_conv_3x3"].conv.weight
    assert not torch.equal(before, net.cells[0].edges["edge_1_0"].conv.weight)
    assert not supernet.eval().extract(cfg).training


def test_mixed_forward_with_one_hot_weights_is_the_path():
    sp = space()
    supernet = randomize_bn(NB201Supernet(sp, seed=2)).eval()
    x = torch.randn(3, 1, 8, 8)
    for cfg in sample_configs(sp, 5, seed=9):
        index = [OPS.index(cfg[e]) for e in EDGES]
        w = torch.nn.functional.one_hot(torch.tensor(index), len(OPS)).float()
        with torch.no_grad():
            path = supernet(x, cfg)
            torch.testing.assert_close(supernet.forward_mixed(x, w), path, atol=1e-5, rtol=0)
            torch.testing.assert_close(
                supernet.forward_mixed(x, w, index=index), path, atol=1e-5, rtol=0
            )


def test_same_seed_same_weights_and_global_rng_untouched():
    sp = space()
    torch.manual_seed(5)
    state = torch.random.get_rng_state()
    a, b = NB201Supernet(sp, seed=4), NB201Supernet(sp, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    c = NB201Supernet(sp, seed=5)
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)


def test_restricted_op_set():
    sp = space(ops=["skip_connect", "nor_conv_3x3"])
    supernet = NB201Supernet(sp, seed=0).eval()
    assert set(supernet.cells[0].edges["edge_1_0"].keys()) == {"skip_connect", "nor_conv_3x3"}
    x = torch.randn(2, 1, 8, 8)
    cfg = sp.sample(0)
    torch.testing.assert_close(supernet(x, cfg), supernet.extract(cfg)(x), atol=1e-5, rtol=0)
    with pytest.raises(InvalidConfigError, match=r"`edge_1_0` must be one of \['skip_connect'"):
        supernet(x, {**cfg, "edge_1_0": "avg_pool_3x3"})


def test_bad_inputs_name_the_field():
    sp = space()
    supernet = NB201Supernet(sp)
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(InvalidConfigError, match="`edge_3_2` is missing"):
        supernet(x, {e: "skip_connect" for e in EDGES[:5]})
    with pytest.raises(InvalidConfigError, match=r"`edge_2_1` must be one of .* got 'conv'"):
        supernet(x, {**cell_of(["none"] * 6), "edge_2_1": "conv"})
    with pytest.raises(OneShotError, match=r"`weights` must have the shape \(6, 5\)"):
        supernet.forward_mixed(x, torch.ones(6, 4))
    with pytest.raises(OneShotError, match="`space` must be an NB201CellSpace, but got dict"):
        NB201Supernet({})
