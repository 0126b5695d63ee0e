"""Ray's PBT and PB2 with their random decisions on a scheduler-owned seeded stream."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
from ray.tune.schedulers import PopulationBasedTraining


class ScopedRandom:
    """Runs Ray PBT's decisions on the scheduler's own seeded random streams.

    Ray's ``PopulationBasedTraining`` draws donors and perturbations from Python's global
    ``random`` and resamples Tune domains with numpy's global generator. A scheduler mixing this
    in seeds both from its own generator for the duration of each callback and restores them
    afterwards: with a seed, the same sequence of results gives the same exploit/explore
    decisions, and the caller's global random state is left as it was.
    """

    _scoped_rng: np.random.Generator | None = None

    def _seed_streams(self, seed: int | None) -> None:
        self._scoped_rng = None if seed is None else np.random.default_rng(seed)

    @contextlib.contextmanager
    def _scoped(self) -> Iterator[None]:
        if self._scoped_rng is None:
            yield
            return
        py_state, np_state = random.getstate(), np.random.get_state()
        random.seed(int(self._scoped_rng.integers(2**63)))
        np.random.seed(int(self._scoped_rng.integers(2**32)))
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        with self._scoped():
            super().on_trial_add(tune_controller, trial)  # type: ignore[misc]

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        with self._scoped():
            return super().on_trial_result(tune_controller, trial, result)  # type: ignore[misc]


class SeededPBT(ScopedRandom, PopulationBasedTraining):
    """Ray's ``PopulationBasedTraining`` with its random decisions seeded by ``seed``.

    Example:
        >>> pbt = SeededPBT(seed=0, metric="val_acc", mode="max",
        ...                 hyperparam_mutations={"learning_rate": [0.01, 0.1]})
    """

    def __init__(self, *, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seed_streams(seed)


try:
    from ray.tune.schedulers.pb2 import PB2
except ImportError:  # pragma: no cover - PB2 needs scikit-learn, a raynas dependency
    SeededPB2: Any = None
else:

    class SeededPB2(ScopedRandom, PB2):  # type: ignore[no-redef]
        """Ray's ``PB2`` with its random decisions seeded by ``seed``."""

        def __init__(self, *, seed: int | None = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._seed_streams(seed)
