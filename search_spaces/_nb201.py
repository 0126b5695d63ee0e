"""The NAS-Bench-201 cell space: 6 edges x 5 ops = 15,625 cells in 6,466 isomorphism classes."""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._builtin import BATCH_SIZE, LEARNING_RATE, WEIGHT_DECAY, BuiltinSpace, check_int
from ._domains import Choice, Domain
from .errors import InvalidConfigError, SpaceDefinitionError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: The config keys of the cell's edges, ``edge_<to>_<from>``, in arch-string order.
EDGES = ("edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2")
#: The NAS-Bench-201 operations, in the benchmark's order.
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The cell's input-to-output paths, as the edges they run through (node 0 to node 3).
_PATHS = (
    ("edge_3_0",),
    ("edge_1_0", "edge_3_1"),
    ("edge_2_0", "edge_3_2"),
    ("edge_1_0", "edge_2_1", "edge_3_2"),
)
#: The operations from the cheapest to the costliest (``none`` computes nothing).
_OPS_BY_COST = ("none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3")
#: A strong cell (the best one of NAS-Bench-201 on CIFAR-10), the default architecture.
BEST_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"

_NODE_RE = re.compile(r"^\|(?:[a-z0-9_]+~\d\|)+$")


def arch_str(ops: Mapping[str, str]) -> str:
    """The NAS-Bench-201 string of a cell given as ``{edge_key: op}``."""
    e = ops
    return (
        f"|{e['edge_1_0']}~0|+|{e['edge_2_0']}~0|{e['edge_2_1']}~1|"
        f"+|{e['edge_3_0']}~0|{e['edge_3_1']}~1|{e['edge_3_2']}~2|"
    )


def parse_arch_str(s: str, ops: Sequence[str] = OPS) -> dict[str, str]:
    """``{edge_key: op}`` of a NAS-Bench-201 string; :class:`InvalidConfigError` if malformed."""
    example = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"
    if not isinstance(s, str):
        raise InvalidConfigError(f"the arch string must be a str, but got {s!r}.", "arch_str")
    nodes = s.split("+")
    if len(nodes) != 3 or not all(_NODE_RE.match(n) for n in nodes):
        raise InvalidConfigError(
            f"the arch string must look like {example!r} (3 nodes joined by '+'), but got {s!r}.",
            "arch_str",
        )
    out: dict[str, str] = {}
    for target, node in enumerate(nodes, start=1):
        terms = node.strip("|").split("|")
        if len(terms) != target:
            raise InvalidConfigError(
                f"node {target} of the arch string must have {target} input(s), but got "
                f"{len(terms)} in {node!r} (arch string {s!r}).",
                "arch_str",
            )
        for source, term in enumerate(terms):
            op, _, src = term.partition("~")
            key = f"edge_{target}_{source}"
            if src != str(source):
                raise InvalidConfigError(
                    f"input {source} of node {target} must read '<op>~{source}', but got "
                    f"{term!r} (arch string {s!r}).",
                    key,
                )
            if op not in ops:
                raise InvalidConfigError(
                    f"`{key}` must be one of {list(ops)}, but got {op!r} (arch string {s!r}).",
                    key,
                )
            out[key] = op
    return out


def unique_cell_str(ops: Mapping[str, str]) -> str:
    """The isomorphism-aware canonical string of a cell (6,466 classes over the 15,625 cells).

    Each node is an expression: the sorted ``+``-join of one term per incoming edge, where the
    term is ``#`` (zero) for a ``none`` edge or an edge leaving a node whose expression is ``#``,
    the source's expression itself for ``skip_connect`` (identity), and ``(source)@op`` for any
    other op. The output node's expression is the key, so relabelling the intermediate nodes,
    unused nodes and identity edges do not change it. This is the rule the NAS-Bench-201 authors
    used to count the benchmark's 6,466 unique cells (``Structure.to_unique_str(consider_zero=
    True)``); like theirs, it counts each zero term of a sum (``a+#`` is not ``a``) and treats a
    node as zero only when its whole expression is ``#`` (node 1 behind a ``none`` edge).

    Example:
        >>> unique_cell_str(parse_arch_str(
        ...     "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"))
        '#+#+0'
    """
    nodes = ["0"]
    for target in (1, 2, 3):
        terms = []
        for source in range(target):
            op = ops[f"edge_{target}_{source}"]
            x = nodes[source]
            if op == "none" or x == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(x)
            else:
                terms.append(f"({x})@{op}")
        nodes.append("+".join(sorted(terms)))
    return nodes[3]


def _path_encoding(cell: Mapping[str, str], ops: Sequence[str]) -> np.ndarray:
    """BANANAS' path encoding of ``{edge_key: op}`` over ``ops`` (see ``path_encode``)."""
    live = [op for op in ops if op != "none"]
    blocks = []
    for path in _PATHS:
        block = np.zeros(len(live) ** len(path))
        if all(cell[e] != "none" for e in path):
            index = 0
            for e in path:
                index = index * len(live) + live.index(cell[e])
            block[index] = 1.0
        blocks.append(block)
    return np.concatenate(blocks)


@functools.lru_cache(maxsize=8)
def _path_sequences(ops: tuple[str, ...]) -> dict[tuple[str, ...], int]:
    """Index of each sequence of up to three ops of ``ops`` other than ``none`` and
    ``skip_connect`` (the empty sequence first): the blocks of :func:`_function_paths`."""
    compute = [op for op in ops if op not in ("none", "skip_connect")]
    seqs = [s for n in range(len(_PATHS[-1]) + 1) for s in itertools.product(compute, repeat=n)]
    return {s: i for i, s in enumerate(seqs)}


def _function_paths(cell: Mapping[str, str], ops: tuple[str, ...]) -> np.ndarray:
    """Counts of the cell's live paths by their ops, identities contracted (``function_paths``)."""
    index = _path_sequences(ops)
    out = np.zeros(len(index))
    for path in _PATHS:
        path_ops = [cell[e] for e in path]
        if "none" not in path_ops:
            out[index[tuple(op for op in path_ops if op != "skip_connect")]] += 1.0
    return out


@functools.lru_cache(maxsize=8)
def _class_cells(ops: tuple[str, ...]) -> dict[str, list[tuple[str, ...]]]:
    """The cells over ``ops`` (their ops in ``EDGES`` order) of each isomorphism class, by
    :func:`unique_cell_str`."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for cell_ops in itertools.product(ops, repeat=len(EDGES)):
        out.setdefault(unique_cell_str(dict(zip(EDGES, cell_ops, strict=True))), []).append(
            cell_ops
        )
    return out


@functools.lru_cache(maxsize=8)
def _class_features(ops: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Each isomorphism class's mean cell features (each edge's op one-hot, then the path
    encoding) over its cells, by :func:`unique_cell_str`, for the cells over ``ops``."""

    def own(cell_ops: tuple[str, ...]) -> np.ndarray:
        onehot = np.zeros((len(EDGES), len(ops)))
        onehot[np.arange(len(EDGES)), [ops.index(op) for op in cell_ops]] = 1.0
        return np.concatenate(
            [onehot.ravel(), _path_encoding(dict(zip(EDGES, cell_ops, strict=True)), ops)]
        )

    return {k: np.mean([own(c) for c in cells], axis=0) for k, cells in _class_cells(ops).items()}


class NB201CellSpace(BuiltinSpace):
    """The NAS-Bench-201 cell, stacked into the NAS-Bench-201 network, plus training values.

    Config: the six edges ``edge_1_0, edge_2_0, edge_2_1, edge_3_0, edge_3_1, edge_3_2`` (edge
    ``i <- j`` carries an op from node ``j`` to node ``i``; arch-string order), each one of
    ``ops``, then ``learning_rate``, ``weight_decay``, ``batch_size`` (and ``optimizer``,
    ``epochs`` when given). The network: stem conv + BN, three stages of ``cells_per_stage``
    cells (``channels``, 2x, 4x) with residual reduction blocks between them, then
    BN-ReLU-global pooling-linear; ``nor_conv`` ops are ReLU-Conv-BN. Images ``(C, H, W)`` use
    2-D layers, sequences ``(L,)`` or ``(C, L)`` (MNIST-1D) the 1-D variants of the same ops.
    Parameter names are listed in ``raynas.search_spaces._torch_nb201``.

    Args:
        input_shape: shape of one input without the batch dimension.
        num_classes: number of logits.
        channels: channels of the first stage (NAS-Bench-201: 16).
        cells_per_stage: cells per stage, ``N`` (NAS-Bench-201: 5).
        ops: the candidate operations of every edge, a subset of :data:`OPS`.
        learning_rate, weight_decay, batch_size: a Domain (searched) or a plain value (fixed).
        optimizer, epochs: optional, likewise; absent from the config when None.
        merge_isomorphic: whether :meth:`key` makes isomorphic cells one config (the
            default: they compute the same function, so a search need not train both). raynas'
            ONNX export drops a cell's dead operations, so isomorphic cells also measure the
            same on hardware. Pass ``False`` where the cost is measured on the network with its
            dead operations, as in NAS-Bench-201's and HW-NAS-Bench's latency tables (or eager
            PyTorch): there isomorphic cells differ in latency and energy, and each is a config
            of its own. :meth:`function_key` stays isomorphism-aware either way, so a
            predictor can still share what it learnt about accuracy between them.
        function_features: whether :meth:`features` (a predictor's inputs) ends with
            :meth:`function_features`, the features isomorphic cells share; None (the
            default): where ``merge_isomorphic`` is False, the space whose configs include
            isomorphic cells.

    Example:
        >>> space = NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4,
        ...                        cells_per_stage=1)
        >>> cfg = space.from_arch_str(BEST_CELL)
        >>> space.to_arch_str(cfg) == BEST_CELL
        True
        >>> space.build(cfg)(__import__("torch").zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        num_classes: int,
        channels: int = 16,
        cells_per_stage: int = 5,
        ops: Sequence[str] = OPS,
        learning_rate: Domain | float = LEARNING_RATE,
        weight_decay: Domain | float = WEIGHT_DECAY,
        batch_size: Domain | int = BATCH_SIZE,
        optimizer: Domain | str | None = None,
        epochs: Domain | int | None = None,
        merge_isomorphic: bool = True,
        function_features: bool | None = None,
    ) -> None:
        self.channels = check_int(channels, "channels", low=1)
        if not isinstance(merge_isomorphic, bool):
            raise SpaceDefinitionError(
                f"`merge_isomorphic` must be True or False, but got {merge_isomorphic!r}."
            )
        self.merge_isomorphic = merge_isomorphic
        if function_features is not None and not isinstance(function_features, bool):
            raise SpaceDefinitionError(
                f"`function_features` must be True, False or None (on where "
                f"`merge_isomorphic` is False), but got {function_features!r}."
            )
        self.with_function_features = (
            not merge_isomorphic if function_features is None else function_features
        )
        self.cells_per_stage = check_int(cells_per_stage, "cells_per_stage", low=0)
        if isinstance(ops, str) or not isinstance(ops, Sequence) or len(ops) == 0:
            raise SpaceDefinitionError(
                f"`ops` must be a non-empty list of op names from {list(OPS)}, but got {ops!r}."
            )
        for op in ops:
            if op not in OPS:
                raise SpaceDefinitionError(
                    f"`ops` has the unknown op {op!r}; allowed: {list(OPS)}."
                )
        if len(set(ops)) != len(ops):
            raise SpaceDefinitionError(f"`ops` must not repeat an op, but got {list(ops)}.")
        self.ops = tuple(ops)
        super().__init__(
            {e: Choice(list(self.ops), ordered=False) for e in EDGES},
            input_shape=input_shape,
            num_classes=num_classes,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            optimizer=optimizer,
            epochs=epochs,
        )

    # -- arch strings --------------------------------------------------------------------------
    def to_arch_str(self, config: Mapping[str, Any]) -> str:
        """The exact NAS-Bench-201 string, ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        return arch_str(self.validate(config))

    def from_arch_str(self, s: str, **training: Any) -> dict[str, Any]:
        """A config of this space with the cell of ``s``.

        Training values not given in ``training`` come from :meth:`default_training`.
        """
        unknown = [k for k in training if k in EDGES or k not in self.fields]
        if unknown:
            raise InvalidConfigError(
                f"`{unknown[0]}` is not a training parameter of this space; the training "
                f"parameters are {self.training_keys}.",
                unknown[0],
            )
        config = parse_arch_str(s, self.ops)
        config.update(self.default_training())
        config.update(training)
        return self.validate(config)

    # -- keys ----------------------------------------------------------------------------------
    def cell_key(self, config: Mapping[str, Any]) -> str:
        """The isomorphism-aware key of the cell alone (see :func:`unique_cell_str`)."""
        return unique_cell_str(self.validate(config))

    def key(self, config: Mapping[str, Any]) -> str:
        """Canonical string: with ``merge_isomorphic`` (the default) isomorphic cells with equal
        training values share it; without, only identical cells do."""
        if self.merge_isomorphic:
            return self.function_key(config)
        config = self.validate(config)
        rest = {k: v for k, v in config.items() if k not in EDGES}
        rest["cell"] = arch_str(config)
        return json.dumps(rest, sort_keys=True, separators=(",", ":"))

    def function_key(self, config: Mapping[str, Any]) -> str:
        """Isomorphic cells with equal training values share it, whatever ``merge_isomorphic``."""
        config = self.validate(config)
        rest = {k: v for k, v in config.items() if k not in EDGES}
        rest["cell"] = unique_cell_str(config)
        return json.dumps(rest, sort_keys=True, separators=(",", ":"))

    def equivalents(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The other cells over ``ops`` isomorphic to ``config``'s (same :meth:`cell_key`),
        with its training values: the same function, with other dead or relabelled operations,
        hence another latency. Empty with ``merge_isomorphic``, where they share the key."""
        config = self.validate(config)
        if self.merge_isomorphic:
            return []
        rest = {k: v for k, v in config.items() if k not in EDGES}
        own = tuple(config[e] for e in EDGES)
        return [
            {**dict(zip(EDGES, cell, strict=True)), **rest}
            for cell in _class_cells(self.ops)[unique_cell_str(config)]
            if cell != own
        ]

    def extremes(self) -> list[dict[str, Any]]:
        """The cheapest cell (every edge the cheapest op of ``ops``, ``none`` by default: the cell
        computes nothing) and the costliest one (every edge ``nor_conv_3x3``), with
        :meth:`default_training`: the anchors of an accuracy / cost front."""
        ranked = sorted(self.ops, key=_OPS_BY_COST.index)
        if len(ranked) < 2:
            return []
        training = self.default_training()
        return [
            self.validate({**{e: op for e in EDGES}, **training}) for op in (ranked[0], ranked[-1])
        ]

    # -- predictor features ---------------------------------------------------------------------
    def path_encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """BANANAS' path encoding of the cell (White et al., AAAI 2021).

        The cell's four input-to-output paths (``3<-0``, ``1<-0,3<-1``, ``2<-0,3<-2``,
        ``1<-0,2<-1,3<-2``) each get a one-hot block over the sequences of their ops; a path
        through a ``none`` edge carries nothing, so its block stays zero. Unlike the one-hot of
        each edge alone, this sees which ops actually reach the output, and in which order.
        """
        return _path_encoding(self.validate(config), self.ops)

    def function_features(self, config: Mapping[str, Any]) -> np.ndarray:
        """Features of what the cell computes: each edge's op one-hot, then :meth:`path_encode`,
        averaged over the cell's isomorphism class (the cells over ``ops`` with its
        :meth:`cell_key`).

        Isomorphic cells get equal values, whatever dead or relabelled operations they carry,
        so a predictor learns the accuracy of a function from any of its cells and sees it
        in the features their twins share, while the cell's own features say what its network
        runs (what its latency depends on). Computed for all the space's cells on first use
        (about a second for the five ops).
        """
        return _class_features(self.ops)[unique_cell_str(self.validate(config))].copy()

    def function_paths(self, config: Mapping[str, Any]) -> np.ndarray:
        """What the cell computes, as counts of its input-to-output paths by their operations.

        Each of the four paths that has no ``none`` edge counts once towards the sequence of
        its ops other than ``skip_connect`` (an identity: the path ``skip, skip`` is the
        empty sequence, like a ``skip`` straight to the output); the blocks are the sequences
        of zero to three of the other ops (40 for the five ops). Isomorphic cells get equal
        counts (checked over all 15,625 cells: 4,120 distinct vectors for 6,466 classes), and
        unlike :meth:`path_encode` and the one-hot of each edge, cells that reach the output
        through the same computations by different routes look alike. A surrogate of accuracy
        needs exactly that: a ridge regressor on :meth:`features` learns that a cell without a
        ``skip`` straight to the output is poor and predicts the cells that route their
        identity through node 2 10-65 points too low. ``benchmarks/search_efficiency.py``'s
        multi-objective setting models accuracy with extra trees on these counts
        (``PredictorGuided(surrogate={acc: Surrogate(inputs="function_paths")})``);
        ``benchmarks/accuracy_surrogate.py`` compares the surrogates. Latency is not a function
        of these counts: a network runs its dead operations too.
        """
        return _function_paths(self.validate(config), self.ops)

    def features(self, config: Mapping[str, Any]) -> np.ndarray:
        """:meth:`encode` followed by :meth:`path_encode` and, where the space was built with
        ``function_features`` (by default where ``merge_isomorphic`` is False), by
        :meth:`function_features`: the inputs of performance predictors."""
        parts = [self.encode(config), self.path_encode(config)]
        if self.with_function_features:
            parts.append(self.function_features(config))
        return np.concatenate(parts)

    # -- defaults and building -----------------------------------------------------------------
    def default_arch(self) -> dict[str, Any]:
        best = parse_arch_str(BEST_CELL)
        return {e: best[e] if best[e] in self.ops else self.ops[-1] for e in EDGES}

    def _build(self, config: dict[str, Any]) -> torch.nn.Module:
        from ._torch_nb201 import NB201Network

        return NB201Network(
            {e: config[e] for e in EDGES},
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            channels=self.channels,
            cells_per_stage=self.cells_per_stage,
        )
