"""REINFORCE over a factorized categorical policy (Williams 1992; the ENAS / NAS-Bench-201 baseline)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from raynas.search_spaces import Repeat, SearchSpace, Struct, When
from raynas.search_spaces._domains import Domain, Float, Int, _same
from raynas.strategies.base import ObjectiveSpec, Observation, Strategy, StrategyError

#: Domains with more values than this are split into ``bins`` ranges instead.
_MAX_CATEGORIES = 64


class _Slot:
    """One decision of the policy: a leaf domain at a path, with its own logits."""

    def __init__(self, path: str, domain: Domain | None, values: list[Any] | None, n: int):
        self.path, self.domain, self.values, self.n = path, domain, values, n
        self.offset = 0  # position of the slot's logits in the flat parameter vector

    def value(self, action: int, rng: np.random.Generator, bins: int) -> Any:
        if self.values is not None:
            return self.values[action]
        assert isinstance(self.domain, (Int, Float))
        u = (action + float(rng.random())) / bins
        raw = self.domain._from_unit(u)
        if isinstance(self.domain, Int):
            i = round((raw - self.domain.low) / self.domain.step)
            return self.domain._grid(min(max(i, 0), self.domain.n - 1))
        return self.domain._snap(raw)

    def action(self, value: Any, bins: int) -> int:
        if self.values is not None:
            for i, v in enumerate(self.values):
                if _same(v, value):
                    return i
            raise StrategyError(f"`{self.path}` = {value!r} is not a value of the policy.")
        assert isinstance(self.domain, (Int, Float))
        return min(int(self.domain._unit(value) * bins), bins - 1)


class ReinforceController(Strategy):
    """A policy of independent categorical decisions trained with REINFORCE.

    Every decision of the space (each edge op, each width, ...; continuous ranges split into
    ``bins`` equal ranges, in log space where the domain is log-scaled) gets its own logits;
    conditional and repeated decisions get theirs, used only when active. :meth:`ask` samples the
    policy (re-sampling, then mutating, a config that was seen before). Each told result updates
    the policy with the REINFORCE gradient ``(R - b) * grad log p(config)`` plus
    ``entropy_weight`` times the entropy gradient, by Adam, where ``R`` is the reward (the first
    objective, as a maximization) and ``b`` an exponential moving average of the rewards
    (``baseline_decay``), as in the NAS-Bench-201 REINFORCE baseline. Infeasible results get the
    worst reward seen so far.

    Args:
        space: the search space.
        objectives: the first is optimized, further ones must be constraints.
        seed: seed of the strategy's random generator.
        learning_rate: Adam step size on the logits.
        baseline_decay: momentum of the moving-average baseline.
        entropy_weight: weight of the entropy bonus (keeps the policy exploring).
        bins: number of ranges a continuous or large integer decision is split into.

    Example:
        >>> from raynas.search_spaces import SearchSpace, Choice
        >>> space = SearchSpace({f"e{i}": Choice(["a", "b", "c", "d"]) for i in range(3)})
        >>> s = ReinforceController(space, objectives=["acc"], seed=0, learning_rate=0.2)
        >>> for _ in range(40):
        ...     c = s.ask()
        ...     _ = s.tell(c, {"acc": sum(v == "a" for v in c.values())})
        >>> s.probabilities()["e0"]["a"] > 0.25
        True
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        objectives: Sequence[ObjectiveSpec] | ObjectiveSpec | None = None,
        seed: int | None = None,
        learning_rate: float = 0.1,
        baseline_decay: float = 0.9,
        entropy_weight: float = 1e-3,
        bins: int = 10,
    ) -> None:
        super().__init__(space, objectives=objectives, seed=seed)
        _positive("learning_rate", learning_rate)
        if not isinstance(baseline_decay, (int, float)) or not 0.0 <= baseline_decay < 1.0:
            raise StrategyError(
                f"`baseline_decay` must be a number in [0, 1), but got {baseline_decay!r}."
            )
        if not isinstance(entropy_weight, (int, float)) or entropy_weight < 0:
            raise StrategyError(
                f"`entropy_weight` must be a number >= 0, but got {entropy_weight!r}."
            )
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise StrategyError(f"`bins` must be an int >= 2, but got {bins!r}.")
        self.learning_rate = float(learning_rate)
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = float(entropy_weight)
        self.bins = bins
        self._slots: dict[str, _Slot] = {}
        self._collect(space, "")
        size = 0
        for slot in self._slots.values():
            slot.offset = size
            size += slot.n
        self._size = size
        self._reset()

    # -- the policy ---------------------------------------------------------------------------
    def _collect(self, node: Any, path: str) -> None:
        if isinstance(node, Domain):
            if not node.is_variable:
                return
            values = node.finite_values()
            if values is not None and len(values) <= _MAX_CATEGORIES:
                self._slots[path] = _Slot(path, node, values, len(values))
            else:
                self._slots[path] = _Slot(path, node, None, self.bins)
        elif isinstance(node, Struct):
            for name, f in node.fields.items():
                self._collect(f.node if isinstance(f, When) else f, _join(path, name))
        elif isinstance(node, Repeat):
            if node.min_count < node.max_count:
                counts = list(range(node.min_count, node.max_count + 1))
                self._slots[path + "#count"] = _Slot(path + "#count", None, counts, len(counts))
            for i in range(node.max_count):
                self._collect(node.item, f"{path}[{i}]")

    def _probs(self, slot: _Slot) -> np.ndarray:
        z = self._logits[slot.offset : slot.offset + slot.n]
        e = np.exp(z - z.max())
        return e / e.sum()

    def probabilities(self) -> dict[str, dict[Any, float]]:
        """The policy: for each decision path, the probability of each value (or range)."""
        out: dict[str, dict[Any, float]] = {}
        for path, slot in self._slots.items():
            p = self._probs(slot)
            labels = slot.values if slot.values is not None else list(range(slot.n))
            out[path] = {label: float(q) for label, q in zip(labels, p, strict=True)}
        return out

    def _draw(self, slot: _Slot) -> int:
        """An action of ``slot`` drawn from the policy.

        The same draw as ``rng.choice(slot.n, p=probs)`` (numpy inverts the normalized
        cumulative distribution at one uniform), with the distribution cached until the policy
        next changes: a search that keeps drawing repeats pays for one ``exp`` per change.
        """
        cdf = self._cdfs.get(slot.offset)
        if cdf is None:
            cdf = np.cumsum(self._probs(slot))
            cdf /= cdf[-1]
            self._cdfs[slot.offset] = cdf
        return int(cdf.searchsorted(self._rng.random(), side="right"))

    def _sample(self, node: Any, path: str) -> Any:
        if isinstance(node, Domain):
            slot = self._slots.get(path)
            if slot is None:
                return node.sample(self._rng)
            return slot.value(self._draw(slot), self._rng, self.bins)
        if isinstance(node, Struct):
            out: dict[str, Any] = {}
            for name, f in node.fields.items():
                if node._active(name, out):
                    out[name] = self._sample(
                        f.node if isinstance(f, When) else f, _join(path, name)
                    )
            return out
        assert isinstance(node, Repeat)
        count_slot = self._slots.get(path + "#count")
        n = node.min_count
        if count_slot is not None:
            counts = count_slot.values
            assert counts is not None  # count slots always list their counts
            n = counts[self._draw(count_slot)]
        return [self._sample(node.item, f"{path}[{i}]") for i in range(n)]

    def _actions(self, node: Any, value: Any, path: str, out: list[tuple[_Slot, int]]) -> None:
        if isinstance(node, Domain):
            slot = self._slots.get(path)
            if slot is not None:
                out.append((slot, slot.action(value, self.bins)))
        elif isinstance(node, Struct):
            for name, f in node.fields.items():
                if name in value:
                    child = f.node if isinstance(f, When) else f
                    self._actions(child, value[name], _join(path, name), out)
        elif isinstance(node, Repeat):
            slot = self._slots.get(path + "#count")
            if slot is not None:
                out.append((slot, slot.action(len(value), self.bins)))
            for i, item in enumerate(value):
                self._actions(node.item, item, f"{path}[{i}]", out)

    # -- strategy hooks -----------------------------------------------------------------------
    def _reset(self) -> None:
        self._logits = np.zeros(self._size)
        self._cdfs: dict[int, np.ndarray] = {}  # slot offset -> cumulative policy, until it changes
        self._m = np.zeros(self._size)
        self._v = np.zeros(self._size)
        self._steps = 0
        self._baseline: float | None = None
        self._worst: float | None = None

    def _propose(self) -> Mapping[str, Any]:
        config = self.new_config(lambda: self._sample(self._space, ""), 16)
        if config is not None:
            return config
        return self.mutate_new(self._space.validate(self._sample(self._space, "")))

    def _observe(self, obs: Observation, index: int, replaced: bool) -> None:
        if obs.ok and obs.fidelity < 1.0:
            # a truncated training ranks after every complete one: at most the worst reward
            if self._worst is None:
                return  # nothing of full fidelity to compare it with yet
            reward = min(-obs.losses[0], self._worst)
        elif obs.ok:
            reward = -obs.losses[0]
            self._worst = reward if self._worst is None else min(self._worst, reward)
        elif self._worst is not None:
            reward = self._worst
        else:
            return  # nothing to compare a failure with yet
        if self._baseline is None:
            self._baseline = reward
        else:
            d = self.baseline_decay
            self._baseline = d * self._baseline + (1.0 - d) * reward
        advantage = reward - self._baseline
        actions: list[tuple[_Slot, int]] = []
        self._actions(self._space, obs.config, "", actions)
        grad = np.zeros(self._size)  # gradient of the objective to *maximize*
        for slot, a in actions:
            p = self._probs(slot)
            g = -p
            g[a] += 1.0
            grad[slot.offset : slot.offset + slot.n] += advantage * g
        if self.entropy_weight:
            for slot in self._slots.values():
                p = self._probs(slot)
                logp = np.log(np.maximum(p, 1e-300))
                h = -float(np.sum(p * logp))
                grad[slot.offset : slot.offset + slot.n] += self.entropy_weight * (-p * (logp + h))
        self._adam(grad)

    def _adam(self, grad: np.ndarray, b1: float = 0.9, b2: float = 0.999) -> None:
        self._steps += 1
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2 * self._v + (1 - b2) * grad * grad
        m_hat = self._m / (1 - b1**self._steps)
        v_hat = self._v / (1 - b2**self._steps)
        self._logits += self.learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)
        self._cdfs.clear()


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise StrategyError(f"`{name}` must be a number > 0, but got {value!r}.")
    if not math.isfinite(value):
        raise StrategyError(f"`{name}` must be finite, but got {value!r}.")
