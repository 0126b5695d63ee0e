"""Random state helpers: every raynas object owns its generator, nothing uses a global one."""

from __future__ import annotations

import numpy as np

RNGLike = "np.random.Generator | int | None"


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return ``rng`` if it is a Generator, else a new Generator seeded with it."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"`rng` must be a numpy Generator, an int seed or None, but got {rng!r}.")
