"""Latency-predictor screening: candidates predicted over a latency bound are not trained.

``raynas.search(..., constraints=["latency_p50_ms <= 5"], latency_screening=True)`` (or a
mapping, see :func:`raynas.frontdoor.engine_options.check_screening`) fits a :class:`hardware.LatencyPredictor` (on the
space's ``features``) on the latencies the trained candidates measured on the target. Once it
has ``min_measurements`` of them, every candidate the strategy proposes is screened before a
trial starts: one whose optimistic prediction (``mean - z * std``) already breaks the bound is
**told to the strategy as infeasible** (with the predicted value and the reason, so it learns
to avoid that region) **and skipped**: it starts no trial, is not measured, does not count in
``budget`` and is not among the results' candidates; ``screened.json`` in the experiment folder
lists each with its prediction. The strategy is then asked again (at most ``max_skips`` times
per trial; after that the candidate is trained).

Example:
    >>> # raynas.search("mlp", "digits", objectives=["val_acc:max", "latency_p50_ms:min"],
    >>> #     constraints=["latency_p50_ms <= 0.05"], latency_screening={"min_measurements": 6})
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from raynas.tune import Searcher

#: The record of the screened candidates in the experiment folder.
SCREENED_FILE = "screened.json"


class ScreeningSearcher(Searcher):
    """The Tune searcher of a search with latency screening (see the module docs)."""

    def __init__(self, strategy: Any, *, screening: Mapping[str, Any], path: str, **kw: Any):
        super().__init__(strategy, **kw)
        self.screening = dict(screening)
        self.path = path
        self._X: list[Any] = []
        self._y: list[float] = []
        self._predictor: Any = None
        self._fitted_on = 0
        self.screened: list[dict[str, Any]] = []

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        config = self._live.get(trial_id)
        value = (result or {}).get(self.screening["metric"])
        if config is not None and isinstance(value, (int, float)) and math.isfinite(value):
            self._X.append(self._strategy.space.features(config))
            self._y.append(float(value))
        super().on_trial_complete(trial_id, result, error)

    def _predict(self, config: Mapping[str, Any]) -> tuple[float, float] | None:
        if len(self._y) < self.screening["min_measurements"]:
            return None
        if self._predictor is None or self._fitted_on < len(self._y):
            from hardware import LatencyPredictor

            self._predictor = LatencyPredictor(estimator=self.screening["estimator"], seed=0)
            self._predictor.fit(self._X, self._y)
            self._fitted_on = len(self._y)
        mean, std = self._predictor.predict(
            [self._strategy.space.features(config)], return_std=True
        )
        return float(mean[0]), float(std[0])

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        s = self.screening
        config = super().suggest(trial_id)
        for _ in range(s["max_skips"]):
            if not isinstance(config, dict):
                return config
            predicted = self._predict(config)
            if predicted is None:
                return config
            mean, std = predicted
            op, bound = s["op"], s["bound"]
            if self._predictor.screen(
                [self._strategy.space.features(config)], (op, bound), z=s["z"]
            )[0]:
                return config
            reason = (
                f"screened: predicted {s['metric']} = {mean:.4g} ± {std:.2g} breaks {op} "
                f"{bound:g} (not trained)"
            )
            self._live.pop(trial_id, None)
            self._strategy.tell(
                config, {s["metric"]: mean, "feasible": False, "reason": reason}, feasible=False
            )
            self.screened.append({"config": config, "predicted": mean, "std": std})
            self._write()
            config = super().suggest(trial_id)
        return config

    def _write(self) -> None:
        os.makedirs(self.path, exist_ok=True)
        with open(os.path.join(self.path, SCREENED_FILE), "w") as f:
            json.dump(self.screened, f, indent=2, default=str)
