"""Test helpers shipped with raynas: the strategy contract suite and toy spaces.

Importing this package imports pytest; it is meant for test suites (raynas's own and those of
people writing their own strategies).
"""

from __future__ import annotations

from raynas.testing._strategy_contract import (
    StrategyContract,
    SymmetricSpace,
    conditional_space,
    small_space,
    synthetic_metrics,
)

__all__ = [
    "StrategyContract",
    "SymmetricSpace",
    "conditional_space",
    "small_space",
    "synthetic_metrics",
]
