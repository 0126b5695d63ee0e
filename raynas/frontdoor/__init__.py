"""The front door: one call for a whole hardware-aware search, its resume and its results.

One step per module: :mod:`~raynas.frontdoor.options` declares and checks every option (nothing
starts), :mod:`~raynas.frontdoor.plan` builds the space, data, targets and checks the strategy
and scheduler, :mod:`~raynas.frontdoor.checks` checks the surroundings (data, storage,
providers, the cluster's resources), :mod:`~raynas.frontdoor.run` runs Ray and Tune,
:mod:`~raynas.frontdoor.resume` continues a stopped search, :mod:`~raynas.frontdoor.model`
hands the trained models back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raynas.frontdoor.names import ConfigError
from raynas.frontdoor.options import SearchOptions, with_options_signature

if TYPE_CHECKING:  # pragma: no cover
    from raynas.results import NASResults

__all__ = ["ConfigError", "SearchOptions", "resume", "results", "search"]


@with_options_signature(
    SearchOptions, "Run a whole hardware-aware search and return its NASResults."
)
def search(space: Any, data: Any = "digits", **options: Any) -> NASResults:
    """Everything is checked first (names, values, data, storage, providers; then, with Ray
    up, the resources the cluster has), then one Tune experiment runs: a raynas strategy
    suggests candidates through the Tune ``Searcher`` adapter (:class:`raynas.tune.Searcher`),
    each trial trains one candidate (:class:`raynas.evaluation.NASTrainable`) and measures it on
    the hardware targets, the scheduler stops weak ones early. The plan is written into the
    experiment folder before the first trial, so ``raynas.resume(path)`` continues a search
    stopped by Ctrl-C or a killed driver.

    Returns:
        :class:`~raynas.results.NASResults`: ``pareto_front()``, ``export()``, and the trained
        models back: ``load_model()``, ``evaluate(split="test")``, ``retrain()``.

    Example:
        >>> # results = raynas.search("mlp", "digits",
        >>> #     objectives=["val_acc:max", "latency_p50_ms:min"], strategy="nsga2",
        >>> #     scheduler="moasha", budget=24, max_epochs=5)
        >>> # results.pareto_front(); results.evaluate(results.best(), split="test")
    """
    from raynas.frontdoor.plan import make_plan
    from raynas.frontdoor.run import fit

    return fit(make_plan(SearchOptions(space, data, **options)), restore=False)


def resume(path: str, *, verbose: int | None = None) -> NASResults:
    """Continue a stopped search until its budget is spent (see :mod:`raynas.frontdoor.resume`)."""
    from raynas.frontdoor.resume import resume as _resume

    return _resume(path, verbose=verbose)


def results(path: str) -> NASResults:
    """Load the results of a finished or interrupted search from its folder."""
    from raynas.frontdoor.resume import load_results

    return load_results(path)
