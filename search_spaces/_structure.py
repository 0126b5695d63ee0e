"""Structured nodes: mappings of named decisions, conditional decisions and repeated blocks.

A config is plain JSON-like data: a dict for a :class:`Struct`, a list for a :class:`Repeat`
(its length is the repeat count) and scalars for leaf domains. Every operation walks the node tree
once; errors carry the path of the bad value (``layers[2].kernel_size``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._domains import Domain, _plain, _same, _tune_seed
from ._rng import as_rng
from .errors import InvalidConfigError, SpaceDefinitionError

Node = Any  # Domain | Struct | Repeat


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def _check_node(node: Any, where: str) -> None:
    if not isinstance(node, (Domain, Struct, Repeat)):
        raise SpaceDefinitionError(
            f"`{where}` must be a Domain (Choice, Int, Float, Boolean, Fixed), a Struct or a "
            f"Repeat, but got {node!r}."
        )


class When:
    """Marks a field of a :class:`Struct` as active only while a sibling takes certain values.

    Example:
        >>> s = Struct({"num_layers": Int(1, 3),
        ...             "units_2": When("num_layers", [3], Int(32, 512, step=32))})
    """

    def __init__(self, parent: str, values: Sequence[Any], node: Node) -> None:
        if not isinstance(parent, str):
            raise SpaceDefinitionError(f"`parent` of When must be a field name, got {parent!r}.")
        values = [_plain(v) for v in values]
        if not values:
            raise SpaceDefinitionError(f"`values` of When({parent!r}, ...) must not be empty.")
        _check_node(node, f"When({parent!r}).node")
        self.parent, self.values, self.node = parent, values, node

    def active(self, parent_value: Any) -> bool:
        return any(_same(parent_value, v) for v in self.values)

    def __repr__(self) -> str:
        return f"When({self.parent!r}, {self.values!r}, {self.node!r})"


class Struct:
    """A mapping of named nodes; some fields may be conditional (:class:`When`).

    A condition's parent must be a field defined earlier in the same Struct with finitely many
    values; conditions may chain (a conditional field may gate further fields).
    """

    def __init__(self, fields: Mapping[str, Node | When]) -> None:
        if not isinstance(fields, Mapping) or not fields:
            raise SpaceDefinitionError("a search space needs at least one parameter.")
        self.fields: dict[str, Node | When] = {}
        for name, node in fields.items():
            if not isinstance(name, str) or not name:
                raise SpaceDefinitionError(f"parameter names must be non-empty str, got {name!r}.")
            if isinstance(node, When):
                parent = self.fields.get(node.parent)
                if parent is None:
                    raise SpaceDefinitionError(
                        f"`{name}` is conditional on `{node.parent}`, which must be defined before "
                        f"it; defined so far: {list(self.fields)}."
                    )
                pdomain = parent.node if isinstance(parent, When) else parent
                if not isinstance(pdomain, Domain) or pdomain.finite_values() is None:
                    raise SpaceDefinitionError(
                        f"`{name}` is conditional on `{node.parent}`, which must be a Choice, "
                        f"Boolean, Fixed or a small Int, but it is {pdomain!r}."
                    )
                for v in node.values:
                    if not pdomain.contains(v):
                        raise SpaceDefinitionError(
                            f"`{name}` is conditional on `{node.parent}` in {node.values!r}, but "
                            f"{v!r} is not a value of `{node.parent}` ({pdomain!r})."
                        )
            else:
                _check_node(node, name)
            self.fields[name] = node
        self._gates = {w.parent for w in self.fields.values() if isinstance(w, When)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.fields!r})"

    # -- helpers -------------------------------------------------------------------------------
    def _active(self, name: str, value: Mapping[str, Any]) -> bool:
        f = self.fields[name]
        if not isinstance(f, When):
            return True
        if not self._active(f.parent, value) or f.parent not in value:
            return False
        return f.active(value[f.parent])

    @staticmethod
    def _node(f: Node | When) -> Node:
        return f.node if isinstance(f, When) else f

    def _flatten_groups(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """Merge the nested dicts that :meth:`to_hyperopt` produces for gated groups."""
        out = dict(value)
        changed = True
        while changed:
            changed = False
            for name in list(out):
                v = out[name]
                if name in self._gates and isinstance(v, Mapping) and name in v:
                    del out[name]
                    for k, kv in v.items():
                        out[k] = kv
                    changed = True
        return out

    # -- operations ----------------------------------------------------------------------------
    def sample_node(self, rng: np.random.Generator) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            if self._active(name, out):
                out[name] = _sample(self._node(f), rng)
        return out

    def normalize_node(self, value: Any, path: str) -> dict[str, Any]:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise InvalidConfigError(
                f"`{path or 'config'}` must be a dict, but got {type(value).__name__}: {value!r}.",
                path,
            )
        value = self._flatten_groups(value)
        unknown = [k for k in value if k not in self.fields]
        if unknown:
            where = f" in `{path}`" if path else ""
            raise InvalidConfigError(
                f"`{_join(path, unknown[0])}` is not a parameter of this space{where}; "
                f"the parameters are {list(self.fields)}.",
                _join(path, unknown[0]),
            )
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            p = _join(path, name)
            if self._active(name, out):
                if name not in value or value[name] is None:
                    extra = ""
                    if isinstance(f, When):
                        extra = f" (it is active because `{f.parent}` = {out[f.parent]!r})"
                    raise InvalidConfigError(f"`{p}` is missing{extra}.", p)
                out[name] = _normalize(self._node(f), value[name], p)
            elif name in value and value[name] is not None:
                assert isinstance(f, When)
                parent_value = out.get(f.parent, "<inactive>")
                raise InvalidConfigError(
                    f"`{p}` is set, but it only exists when `{f.parent}` is one of {f.values!r}, "
                    f"and `{f.parent}` = {parent_value!r}.",
                    p,
                )
        return out

    def repair_node(self, value: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            if not self._active(name, out):
                continue
            node = self._node(f)
            out[name] = _repair(node, value[name], rng) if name in value else _sample(node, rng)
        return out

    def sites_node(self, value: dict[str, Any]) -> list[Callable[[np.random.Generator], None]]:
        sites: list[Callable[[np.random.Generator], None]] = []
        for name in self.fields:
            if name not in value:
                continue
            node = self._node(self.fields[name])
            if isinstance(node, Domain):
                if node.is_variable:

                    def site(
                        rng: np.random.Generator, name: str = name, node: Domain = node
                    ) -> None:
                        value[name] = node.neighbor(value[name], rng)

                    sites.append(site)
            else:
                sites.extend(_sites(node, value[name]))
        return sites

    def crossover_node(
        self, a: dict[str, Any], b: dict[str, Any], rng: np.random.Generator
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            node = self._node(f)
            if name in a and name in b:
                if isinstance(node, Domain):
                    out[name] = copy.deepcopy(a[name] if rng.random() < 0.5 else b[name])
                else:
                    out[name] = _crossover(node, a[name], b[name], rng)
            elif name in a or name in b:
                out[name] = copy.deepcopy(a[name] if name in a else b[name])
        return self.repair_node(out, rng)

    def encode_node(self, value: Mapping[str, Any] | None) -> list[float]:
        out: list[float] = []
        for name, f in self.fields.items():
            node = self._node(f)
            present = value is not None and name in value
            if isinstance(f, When):
                out.append(1.0 if present else 0.0)
            if present:
                out.extend(_encode(node, value[name]))  # type: ignore[index]
            else:
                out.extend([0.0] * _encode_len(node))
        return out

    def encode_len_node(self) -> int:
        return sum(
            _encode_len(self._node(f)) + (1 if isinstance(f, When) else 0)
            for f in self.fields.values()
        )

    def to_tune_node(self, path: tuple[Any, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            node = self._node(f)
            if isinstance(f, When):
                out[name] = _tune_conditional(f, path + (f.parent,), node)
            else:
                out[name] = _to_tune(node, path + (name,))
        return out

    def to_hyperopt_node(self, label: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            if isinstance(f, When):
                continue  # emitted inside its gate's group
            out[name] = self._hyperopt_field(name, label, "")
        return out

    def _hyperopt_field(self, name: str, label: str, branch: str) -> Any:
        """Expression of one field; a gate becomes hp.choice over groups holding its children."""
        from hyperopt import hp

        node = self._node(self.fields[name])
        lab = _join(label, name) + branch
        children = [c for c, f in self.fields.items() if isinstance(f, When) and f.parent == name]
        if not children:
            return _to_hyperopt(node, lab)
        groups = []
        for v in node.finite_values():
            group: dict[str, Any] = {name: v}
            for c in children:
                w = self.fields[c]
                assert isinstance(w, When)
                if w.active(v):
                    group[c] = self._hyperopt_field(c, label, f"{branch}|{name}={v}")
            groups.append(group)
        return hp.choice(lab, groups)


class Repeat:
    """A block repeated ``min_count`` to ``max_count`` times; the config value is a list.

    The count is itself a decision when ``min_count < max_count``.

    Example:
        >>> layers = Repeat(Struct({"kernel_size": Choice([3, 5, 7])}), 1, 4)
    """

    def __init__(self, item: Node, min_count: int, max_count: int | None = None) -> None:
        _check_node(item, "Repeat.item")
        if max_count is None:
            max_count = min_count
        for n, v in (("min_count", min_count), ("max_count", max_count)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise SpaceDefinitionError(f"`{n}` of Repeat must be an int >= 0, but got {v!r}.")
        if min_count > max_count:
            raise SpaceDefinitionError(
                f"`min_count` must be less than or equal to `max_count`, but got "
                f"{min_count} > {max_count}."
            )
        self.item, self.min_count, self.max_count = item, min_count, max_count

    def __repr__(self) -> str:
        return f"Repeat({self.item!r}, {self.min_count}, {self.max_count})"


# -- dispatch over node kinds ------------------------------------------------------------------
def _sample(node: Node, rng: np.random.Generator) -> Any:
    if isinstance(node, Domain):
        return node.sample(rng)
    if isinstance(node, Struct):
        return node.sample_node(rng)
    n = int(rng.integers(node.min_count, node.max_count + 1))
    return [_sample(node.item, rng) for _ in range(n)]


def _normalize(node: Node, value: Any, path: str) -> Any:
    # Struct and Repeat are plain classes, cheaper to test than the abstract Domain (validation
    # runs on every draw of a search)
    if isinstance(node, Struct):
        return node.normalize_node(value, path)
    if not isinstance(node, Repeat):
        return node.normalize(value, path)  # a Domain
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise InvalidConfigError(
            f"`{path}` must be a list of {node.min_count} to {node.max_count} items, but got "
            f"{type(value).__name__}: {value!r}.",
            path,
        )
    if not node.min_count <= len(value) <= node.max_count:
        raise InvalidConfigError(
            f"`{path}` must have {node.min_count} to {node.max_count} items, but got {len(value)}.",
            path,
        )
    return [_normalize(node.item, v, _join(path, i)) for i, v in enumerate(value)]


def _repair(node: Node, value: Any, rng: np.random.Generator) -> Any:
    if isinstance(node, Domain):
        return value
    if isinstance(node, Struct):
        return node.repair_node(value, rng)
    return [_repair(node.item, v, rng) for v in value]


def _sites(node: Node, value: Any) -> list[Callable[[np.random.Generator], None]]:
    if isinstance(node, Domain):
        return []
    if isinstance(node, Struct):
        return node.sites_node(value)
    sites: list[Callable[[np.random.Generator], None]] = []
    if node.min_count < node.max_count:

        def count_site(rng: np.random.Generator) -> None:
            n = len(value)
            choices = [k for k in range(node.min_count, node.max_count + 1) if k != n]
            new = choices[int(rng.integers(len(choices)))]
            if new < n:
                del value[new:]
            else:
                value.extend(_sample(node.item, rng) for _ in range(new - n))

        sites.append(count_site)
    if isinstance(node.item, Domain):
        if node.item.is_variable:
            for i in range(len(value)):

                def item_site(rng: np.random.Generator, i: int = i) -> None:
                    value[i] = node.item.neighbor(value[i], rng)

                sites.append(item_site)
    else:
        for v in value:
            sites.extend(_sites(node.item, v))
    return sites


def _crossover(node: Node, a: Any, b: Any, rng: np.random.Generator) -> Any:
    if isinstance(node, Domain):
        return copy.deepcopy(a if rng.random() < 0.5 else b)
    if isinstance(node, Struct):
        return node.crossover_node(a, b, rng)
    n = len(a) if rng.random() < 0.5 else len(b)
    out = []
    for i in range(n):
        if i < len(a) and i < len(b):
            out.append(_crossover(node.item, a[i], b[i], rng))
        else:
            out.append(copy.deepcopy(a[i] if i < len(a) else b[i]))
    return out


def _encode(node: Node, value: Any) -> list[float]:
    if isinstance(node, Domain):
        return node.encode(value)
    if isinstance(node, Struct):
        return node.encode_node(value)
    out: list[float] = []
    if node.max_count > node.min_count:
        out.append((len(value) - node.min_count) / (node.max_count - node.min_count))
    item_len = _encode_len(node.item)
    for i in range(node.max_count):
        if i < len(value):
            if node.max_count > node.min_count:
                out.append(1.0)
            out.extend(_encode(node.item, value[i]))
        else:
            out.append(0.0)
            out.extend([0.0] * item_len)
    return out


def _encode_len(node: Node) -> int:
    if isinstance(node, Domain):
        return node.encode_len
    if isinstance(node, Struct):
        return node.encode_len_node()
    variable = 1 if node.max_count > node.min_count else 0
    return variable + node.max_count * (_encode_len(node.item) + variable)


def _to_tune(node: Node, path: tuple[Any, ...]) -> Any:
    if isinstance(node, Domain):
        return node.to_tune()
    if isinstance(node, Struct):
        return node.to_tune_node(path)
    if node.min_count == node.max_count:
        return [_to_tune(node.item, path + (i,)) for i in range(node.min_count)]
    from ray import tune

    return tune.sample_from(lambda _: _sample(node, np.random.default_rng(_tune_seed())))


def _tune_conditional(when: When, parent_path: tuple[Any, ...], node: Node) -> Any:
    from ray import tune

    def resolve(spec: Any) -> Any:
        parent = spec.config
        for key in parent_path:
            if parent is None:
                return None
            parent = parent[key]
        if parent is None or not when.active(_plain(parent)):
            return None
        return _sample(node, np.random.default_rng(_tune_seed()))

    return tune.sample_from(resolve)


def _to_hyperopt(node: Node, label: str) -> Any:
    if isinstance(node, Domain):
        return node.to_hyperopt(label)
    if isinstance(node, Struct):
        return node.to_hyperopt_node(label)
    if node.min_count == node.max_count:
        return [_to_hyperopt(node.item, _join(label, i)) for i in range(node.min_count)]
    from hyperopt import hp

    options = [
        [_to_hyperopt(node.item, f"{label}@{n}[{i}]") for i in range(n)]
        for n in range(node.min_count, node.max_count + 1)
    ]
    return hp.choice(f"{label}#count", options)


class SearchSpace(Struct):
    """A space of configurations: the root of every raynas space.

    Subclasses (the built-in spaces) add ``build(config) -> torch.nn.Module``.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Int, Choice, When
        >>> space = SearchSpace({
        ...     "num_layers": Int(1, 2),
        ...     "units_1": When("num_layers", [2], Int(32, 512, step=32)),
        ...     "activation": Choice(["relu", "tanh"]),
        ... })
        >>> cfg = space.sample(0)
        >>> space.validate(cfg) == cfg
        True
    """

    # -- the verbs of a space ------------------------------------------------------------------
    def sample(self, rng: np.random.Generator | int | None = None) -> dict[str, Any]:
        """Draw a random valid config."""
        return self.sample_node(as_rng(rng))

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Return the canonical form of ``config`` or raise :class:`InvalidConfigError`.

        Accepts configs as Ray Tune produces them from :meth:`to_tune` (inactive conditional
        parameters set to None) and as hyperopt produces them from :meth:`to_hyperopt` (gated
        groups nested), and returns the flat canonical dict.
        """
        return self.normalize_node(config, "")

    def is_valid(self, config: Mapping[str, Any]) -> bool:
        try:
            self.validate(config)
        except InvalidConfigError:
            return False
        return True

    def mutate(
        self, config: Mapping[str, Any], rng: np.random.Generator | int | None = None
    ) -> dict[str, Any]:
        """Change one decision of ``config`` (chosen uniformly) and return a new valid config."""
        rng = as_rng(rng)
        value = self.validate(config)  # fresh containers all the way down: sites assign into them
        sites = self.sites_node(value)
        if not sites:
            raise SpaceDefinitionError(
                "this space has a single config; there is nothing to mutate."
            )
        sites[int(rng.integers(len(sites)))](rng)
        return self.repair_node(value, rng)

    def crossover(
        self,
        a: Mapping[str, Any],
        b: Mapping[str, Any],
        rng: np.random.Generator | int | None = None,
    ) -> dict[str, Any]:
        """A valid child taking each decision from one of the two parents."""
        return self.crossover_node(self.validate(a), self.validate(b), as_rng(rng))

    def key(self, config: Mapping[str, Any]) -> str:
        """A canonical string: equal for equivalent configs."""
        return json.dumps(self.validate(config), sort_keys=True, separators=(",", ":"))

    def function_key(self, config: Mapping[str, Any]) -> str:
        """Equal for configs that compute the same function, even where :meth:`key` tells them
        apart (by default, :meth:`key` itself).

        Such configs train to the same quality up to training noise but may differ in what the
        hardware measures: an isomorphic NAS-Bench-201 cell still runs its dead operations.
        Predictors (``PredictorGuided``) use it to share an observed accuracy between them.
        """
        return self.key(config)

    def equivalents(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The other configs with ``config``'s :meth:`function_key` that :meth:`key` tells
        apart (by default none: a space that knows its equivalent configs lists them).

        They compute the same function at a different hardware cost, so with several objectives
        a predictor (``PredictorGuided(local=Neighbourhood(twins=1.0))``) ranks them next to a
        front config's neighbours: the cheapest twin of a front config may dominate it.
        """
        return []

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """A fixed-length numeric vector (length :attr:`encode_len`) for predictors."""
        return np.asarray(self.encode_node(self.validate(config)), dtype=np.float64)

    @property
    def encode_len(self) -> int:
        return self.encode_len_node()

    def features(self, config: Mapping[str, Any]) -> np.ndarray:
        """Inputs for performance predictors: :meth:`encode`, then any features a space adds.

        The first :attr:`encode_len` entries are always :meth:`encode`; a space whose
        structure carries more signal than its decisions one by one (such as the paths through
        a cell, see ``NB201CellSpace``) appends it. Predictors (``PredictorGuided``) learn from
        these; distances between configs use :meth:`encode` alone.
        """
        return self.encode(config)

    def to_tune(self) -> dict[str, Any]:
        """A ``param_space`` for ``tune.Tuner``; its samples pass :meth:`validate`."""
        return self.to_tune_node(())

    def to_hyperopt(self) -> dict[str, Any]:
        """A space for hyperopt / ``HyperOptSearch``; conditionals become nested ``hp.choice``."""
        return self.to_hyperopt_node("")

    def default_config(self) -> dict[str, Any]:
        """A reasonable config to start from; subclasses choose theirs."""
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            if self._active(name, out):
                out[name] = _default(self._node(f))
        return out

    def extremes(self) -> list[dict[str, Any]]:
        """The space's smallest and largest configs: anchors for multi-objective searches.

        The smallest config takes every ordered decision (``Int``, ``Float``, a ``Choice`` of
        numbers, a ``Repeat``'s count) at its low end, the largest at its high end; unordered
        decisions keep their :meth:`default_config` value. Multi-objective strategies evaluate
        them first (the sandwich rule of slimmable networks and BigNAS): where size sets the
        cost, they are the two ends of an accuracy / cost front, and the cheap end is one that
        random draws and local walks reach late. Returns the distinct valid ones, smallest
        first; none when no decision is ordered. Spaces that know which of their choices cost
        more override it (``NB201CellSpace``).
        """
        out = []
        for high in (False, True):
            try:
                out.append(
                    self.validate(self.repair_node(_extreme(self, high), np.random.default_rng(0)))
                )
            except InvalidConfigError:
                continue
        return self._two_ends(out)

    def _two_ends(self, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``configs`` without repeats (by :meth:`key`), or none if fewer than two remain."""
        distinct = list({self.key(c): c for c in configs}.values())
        return distinct if len(distinct) > 1 else []

    def decisions(self) -> int:
        """How many mutable decisions the default config has (a size hint for strategies)."""
        return len(self.sites_node(copy.deepcopy(self.default_config())))


def _extreme(node: Node, high: bool) -> Any:
    if isinstance(node, Domain):
        return node.extreme(high)
    if isinstance(node, Struct):
        out: dict[str, Any] = {}
        for name, f in node.fields.items():
            if node._active(name, out):
                out[name] = _extreme(node._node(f), high)
        return out
    return [_extreme(node.item, high) for _ in range(node.max_count if high else node.min_count)]


def _default(node: Node) -> Any:
    if isinstance(node, Domain):
        return node.default()
    if isinstance(node, Struct):
        out: dict[str, Any] = {}
        for name, f in node.fields.items():
            if node._active(name, out):
                out[name] = _default(node._node(f))
        return out
    return [_default(node.item) for _ in range(node.min_count)]
