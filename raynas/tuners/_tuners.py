"""The four KerasTuner tuners: what each asks of :func:`raynas.search`."""

from __future__ import annotations

from typing import Any

from raynas.frontdoor.names import ConfigError
from raynas.tuners._base import Tuner, _whole


class RandomSearch(Tuner):
    """KerasTuner's ``RandomSearch``: ``max_trials`` candidates drawn at random (no repeats).

    Example:
        >>> # tuner = RandomSearch(build_model, objective="val_accuracy", max_trials=10,
        >>> #                      directory="my_dir", project_name="random")
        >>> # tuner.search(x, y, epochs=5, validation_data=(x_val, y_val))
    """

    default_strategy = "random"


class GridSearch(Tuner):
    """KerasTuner's ``GridSearch``: every combination of build_model's values, in order.

    A float without ``step`` takes 10 evenly spaced values, as in KerasTuner. ``max_trials``
    (default: the whole grid) cuts the grid short.

    Example:
        >>> # tuner = GridSearch(build_model, objective="val_accuracy", directory="my_dir")
    """

    default_strategy = "grid"

    def __init__(self, hypermodel: Any, *, max_trials: int | None = None, **kwargs: Any) -> None:
        if kwargs.get("strategy") not in (None, "grid"):
            raise ConfigError(
                f"`strategy` of GridSearch is the grid; got {kwargs['strategy']!r}: use "
                f"RandomSearch(strategy=...) for another strategy."
            )
        super().__init__(hypermodel, max_trials=max_trials, **kwargs)

    def _search_options(self, space: Any, epochs: int) -> dict[str, Any]:
        from raynas.strategies import GridSearch as Grid
        from raynas.strategies.base import StrategyError

        try:
            size = Grid(space).size
        except StrategyError as e:
            raise ConfigError(f"`hypermodel`: {e}") from e
        budget = size if self.max_trials is None else min(self.max_trials, size)
        return {"budget": budget, "max_epochs": epochs}


class BayesianOptimization(Tuner):
    """KerasTuner's ``BayesianOptimization`` as raynas's TPE (``strategy="tpe"``).

    KerasTuner fits a Gaussian process; raynas uses the tree-structured Parzen estimator of
    hyperopt, a sequential model-based optimizer made for exactly these mixed spaces of
    choices, integers and (log-)floats, and for conditional ones (``units_2`` exists only when
    ``num_layers`` is 3), which a GP over a fixed-length vector handles poorly. With a list of
    objectives it uses ``"predictor"`` (a surrogate over every objective: a Pareto front).
    ``num_initial_points`` random candidates come first (KerasTuner's default: 3 per
    hyperparameter, at least 2). ``alpha``/``beta`` are GP settings, refused.

    Example:
        >>> # tuner = BayesianOptimization(build_model, objective="val_accuracy", max_trials=20)
    """

    default_strategy = "tpe"

    def __init__(
        self,
        hypermodel: Any,
        *,
        num_initial_points: int | None = None,
        alpha: float | None = None,
        beta: float | None = None,
        **kwargs: Any,
    ) -> None:
        for name, value in (("alpha", alpha), ("beta", beta)):
            if value is not None:
                raise ConfigError(
                    f"`{name}` is a setting of KerasTuner's Gaussian process; raynas's "
                    f"BayesianOptimization runs TPE, which has none. Leave `{name}` out."
                )
        if num_initial_points is not None:
            _whole("num_initial_points", num_initial_points, 1)
        self.num_initial_points = num_initial_points
        super().__init__(hypermodel, **kwargs)
        if len(self.objectives) > 1 and kwargs.get("strategy") is None:
            self.options["strategy"] = "predictor"

    def _search_options(self, space: Any, epochs: int) -> dict[str, Any]:
        out = super()._search_options(space, epochs)
        startup = self.num_initial_points or max(2, 3 * len(space.fields))
        startup = min(startup, out["budget"])
        first = {"tpe": "n_startup", "predictor": "num_initial"}.get(str(self.options["strategy"]))
        if first is not None:  # the user's own strategy_kwargs win
            out["strategy_kwargs"] = {
                first: startup,
                **dict(self.options.get("strategy_kwargs") or {}),
            }
        return out


class Hyperband(Tuner):
    """KerasTuner's ``Hyperband``: its brackets (``max_epochs``, ``factor``,
    ``hyperband_iterations``) on Ray Tune, promoted candidates continuing from their weights.

    For ``max_epochs=10, factor=3``: brackets of 12, 6 and 4 candidates from 2, 4 and 10
    epochs; 22 candidates, 120 epochs (:class:`~raynas.schedulers.KerasTunerHyperband`).
    Several objectives promote by Pareto rank. ``search(epochs=...)`` is ignored, as in
    KerasTuner: the brackets say how long each candidate trains.

    Example:
        >>> # tuner = Hyperband(build_model, objective="val_accuracy", max_epochs=10, factor=3,
        >>> #                   directory="my_dir", project_name="intro_to_kt")
        >>> # tuner.search(x, y, validation_data=(x_val, y_val))
    """

    def __init__(
        self,
        hypermodel: Any,
        *,
        max_epochs: int = 100,
        factor: int = 3,
        hyperband_iterations: int = 1,
        **kwargs: Any,
    ) -> None:
        _whole("max_epochs", max_epochs, 1)
        _whole("factor", factor, 2)
        _whole("hyperband_iterations", hyperband_iterations, 1)
        if "max_trials" in kwargs:
            raise ConfigError(
                "`max_trials` is not an argument of Hyperband: its brackets set the number of "
                "candidates (`max_epochs`, `factor`, `hyperband_iterations`)."
            )
        scheduler = dict(kwargs.get("options") or {}).get("scheduler")
        if scheduler is not None:
            raise ConfigError(
                f"`options.scheduler` of Hyperband is its brackets; got {scheduler!r}: use "
                f"RandomSearch(options={{'scheduler': ...}}) for another scheduler."
            )
        self.max_epochs, self.factor = max_epochs, factor
        self.hyperband_iterations = hyperband_iterations
        super().__init__(hypermodel, max_trials=None, **kwargs)

    def _settings(self) -> dict[str, Any]:
        return {
            **super()._settings(),
            "max_epochs": self.max_epochs,
            "factor": self.factor,
            "hyperband_iterations": self.hyperband_iterations,
        }

    def _search_options(self, space: Any, epochs: int) -> dict[str, Any]:
        from raynas.schedulers import KerasTunerHyperband

        scheduler = KerasTunerHyperband(
            objectives=self.objectives,
            max_epochs=self.max_epochs,
            factor=self.factor,
            hyperband_iterations=self.hyperband_iterations,
        )
        # paused candidates count as live for the search algorithm: let a whole bracket be
        live = max(scheduler.max_bracket, int(self.options.get("max_concurrent") or 0))
        return {
            "budget": scheduler.num_trials,
            "max_epochs": self.max_epochs,
            "scheduler": scheduler,
            "max_concurrent": live,
        }
