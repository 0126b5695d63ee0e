"""The YAML search config: loaded safely, then read as the same options as :func:`raynas.search`.

A config's keys are the keyword arguments of :func:`raynas.search`
(:class:`~raynas.frontdoor.options.SearchOptions`, declared once), with the same names, defaults
and checks; every error names the key (``strategy.name``), the value and what is allowed.
Spaces, datasets, strategies and schedulers are chosen by name, or a user's own by
``module:attribute``; a mapping ``{name: x, **arguments}`` gives a named one its arguments, and
``training:`` groups the training options.

Example config::

    name: hardware-aware-digits
    seed: 0
    space: {type: mlp, max_layers: 3, width: [32, 64, 128, 256]}
    data: {name: digits}
    objectives: [val_acc:max, latency_p50_ms:min]
    constraints: ["latency_p50_ms <= 5"]
    strategy: {name: nsga2, population_size: 8}
    scheduler: {name: moasha, grace_period: 1}
    hardware: [{name: cpu, provider: CPUExecutionProvider, intra_op_threads: 1}]
    budget: 24
    training: {max_epochs: 5, train_fraction: 1.0}
    resources_per_trial: {cpu: 1}
    callbacks: [tensorboard]
    storage_path: ./runs
"""

from __future__ import annotations

import os
from typing import Any

from raynas.frontdoor.names import SPACES, ConfigError, load_object, parse_domain
from raynas.frontdoor.options import OPTION_NAMES, SearchOptions

__all__ = [
    "OPTION_NAMES",
    "SPACES",
    "ConfigError",
    "SearchOptions",
    "load_config",
    "load_object",
    "parse_domain",
    "validate_config",
]


def validate_config(raw: Any, *, source: str = "config") -> SearchOptions:
    """Check a config mapping (from YAML or code) and return its :class:`SearchOptions`."""
    return SearchOptions.from_mapping(raw, source=source)


def load_config(path: str) -> SearchOptions:
    """Read a YAML file with ``yaml.safe_load`` and check it whole."""
    import yaml

    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist.")
    with open(path) as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if raw is None:
        raise ConfigError(f"{path}: the config file is empty.")
    return validate_config(raw, source=path)
