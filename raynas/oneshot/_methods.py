"""The one-shot methods by name (a cheap module: the front door checks names without torch)."""

from __future__ import annotations

#: ``method`` values of :func:`raynas.oneshot.make_search`, and the one-shot strategy names of
#: :func:`raynas.search`.
METHODS = ("darts", "darts2", "gdas", "darts-", "darts-es", "spos")
#: The methods that search the NAS-Bench-201 cell by gradient (SPOS also trains the mobile space).
GRADIENT_METHODS = ("darts", "darts2", "gdas", "darts-", "darts-es")
