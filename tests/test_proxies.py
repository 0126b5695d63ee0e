"""Zero-cost proxies (raynas.proxies): synflow's value, and the Synflow feature for predictors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from raynas.proxies import Synflow, synflow
from raynas.search_spaces import NB201CellSpace

DEAD = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_synflow_of_a_linear_layer_is_the_sum_of_its_absolute_parameters():
    # R = sum(|W| @ 1 + |b|): dR/dW_ij = 1, dR/db_i = 1, so the score is sum|W| + sum|b|
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    expected = float(
        layer.weight.detach().double().abs().sum() + layer.bias.detach().double().abs().sum()
    )
    assert synflow(layer, (3,)) == pytest.approx(expected, rel=1e-12)


def test_synflow_of_two_layers_counts_every_path():
    # R = 1' |W2| |W1| 1: theta * dR/dtheta summed over W1 and W2 is 2 R
    net = nn.Sequential(nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False))
    w1, w2 = net[0].weight.detach().abs().double(), net[1].weight.detach().abs().double()
    r = float(w2.sum(0) @ w1 @ torch.ones(4, dtype=torch.float64))
    assert synflow(net, (4,)) == pytest.approx(2 * r, rel=1e-10)


def test_synflow_leaves_the_model_as_it_was():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    synflow(net, (3,))
    assert net.training and next(net.parameters()).dtype == torch.float32
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_synflow_is_zero_when_the_output_ignores_the_parameters():
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Linear(2, 2)

        def forward(self, x):
            return x.sum(dim=1)

    assert synflow(Constant(), (2,)) == 0.0


@pytest.mark.parametrize("shape", [(), (0, 3), (-1,)])
def test_a_bad_input_shape_is_refused_with_its_value(shape):
    with pytest.raises(ValueError, match="input_shape"):
        synflow(nn.Linear(3, 1), shape)


def _space():
    return NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4, cells_per_stage=1)


def test_synflow_feature_ranks_a_cell_of_convolutions_above_a_cell_that_computes_nothing():
    space = _space()
    proxy = Synflow(space)
    live, dead = proxy(space.from_arch_str(CONV))[0], proxy(space.from_arch_str(DEAD))[0]
    assert math.isfinite(live) and math.isfinite(dead) and live > dead >= 0.0


def test_synflow_feature_is_deterministic_cached_and_leaves_the_torch_seed_alone():
    space = _space()
    config = space.from_arch_str(CONV)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = Synflow(space)(config)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = Synflow(space)
    assert b(config) == a and len(b._cache) == 1
    assert b(config) == a and len(b._cache) == 1
    assert Synflow(space, seed=1)(config) != a  # another initialization, another score


def test_a_config_that_cannot_be_built_gives_nan_and_a_warning_not_an_error():
    class Broken(NB201CellSpace):
        def _build(self, config):
            raise RuntimeError("no kernel for this op")

    space = Broken(input_shape=(1, 8, 8), num_classes=10, channels=4, cells_per_stage=1)
    with pytest.warns(RuntimeWarning, match="no kernel for this op"):
        value = Synflow(space)(space.from_arch_str(CONV))
    assert math.isnan(value[0])


def test_synflow_feature_needs_an_input_shape():
    from raynas.testing import small_space

    with pytest.raises(ValueError, match="input_shape"):
        Synflow(small_space())


def test_synflow_feature_pickles_without_its_cache():
    import pickle

    space = _space()
    proxy = Synflow(space)
    value = proxy(space.from_arch_str(CONV))
    copy = pickle.loads(pickle.dumps(proxy))
    assert copy._cache == {} and copy(space.from_arch_str(CONV)) == value
