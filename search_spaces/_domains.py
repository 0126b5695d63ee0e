"""Leaf domains: the single decisions a search space is made of.

A domain knows how to sample, check, perturb and encode one value, and how to express itself as a
Ray Tune domain and as a hyperopt expression. Neither Ray nor hyperopt is imported until asked.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InvalidConfigError, SpaceDefinitionError

_SCALARS = (bool, int, float, str, type(None))


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python ones (Tune and hyperopt hand out numpy values)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps ``True`` apart from ``1``."""
    return (
        type(a) is type(b)
        and a == b
        or (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and not isinstance(a, bool)
            and not isinstance(b, bool)
            and a == b
        )
    )


def _fmt(path: str) -> str:
    return f"`{path}`" if path else "the value"


class Domain(ABC):
    """One decision: a set of allowed values."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Draw a value."""

    @abstractmethod
    def normalize(self, value: Any, path: str) -> Any:
        """Return the canonical form of ``value`` or raise :class:`InvalidConfigError`."""

    @abstractmethod
    def neighbor(self, value: Any, rng: np.random.Generator) -> Any:
        """Return an allowed value different from ``value`` (requires ``is_variable``)."""

    @abstractmethod
    def encode(self, value: Any) -> list[float]:
        """Numeric features of ``value``, of length :attr:`encode_len`."""

    @property
    @abstractmethod
    def encode_len(self) -> int:
        """Length of :meth:`encode`'s output."""

    @abstractmethod
    def to_tune(self) -> Any:
        """The equivalent Ray Tune domain."""

    @abstractmethod
    def to_hyperopt(self, label: str) -> Any:
        """The equivalent hyperopt expression, labelled ``label``."""

    @property
    def is_variable(self) -> bool:
        """Whether the domain holds more than one value (so it can be mutated)."""
        values = self.finite_values()
        return values is None or len(values) > 1

    def finite_values(self) -> list[Any] | None:
        """All values if the domain is finite and small, else None."""
        return None

    def default(self) -> Any:
        """A middle-of-the-range value (the first one for unordered choices)."""
        values = self.finite_values()
        if values is not None:
            return values[len(values) // 2] if getattr(self, "ordered", True) else values[0]
        return self.sample(np.random.default_rng(0))

    def extreme(self, high: bool) -> Any:
        """The low (``high=False``) or high end of an ordered domain; :meth:`default` otherwise."""
        return self.default()

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is allowed."""
        try:
            self.normalize(value, "")
        except InvalidConfigError:
            return False
        return True


class Choice(Domain):
    """A categorical choice among ``values`` (scalars: bool, int, float, str or None).

    Example:
        >>> Choice([3, 5, 7]).normalize(5, "kernel_size")
        5
    """

    def __init__(self, values: Sequence[Any], *, ordered: bool | None = None) -> None:
        values = [_plain(v) for v in values]
        if len(values) == 0:
            raise SpaceDefinitionError("`values` of a Choice must not be empty.")
        for v in values:
            if not isinstance(v, _SCALARS):
                raise SpaceDefinitionError(
                    f"`values` of a Choice must be bool, int, float, str or None, but got {v!r}."
                )
        for i, v in enumerate(values):
            if any(_same(v, w) for w in values[:i]):
                raise SpaceDefinitionError(f"`values` of a Choice has {v!r} twice: {values!r}.")
        self.values = values
        # exact-type lookup of a value's index (the loop below handles 1 == 1.0 and the rest)
        self._lookup = {(type(v), v): i for i, v in enumerate(values) if v == v}
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        self.ordered = numeric if ordered is None else ordered

    def __repr__(self) -> str:
        return f"Choice({self.values!r})"

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def index(self, value: Any) -> int:
        try:
            return self._lookup[type(value), value]
        except (KeyError, TypeError, AttributeError):  # 1 for 1.0, unhashable, older pickle
            pass
        for i, v in enumerate(self.values):
            if _same(v, value):
                return i
        raise ValueError(value)

    def normalize(self, value: Any, path: str) -> Any:
        value = _plain(value)
        try:
            return self.values[self._lookup[type(value), value]]
        except (KeyError, TypeError, AttributeError):
            pass
        for v in self.values:
            if _same(v, value):
                return v
        raise InvalidConfigError(
            f"{_fmt(path)} must be one of {self.values!r}, but got {value!r}.", path
        )

    def neighbor(self, value: Any, rng: np.random.Generator) -> Any:
        others = [v for v in self.values if not _same(v, value)]
        return others[int(rng.integers(len(others)))]

    def finite_values(self) -> list[Any]:
        return list(self.values)

    def extreme(self, high: bool) -> Any:
        if not self.ordered:
            return self.default()
        if all(isinstance(v, (int, float)) for v in self.values):
            return max(self.values) if high else min(self.values)
        return self.values[-1] if high else self.values[0]

    def encode(self, value: Any) -> list[float]:
        if len(self.values) == 1:
            return []
        out = [0.0] * len(self.values)
        out[self.index(value)] = 1.0
        return out

    @property
    def encode_len(self) -> int:
        return 0 if len(self.values) == 1 else len(self.values)

    def to_tune(self) -> Any:
        from ray import tune

        return tune.choice(list(self.values))

    def to_hyperopt(self, label: str) -> Any:
        from hyperopt import hp

        return hp.choice(label, list(self.values))


class Boolean(Choice):
    """A yes/no decision."""

    def __init__(self) -> None:
        super().__init__([False, True], ordered=False)

    def __repr__(self) -> str:
        return "Boolean()"


class Fixed(Domain):
    """A single value that is part of the config but never searched."""

    def __init__(self, value: Any) -> None:
        self.value = _plain(value)

    def __repr__(self) -> str:
        return f"Fixed({self.value!r})"

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def normalize(self, value: Any, path: str) -> Any:
        value = _plain(value)
        if _same(value, self.value):
            return self.value
        raise InvalidConfigError(
            f"{_fmt(path)} is fixed to {self.value!r}, but got {value!r}.", path
        )

    def neighbor(self, value: Any, rng: np.random.Generator) -> Any:
        raise SpaceDefinitionError("a Fixed value cannot be mutated.")

    def finite_values(self) -> list[Any]:
        return [self.value]

    def encode(self, value: Any) -> list[float]:
        return []

    @property
    def encode_len(self) -> int:
        return 0

    def to_tune(self) -> Any:
        return self.value

    def to_hyperopt(self, label: str) -> Any:
        return self.value


class _Numeric(Domain):
    low: float
    high: float
    log: bool
    kind = "number"

    def _check_bounds(self, low: float, high: float, log: bool) -> None:
        if not (math.isfinite(low) and math.isfinite(high)):
            raise SpaceDefinitionError(
                f"`low` and `high` of {self.kind} must be finite, but got {low!r}, {high!r}."
            )
        if low > high:
            raise SpaceDefinitionError(
                f"`low` must be less than or equal to `high`, but got low={low!r} > high={high!r}."
            )
        if log and low <= 0:
            raise SpaceDefinitionError(
                f"`low` must be greater than 0 when `log=True`, but got low={low!r}."
            )

    def _unit(self, value: float) -> float:
        """Map a value to [0, 1] (in log space when ``log``)."""
        if self.high == self.low:
            return 0.0
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def _from_unit(self, u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def encode(self, value: Any) -> list[float]:
        return [self._unit(value)]

    def default(self) -> Any:
        return (
            self.normalize(self._snap(self._from_unit(0.5)), "")
            if isinstance(self, Float)
            else super().default()
        )

    def extreme(self, high: bool) -> Any:
        value = self.high if high else self.low
        return self.normalize(self._snap(value), "") if isinstance(self, Float) else value

    @property
    def encode_len(self) -> int:
        return 1


class Int(_Numeric):
    """An integer in ``[low, high]`` (both included), on a grid of ``step``, optionally log-uniform.

    Example:
        >>> Int(32, 512, step=32).finite_values()[:3]
        [32, 64, 96]
    """

    kind = "Int"
    low: int
    high: int

    def __init__(self, low: int, high: int, *, step: int = 1, log: bool = False) -> None:
        for name, v in (("low", low), ("high", high), ("step", step)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise SpaceDefinitionError(f"`{name}` of Int must be an int, but got {v!r}.")
        self._check_bounds(low, high, log)
        if step < 1:
            raise SpaceDefinitionError(f"`step` of Int must be at least 1, but got {step!r}.")
        if (high - low) % step:
            raise SpaceDefinitionError(
                f"`high - low` must be a multiple of `step`, but got low={low}, high={high}, "
                f"step={step}."
            )
        self.low, self.high, self.step, self.log = int(low), int(high), int(step), bool(log)
        self.n = (self.high - self.low) // self.step + 1

    def __repr__(self) -> str:
        return f"Int({self.low}, {self.high}, step={self.step}, log={self.log})"

    def _grid(self, i: int) -> int:
        return self.low + i * self.step

    def sample(self, rng: np.random.Generator) -> int:
        if self.log:
            v = self._from_unit(float(rng.random()))
            i = round((v - self.low) / self.step)
        else:
            i = int(rng.integers(self.n))
        return self._grid(min(max(i, 0), self.n - 1))

    def normalize(self, value: Any, path: str) -> int:
        value = _plain(value)
        allowed = f"an integer in [{self.low}, {self.high}]" + (
            f" on a grid of step {self.step} from {self.low}" if self.step > 1 else ""
        )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidConfigError(f"{_fmt(path)} must be {allowed}, but got {value!r}.", path)
        if isinstance(value, float):
            if not value.is_integer():
                raise InvalidConfigError(
                    f"{_fmt(path)} must be {allowed}, but got {value!r}.", path
                )
            value = int(value)
        if not (self.low <= value <= self.high) or (value - self.low) % self.step:
            raise InvalidConfigError(f"{_fmt(path)} must be {allowed}, but got {value!r}.", path)
        return value

    def neighbor(self, value: int, rng: np.random.Generator) -> int:
        i = (value - self.low) // self.step
        if self.n <= 16 or rng.random() < 0.3:
            j = int(rng.integers(self.n - 1))
            j = j + 1 if j >= i else j
        else:
            delta = int(rng.integers(1, 4)) * (1 if rng.random() < 0.5 else -1)
            j = min(max(i + delta, 0), self.n - 1)
            if j == i:
                j = i - delta if 0 <= i - delta < self.n else (i + 1 if i + 1 < self.n else i - 1)
        return self._grid(j)

    def finite_values(self) -> list[int] | None:
        return [self._grid(i) for i in range(self.n)] if self.n <= 4096 else None

    @property
    def is_variable(self) -> bool:
        return self.n > 1

    def to_tune(self) -> Any:
        from ray import tune

        if self.n == 1:
            return self.low
        if self.log and self.step == 1:
            return tune.lograndint(self.low, self.high + 1)
        if not self.log:
            if self.step == 1:
                return tune.randint(self.low, self.high + 1)
            return tune.choice(self.finite_values() or [self.low])
        dom = self
        return tune.sample_from(lambda _: dom.sample(np.random.default_rng(_tune_seed())))

    def to_hyperopt(self, label: str) -> Any:
        from hyperopt import hp
        from hyperopt.pyll import scope

        if self.n == 1:
            return self.low
        if self.log and self.step == 1:
            return scope.int(hp.qloguniform(label, math.log(self.low), math.log(self.high), 1))
        if self.log:
            return hp.choice(label, self.finite_values())
        index = scope.int(hp.quniform(label, 0, self.n - 1, 1))
        return index * self.step + self.low


class Float(_Numeric):
    """A real number in ``[low, high]``, optionally log-uniform or on a grid of ``step``.

    Example:
        >>> Float(1e-4, 1e-1, log=True).normalize(0.01, "learning_rate")
        0.01
    """

    kind = "Float"

    def __init__(
        self, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> None:
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise SpaceDefinitionError(f"`{name}` of Float must be a number, but got {v!r}.")
        self._check_bounds(float(low), float(high), log)
        if step is not None:
            if log:
                raise SpaceDefinitionError("`step` cannot be combined with `log=True` in Float.")
            if step <= 0:
                raise SpaceDefinitionError(f"`step` of Float must be positive, but got {step!r}.")
        self.low, self.high, self.log, self.step = float(low), float(high), bool(log), step

    def __repr__(self) -> str:
        return f"Float({self.low}, {self.high}, log={self.log}, step={self.step})"

    def _snap(self, v: float) -> float:
        if self.step is None:
            return float(min(max(v, self.low), self.high))
        k = round((v - self.low) / self.step)
        k = min(max(k, 0), int(math.floor((self.high - self.low) / self.step + 1e-9)))
        return float(round(self.low + k * self.step, 12))

    def sample(self, rng: np.random.Generator) -> float:
        return self._snap(self._from_unit(float(rng.random())))

    def normalize(self, value: Any, path: str) -> float:
        value = _plain(value)
        allowed = f"a number in [{self.low}, {self.high}]" + (
            f" on a grid of step {self.step}" if self.step else ""
        )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidConfigError(f"{_fmt(path)} must be {allowed}, but got {value!r}.", path)
        value = float(value)
        tol = 1e-9 * max(1.0, abs(self.high))
        if not math.isfinite(value) or not (self.low - tol <= value <= self.high + tol):
            raise InvalidConfigError(f"{_fmt(path)} must be {allowed}, but got {value!r}.", path)
        if self.step is not None and abs(self._snap(value) - value) > 1e-6 * self.step:
            raise InvalidConfigError(f"{_fmt(path)} must be {allowed}, but got {value!r}.", path)
        return float(min(max(value, self.low), self.high))

    def neighbor(self, value: float, rng: np.random.Generator) -> float:
        u = self._unit(value)
        for _ in range(20):
            new = self._snap(self._from_unit(u + float(rng.normal(0.0, 0.2))))
            if new != value:
                return new
        return self._snap(self._from_unit(float(rng.random())))

    @property
    def is_variable(self) -> bool:
        return self.high > self.low

    def to_tune(self) -> Any:
        from ray import tune

        if self.log:
            return tune.loguniform(self.low, self.high)
        if self.step is None:
            return tune.uniform(self.low, self.high)
        dom = self
        return tune.sample_from(lambda _: dom.sample(np.random.default_rng(_tune_seed())))

    def to_hyperopt(self, label: str) -> Any:
        from hyperopt import hp
        from hyperopt.pyll import scope

        if self.log:
            return hp.loguniform(label, math.log(self.low), math.log(self.high))
        if self.step is None:
            return hp.uniform(label, self.low, self.high)
        n = int(math.floor((self.high - self.low) / self.step + 1e-9))
        return scope.int(hp.quniform(label, 0, n, 1)) * self.step + self.low


def _tune_seed() -> int:
    """A seed drawn from numpy's legacy global state, which Tune's variant generator seeds."""
    return int(np.random.randint(0, 2**31 - 1))
