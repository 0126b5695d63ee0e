"""KerasTuner-style define-by-run spaces: ``build_model(hp)`` becomes a :class:`SearchSpace`.

The user's function asks ``hp.Int``, ``hp.Float``, ``hp.Choice``, ``hp.Boolean`` and ``hp.Fixed``
for values as it builds a model, with KerasTuner's names and meanings. A parameter that is only
asked for under some values of an earlier one (``units_2`` inside ``for i in
range(hp.Int("num_layers", 1, 3))``) is conditional by use. raynas runs the function a few times,
sweeping every finite decision, and infers which earlier parameter gates each conditional one;
``parent_name``/``parent_values`` or ``hp.conditional_scope`` state it explicitly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ._domains import Boolean, Choice, Domain, Fixed, Float, Int, _same
from ._structure import SearchSpace, When
from .errors import InvalidConfigError, SpaceDefinitionError

#: dtypes a define-by-run model's input may have (``"int64"``: token ids for ``nn.Embedding``)
INPUT_DTYPES = ("float32", "float64", "int64", "int32")


class HyperParameters:
    """The ``hp`` object handed to ``build_model(hp)``; KerasTuner's API in PyTorch land.

    In a fixed run it returns the values of a config; in an exploring run it samples values.

    Example:
        >>> hp = HyperParameters(values={"units": 64})
        >>> hp.Int("units", 32, 512, step=32)
        64
    """

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        rng: np.random.Generator | None = None,
        force: Mapping[str, Any] | None = None,
    ) -> None:
        self.values: dict[str, Any] = {}
        self.domains: dict[str, Domain] = {}
        self.order: list[str] = []
        self.explicit: dict[str, tuple[str, list[Any]]] = {}
        self._given = dict(values or {})
        self._rng = rng
        self._force = dict(force or {})
        self._scopes: list[tuple[str, list[Any]]] = []

    # -- KerasTuner API ------------------------------------------------------------------------
    def Int(  # noqa: N802 - KerasTuner's names
        self,
        name: str,
        min_value: int,
        max_value: int,
        step: int | None = None,
        sampling: str = "linear",
        default: int | None = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> int:
        """An integer in ``[min_value, max_value]`` on a grid of ``step``."""
        step = 1 if step is None else step
        if (
            isinstance(step, int)
            and step >= 1
            and isinstance(min_value, int)
            and isinstance(max_value, int)
            and max_value >= min_value
        ):
            max_value = min_value + (max_value - min_value) // step * step
        log = _log(sampling, name)
        domain = _domain(name, lambda: Int(min_value, max_value, step=step, log=log))
        return self._register(name, domain, default, parent_name, parent_values)

    def Float(  # noqa: N802
        self,
        name: str,
        min_value: float,
        max_value: float,
        step: float | None = None,
        sampling: str = "linear",
        default: float | None = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> float:
        """A real number in ``[min_value, max_value]``."""
        log = _log(sampling, name)
        domain = _domain(name, lambda: Float(min_value, max_value, step=step, log=log))
        return self._register(name, domain, default, parent_name, parent_values)

    def Choice(  # noqa: N802
        self,
        name: str,
        values: Sequence[Any],
        ordered: bool | None = None,
        default: Any = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> Any:
        """One of ``values``."""
        domain = _domain(name, lambda: Choice(values, ordered=ordered))
        return self._register(name, domain, default, parent_name, parent_values)

    def Boolean(  # noqa: N802
        self,
        name: str,
        default: bool = False,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> bool:
        """True or False."""
        return self._register(name, Boolean(), default, parent_name, parent_values)

    def Fixed(  # noqa: N802
        self,
        name: str,
        value: Any,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> Any:
        """A constant that is recorded in the config."""
        return self._register(name, Fixed(value), value, parent_name, parent_values)

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Sequence[Any]) -> Iterator[bool]:
        """Parameters defined inside exist only while ``parent_name`` is in ``parent_values``."""
        self._scopes.append((parent_name, list(parent_values)))
        try:
            yield parent_name in self.values and any(
                _same(self.values[parent_name], v) for v in parent_values
            )
        finally:
            self._scopes.pop()

    def get(self, name: str) -> Any:
        """The value of an already defined parameter."""
        if name not in self.values:
            raise KeyError(f"`{name}` has not been defined yet; defined: {list(self.values)}.")
        return self.values[name]

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    # -- recording -----------------------------------------------------------------------------
    def _register(
        self,
        name: str,
        domain: Domain,
        default: Any,
        parent_name: str | None,
        parent_values: Sequence[Any] | None,
    ) -> Any:
        if not isinstance(name, str) or not name:
            raise SpaceDefinitionError(f"hyperparameter names must be non-empty str, got {name!r}.")
        if name in self.domains:
            if repr(self.domains[name]) != repr(domain):
                raise SpaceDefinitionError(
                    f"`{name}` is defined twice with different ranges: {self.domains[name]!r} and "
                    f"{domain!r}."
                )
            return self.values[name]
        if parent_name is not None:
            if parent_values is None:
                raise SpaceDefinitionError(f"`{name}` names `parent_name` but no `parent_values`.")
            self.explicit[name] = (parent_name, list(parent_values))
        elif self._scopes:
            self.explicit[name] = self._scopes[-1]
        if default is not None:
            try:
                domain.normalize(default, name)
            except InvalidConfigError as e:
                raise SpaceDefinitionError(f"`default` of {e}") from e
        self.domains[name] = domain
        self.order.append(name)
        if name in self._force:
            value = domain.normalize(self._force[name], name)
        elif name in self._given:
            value = domain.normalize(self._given[name], name)
        elif self._rng is not None:
            value = domain.sample(self._rng)
        elif default is not None:
            value = domain.normalize(default, name)
        else:
            raise SpaceDefinitionError(
                f"`{name}` is asked for by build_model but the config has no value for it."
            )
        self.values[name] = value
        return value


def _domain(name: Any, make: Callable[[], Domain]) -> Domain:
    """``make()``, its definition error naming the hyperparameter ``name``."""
    try:
        return make()
    except SpaceDefinitionError as e:
        raise SpaceDefinitionError(f"hyperparameter `{name}`: {e}") from e


def _log(sampling: str, name: str) -> bool:
    if sampling not in ("linear", "log"):
        raise SpaceDefinitionError(
            f"`sampling` of `{name}` must be one of ['linear', 'log'], but got {sampling!r}."
        )
    return sampling == "log"


class DefineByRunSpace(SearchSpace):
    """A search space defined by a KerasTuner-style ``build_model(hp)`` function.

    Args:
        build_model: called with a :class:`HyperParameters`; returns a ``torch.nn.Module``.
        explore_runs: at most this many calls of ``build_model`` to discover the space.
        seed: seeds the exploration.
        input_shape: one input's shape without the batch dimension (hardware targets and the
            export take it; without it they need their own).
        input_dtype: the input's dtype: ``"int64"`` for token ids (a model that starts with
            ``nn.Embedding``), so that its ONNX graph takes int64 ids.
        tokenizer: the text data's tokenizer (``save(path)``), written next to exported models.

    Example:
        >>> def build_model(hp):
        ...     import torch.nn as nn
        ...     layers, width = [nn.Flatten()], 64
        ...     for i in range(hp.Int("num_layers", 1, 3)):
        ...         units = hp.Int(f"units_{i}", 32, 512, step=32)
        ...         layers += [nn.Linear(width, units), nn.ReLU()]
        ...         width = units
        ...     hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])
        ...     return nn.Sequential(*layers, nn.Linear(width, 10))
        >>> space = DefineByRunSpace(build_model)
        >>> sorted(space.fields)[:3]
        ['learning_rate', 'num_layers', 'units_0']

    Over token ids (text data gives ``vocab_size`` and the token length)::

        def build_text_model(hp):
            import torch.nn as nn
            width = hp.Choice("embed_dim", [32, 64])
            return nn.Sequential(nn.Embedding(4000, width), nn.Flatten(), nn.Linear(64 * width, 2))

        DefineByRunSpace(build_text_model, input_shape=(64,), input_dtype="int64")
    """

    def __init__(
        self,
        build_model: Callable[[HyperParameters], Any],
        *,
        explore_runs: int = 120,
        seed: int = 0,
        input_shape: Sequence[int] | None = None,
        input_dtype: str = "float32",
        tokenizer: Any = None,
    ) -> None:
        if not callable(build_model):
            raise SpaceDefinitionError(f"`build_model` must be callable, but got {build_model!r}.")
        if isinstance(explore_runs, bool) or not isinstance(explore_runs, int) or explore_runs < 1:
            raise SpaceDefinitionError(
                f"`explore_runs` of DefineByRunSpace must be an int >= 1, but got {explore_runs!r}."
            )
        if input_dtype not in INPUT_DTYPES:
            raise SpaceDefinitionError(
                f"`input_dtype` must be one of {list(INPUT_DTYPES)}, but got {input_dtype!r}."
            )
        self.build_model = build_model
        self._options = {"explore_runs": explore_runs, "seed": seed, "input_dtype": input_dtype}
        self._options["tokenizer"] = tokenizer
        if input_shape is not None:  # only then: callers ask `getattr(space, "input_shape")`
            self.input_shape = tuple(int(d) for d in input_shape)
            self._options["input_shape"] = self.input_shape
        self.input_dtype, self.tokenizer = input_dtype, tokenizer
        runs = _explore(build_model, explore_runs, np.random.default_rng(seed))
        super().__init__(_infer_fields(runs))

    def build(self, config: Mapping[str, Any]) -> Any:
        """Run ``build_model`` with the values of ``config``."""
        config = self.validate(config)
        return self.build_model(HyperParameters(values=config))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.build_model, self._options))


def _rebuild(build_model: Callable[[HyperParameters], Any], options: dict[str, Any]) -> Any:
    return DefineByRunSpace(build_model, **options)


def _explore(
    build_model: Callable[[HyperParameters], Any], budget: int, rng: np.random.Generator
) -> list[HyperParameters]:
    runs: list[HyperParameters] = []

    def run(force: Mapping[str, Any] | None = None) -> None:
        hp = HyperParameters(rng=rng, force=force)
        try:
            model = build_model(hp)
        except SpaceDefinitionError:
            raise
        except Exception as e:  # a model that fails to build still told us its parameters
            if not hp.order:
                raise SpaceDefinitionError(
                    f"build_model failed before asking for any hyperparameter: {e!r}"
                ) from e
        else:
            if not callable(getattr(model, "forward", None)):
                raise SpaceDefinitionError(
                    f"build_model must return a torch.nn.Module, but it returned "
                    f"{type(model).__name__}: {model!r:.80}"
                    + (" (is `return model` missing?)" if model is None else "")
                )
        runs.append(hp)

    run()
    swept: set[str] = set()
    while len(runs) < budget:
        domains: dict[str, Domain] = {}
        for r in runs:
            domains.update(r.domains)
        todo = [n for n, d in domains.items() if n not in swept and d.finite_values()]
        todo = [n for n in todo if len(domains[n].finite_values() or []) <= 64]
        if not todo:
            break
        for name in todo:
            swept.add(name)
            for v in domains[name].finite_values() or []:
                if len(runs) >= budget:
                    break
                run({name: v})
    for _ in range(min(8, max(0, budget - len(runs)))):
        run()
    return runs


def _infer_fields(runs: list[HyperParameters]) -> dict[str, Any]:
    order: list[str] = []
    domains: dict[str, Domain] = {}
    explicit: dict[str, tuple[str, list[Any]]] = {}
    for r in runs:
        prev = None
        for name in r.order:
            if name not in domains:
                domains[name] = r.domains[name]
                pos = order.index(prev) + 1 if prev is not None else 0
                order.insert(pos, name)
            elif repr(domains[name]) != repr(r.domains[name]):
                raise SpaceDefinitionError(
                    f"`{name}` is defined with different ranges in different runs: "
                    f"{domains[name]!r} and {r.domains[name]!r}."
                )
            prev = name
        explicit.update(r.explicit)

    fields: dict[str, Any] = {}
    for name in order:
        present = [name in r.values for r in runs]
        if name in explicit:
            parent, values = explicit[name]
            if parent not in fields:
                raise SpaceDefinitionError(
                    f"`{name}` names parent `{parent}`, which is not defined before it; "
                    f"defined before: {list(fields)}."
                )
            fields[name] = When(parent, values, domains[name])
        elif all(present):
            fields[name] = domains[name]
        else:
            fields[name] = _infer_condition(name, domains[name], runs, fields)
    return fields


def _infer_condition(
    name: str, domain: Domain, runs: list[HyperParameters], fields: Mapping[str, Any]
) -> When:
    for parent in reversed(list(fields)):
        node = fields[parent].node if isinstance(fields[parent], When) else fields[parent]
        if not isinstance(node, Domain) or node.finite_values() is None:
            continue
        with_parent = [r for r in runs if parent in r.values]
        on = [r.values[parent] for r in with_parent if name in r.values]
        off = [r.values[parent] for r in with_parent if name not in r.values]
        if any(name in r.values for r in runs if parent not in r.values):
            continue
        if on and not any(_same(a, b) for a in on for b in off):
            values = [v for v in node.finite_values() or [] if any(_same(v, o) for o in on)]
            return When(parent, values, domain)
    raise SpaceDefinitionError(
        f"`{name}` is asked for in only some runs of build_model, and no earlier choice decides "
        "when; declare it with `parent_name=..., parent_values=...` or inside "
        "`hp.conditional_scope(...)`."
    )
