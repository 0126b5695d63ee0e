"""The NAS-Bench-201 supernet: every cell edge holds all candidate ops with their own weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from raynas.search_spaces._nb201 import EDGES, NB201CellSpace
from raynas.search_spaces._torch_layers import (
    AddChannel,
    add_all,
    batch_norm,
    conv,
    global_pool,
    in_channels,
    spatial_dims,
)
from raynas.search_spaces._torch_nb201 import NB201Network, ResNetBasicBlock, make_op
from raynas.search_spaces.errors import InvalidConfigError

from .errors import OneShotError

#: ``(target, source, edge_key)`` of the cell's edges, in arch-string order.
_EDGE_NODES = tuple((int(e[5]), int(e[7]), e) for e in EDGES)


class MixedCell(nn.Module):
    """A NAS-Bench-201 cell whose every edge holds one module per candidate op.

    Parameter names: ``edges.<edge_key>.<op>.<name in the stand-alone op>``; ``none`` has no
    module, ``skip_connect`` and ``avg_pool_3x3`` have no parameters.
    """

    def __init__(self, ops: Sequence[str], dim: int, channels: int) -> None:
        super().__init__()
        self.ops = tuple(ops)
        self.edges = nn.ModuleDict()
        for key in EDGES:
            self.edges[key] = nn.ModuleDict(
                {op: make_op(op, dim, channels) for op in self.ops if op != "none"}
            )

    def _op(self, key: str, op: str) -> nn.Module:
        """The shared module of operation ``op`` on edge ``key``."""
        edge = self.edges[key]
        assert isinstance(edge, nn.ModuleDict)
        return edge[op]

    def forward_path(self, x: torch.Tensor, cell: Mapping[str, str]) -> torch.Tensor:
        """The output of the single-path cell ``cell`` (``{edge_key: op}``).

        Terms are summed in the order of the stand-alone ``NB201Cell``, so both give bitwise the
        same result.
        """
        nodes = [x]
        for target in (1, 2, 3):
            terms = []
            for t, source, key in _EDGE_NODES:
                if t == target and cell[key] != "none":
                    terms.append(self._op(key, cell[key])(nodes[source]))
            nodes.append(add_all(terms) if terms else torch.zeros_like(x))
        return nodes[3]

    def forward_mixed(
        self,
        x: torch.Tensor,
        weights: torch.Tensor,
        *,
        index: Sequence[int] | None = None,
        aux_skip: float = 0.0,
    ) -> torch.Tensor:
        """The cell with edge ``e`` computing ``sum_o weights[e, o] * op_o(x)``.

        Args:
            weights: ``(6, len(ops))``, one row per edge in :data:`EDGES` order.
            index: when given (GDAS), edge ``e`` computes only op ``index[e]``, scaled by
                ``weights[e, index[e]]`` (a straight-through one-hot weight: value 1, gradient
                of the soft weight); ``none`` gives zeros that still carry that weight's
                gradient.
            aux_skip: DARTS-'s auxiliary skip: ``aux_skip * x`` is added to every edge's output.
        """
        nodes = [x]
        for target in (1, 2, 3):
            terms = []
            for e, (t, source, key) in enumerate(_EDGE_NODES):
                if t != target:
                    continue
                h = nodes[source]
                if index is not None:
                    op = self.ops[index[e]]
                    out = h * 0.0 if op == "none" else self._op(key, op)(h)
                    out = weights[e, index[e]] * out
                else:
                    parts = [
                        weights[e, o] * self._op(key, op)(h)
                        for o, op in enumerate(self.ops)
                        if op != "none"
                    ]
                    out = add_all(parts) if parts else h * 0.0
                if aux_skip:
                    out = out + aux_skip * h
                terms.append(out)
            nodes.append(add_all(terms))
        return nodes[3]


class NB201Supernet(nn.Module):
    """The one-shot supernet of an :class:`NB201CellSpace`: every config is one of its paths.

    The macro skeleton (stem, reduction blocks, head) is the one of ``space.build``; each cell
    edge holds every op of ``space.ops`` with its own weights (a DARTS mixed op). A config's
    stand-alone network takes, for edge ``e`` of cell ``i``, the weights of
    ``cells.i.edges.<e>.<config[e]>`` and every other weight unchanged, so
    :meth:`extract` gives a module whose outputs equal :meth:`forward` on that path.

    Three ways to run it: :meth:`forward` (one path, single-path one-shot / weight-sharing
    evaluation), :meth:`forward_mixed` with a ``(6, len(ops))`` weight matrix (DARTS; GDAS with
    ``index``).

    Args:
        space: the cell space; its ``input_shape``, ``num_classes``, ``channels``,
            ``cells_per_stage`` and ``ops`` fix the supernet.
        seed: seeds the weight initialisation (torch's global RNG is left as it was).

    Example:
        >>> import torch
        >>> from raynas.search_spaces import NB201CellSpace
        >>> space = NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4,
        ...                        cells_per_stage=1)
        >>> supernet = NB201Supernet(space, seed=0).eval()
        >>> cfg = space.sample(0)
        >>> x = torch.randn(2, 1, 8, 8)
        >>> torch.allclose(supernet(x, cfg), supernet.extract(cfg).eval()(x), atol=1e-5)
        True
    """

    def __init__(self, space: NB201CellSpace, *, seed: int | None = None) -> None:
        super().__init__()
        if not isinstance(space, NB201CellSpace):
            raise OneShotError(
                f"`space` must be an NB201CellSpace, but got {type(space).__name__}."
            )
        self.space = space
        self.ops: tuple[str, ...] = tuple(space.ops)
        if seed is None:
            self._build_modules()
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self._build_modules()

    def _build_modules(self) -> None:
        space = self.space
        dim = spatial_dims(space.input_shape)
        c = space.channels
        self.add_channel = AddChannel(space.input_shape)
        self.stem = nn.Sequential(
            conv(dim, in_channels(space.input_shape), c, 3, padding=1, bias=False),
            batch_norm(dim, c),
        )
        cells: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                cells.append(ResNetBasicBlock(dim, c, 2 * c))
                c = 2 * c
            cells.extend(MixedCell(self.ops, dim, c) for _ in range(space.cells_per_stage))
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(batch_norm(dim, c), nn.ReLU(inplace=False))
        self.global_pooling = global_pool(dim)
        self.classifier = nn.Linear(c, space.num_classes)

    # -- configs -------------------------------------------------------------------------------
    def cell_of(self, config: Mapping[str, Any]) -> dict[str, str]:
        """``{edge_key: op}`` of ``config`` (a full config of the space or just its six edges).

        Raises:
            InvalidConfigError: an edge is missing or holds an op outside ``space.ops``.
        """
        if not isinstance(config, Mapping):
            raise InvalidConfigError(
                f"a config must be a dict with the keys {list(EDGES)}, but got {config!r}."
            )
        cell = {}
        for key in EDGES:
            if key not in config:
                raise InvalidConfigError(
                    f"`{key}` is missing from the config; a cell needs the keys {list(EDGES)}.",
                    key,
                )
            op = config[key]
            if op not in self.ops:
                raise InvalidConfigError(
                    f"`{key}` must be one of {list(self.ops)}, but got {op!r}.", key
                )
            cell[key] = op
        return cell

    # -- forward passes ------------------------------------------------------------------------
    def _head(self, x: torch.Tensor) -> torch.Tensor:
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))

    def forward(self, x: torch.Tensor, config: Mapping[str, Any]) -> torch.Tensor:
        """Logits of the single path ``config`` (the same as ``extract(config)(x)``)."""
        cell = self.cell_of(config)
        x = self.stem(self.add_channel(x))
        for block in self.cells:
            x = block.forward_path(x, cell) if isinstance(block, MixedCell) else block(x)
        return self._head(x)

    def forward_mixed(
        self,
        x: torch.Tensor,
        weights: torch.Tensor,
        *,
        index: Sequence[int] | None = None,
        aux_skip: float = 0.0,
    ) -> torch.Tensor:
        """Logits with every cell's edges mixed by ``weights`` (``(6, len(ops))``, shared).

        See :meth:`MixedCell.forward_mixed` for ``index`` (GDAS) and ``aux_skip`` (DARTS-).
        """
        expected = (len(EDGES), len(self.ops))
        if tuple(weights.shape) != expected:
            raise OneShotError(
                f"`weights` must have the shape {expected} (edges x ops), but got "
                f"{tuple(weights.shape)}."
            )
        x = self.stem(self.add_channel(x))
        for block in self.cells:
            if isinstance(block, MixedCell):
                x = block.forward_mixed(x, weights, index=index, aux_skip=aux_skip)
            else:
                x = block(x)
        return self._head(x)

    # -- slicing -------------------------------------------------------------------------------
    def path_state_dict(self, config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The state dict of the stand-alone network of ``config``, taken from this supernet.

        Keys are those of ``space.build(config).state_dict()``; tensors are detached copies.
        """
        cell = self.cell_of(config)
        out: dict[str, torch.Tensor] = {}
        for name, tensor in self.state_dict().items():
            parts = name.split(".")
            if parts[0] == "cells" and len(parts) > 4 and parts[2] == "edges":
                edge, op = parts[3], parts[4]
                if cell[edge] != op:
                    continue
                name = ".".join(parts[:4] + parts[5:])
            out[name] = tensor.detach().clone()
        return out

    def load_into(self, module: nn.Module, config: Mapping[str, Any]) -> nn.Module:
        """Load the weights of ``config``'s path into ``module`` (built by ``space.build``)."""
        module.load_state_dict(self.path_state_dict(config), strict=True)
        return module

    def build(self, config: Mapping[str, Any]) -> nn.Module:
        """A fresh (randomly initialised) stand-alone network of ``config``'s cell."""
        space = self.space
        network = NB201Network(
            self.cell_of(config),
            input_shape=space.input_shape,
            num_classes=space.num_classes,
            channels=space.channels,
            cells_per_stage=space.cells_per_stage,
        )
        return network.to(next(self.parameters()).device)

    def extract(self, config: Mapping[str, Any]) -> nn.Module:
        """The stand-alone network of ``config`` with the weights (and BN statistics) sliced out.

        Its mode (train/eval) is this supernet's.
        """
        return self.load_into(self.build(config), config).train(self.training)
