"""Checks of a search's surroundings, each refusing with the field, the value and what is there.

Before Ray starts: the data (NaN or inf), the storage folder (a writable folder), the hardware
targets' execution providers (this onnxruntime's), the Tune callbacks and ``RunConfig`` keys.
Once Ray is up, before the first trial: :func:`check_cluster` compares what one trial and each
hardware target ask for with what the cluster's nodes have.
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from raynas.frontdoor.names import ConfigError, build_callback

_log = logging.getLogger(__name__)

#: ``tune.RunConfig`` arguments the search sets itself, and the option to use instead.
_RUN_CONFIG_OWNED = {
    "name": "name",
    "storage_path": "storage_path",
    "failure_config": "max_failures",
    "callbacks": "callbacks",
    "progress_reporter": "verbose",
    "verbose": "verbose",
}


def check_finite_data(dm: Any) -> None:
    """Refuse data whose inputs (or regression targets) hold NaN or inf."""
    arrays = getattr(dm, "arrays", None)
    if not callable(arrays):
        return  # a user's DataModule: its batches are only seen in training
    import torch

    for split in ("train", "val", "test"):
        try:
            x, y = arrays(split)
        except Exception:  # noqa: BLE001 - a split the module does not have
            continue
        for what, t in (("inputs", x), ("targets", y)):
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                bad = int((~torch.isfinite(t)).sum())
                if bad:
                    raise ConfigError(
                        f"`data`: the {split} split's {what} hold {bad} NaN or inf values (of "
                        f"{t.numel()}); clean or impute them before the search."
                    )


def check_storage(storage_path: str) -> None:
    """Refuse a storage path that is not (and cannot become) a writable folder."""
    path = os.path.abspath(storage_path)
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise ConfigError(
            f"`storage_path` must be a folder, but {storage_path!r} lies under {probe!r}, which "
            f"is a file."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "is" if probe == path else f"lies under {probe!r}, which is"
        raise ConfigError(
            f"`storage_path` must be a writable folder, but {storage_path!r} {where} not "
            f"writable by this user."
        )


def check_providers(targets: Sequence[Any]) -> None:
    """Refuse a provider name onnxruntime does not know, and, when the targets are measured on
    this machine (no ``RAY_ADDRESS`` cluster), one this onnxruntime build does not have."""
    if not targets:
        return
    import onnxruntime as ort

    known = list(ort.get_all_providers())
    for i, t in enumerate(targets):
        if t.provider not in known and t.provider not in ort.get_available_providers():
            close = difflib.get_close_matches(t.provider, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"`hardware[{i}].provider` is {t.provider!r}, which onnxruntime does not know"
                f"{hint}; the providers are {known}."
            )
    if os.environ.get("RAY_ADDRESS"):
        return  # the device node's onnxruntime decides; checked where it measures
    from raynas.hardware.errors import ProviderUnavailableError

    for i, t in enumerate(targets):
        try:
            t.check_provider()
        except ProviderUnavailableError as e:
            raise ConfigError(f"`hardware[{i}]`: {e}") from e


def check_run_config(run_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Further ``tune.RunConfig`` arguments: known ones, not those the search sets."""
    if not run_config:
        return {}
    from ray import tune

    known = [f.name for f in dataclasses.fields(tune.RunConfig)]
    for key in run_config:
        if key in _RUN_CONFIG_OWNED:
            raise ConfigError(
                f"`run_config.{key}` is set by the search itself: pass "
                f"`{_RUN_CONFIG_OWNED[key]}` to raynas.search instead."
            )
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError(
                f"`run_config.{key}` is not an argument of tune.RunConfig{hint}; they are "
                f"{[k for k in known if k not in _RUN_CONFIG_OWNED]}."
            )
    return dict(run_config)


def build_callbacks(specs: Sequence[Any]) -> list[Any]:
    return [build_callback(spec, f"callbacks[{i}]") for i, spec in enumerate(specs)]


def _nodes() -> list[dict[str, float]]:
    import ray

    return [dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]


def _autoscaling() -> bool:
    """Whether an autoscaler with configured node types runs (``ray up``): it may add a node for
    a request no node meets now. A local or fixed cluster maps each node to a type named after
    the node itself (``node_<node id>``); ``ray up`` names them after its config's node types."""
    import json

    try:
        from ray.experimental.internal_kv import _internal_kv_get, _internal_kv_initialized

        if not _internal_kv_initialized():
            return False
        status = json.loads(_internal_kv_get(b"__autoscaling_status", namespace=None) or b"{}")
    except Exception:  # noqa: BLE001 - no autoscaler state: a fixed cluster
        return False
    return autoscales(status)


def autoscales(status: Mapping[str, Any]) -> bool:
    """Whether an autoscaler status (GCS ``__autoscaling_status``) names configured node types."""
    mapping = (status.get("autoscaler_report") or {}).get("node_type_mapping") or {}
    return any(kind not in (node, f"node_{node}") for node, kind in mapping.items())


def trial_bundle(cpus: float, gpus: float, resources: Mapping[str, float]) -> dict[str, float]:
    """What one trial asks of a node, in Ray's resource names."""
    bundle = {"CPU": float(cpus), **{k: float(v) for k, v in resources.items() if v}}
    if gpus:
        bundle["GPU"] = float(gpus)
    return {k: v for k, v in bundle.items() if v}


def check_cluster(
    bundle: Mapping[str, float],
    targets: Sequence[Any],
    *,
    nodes: list[dict[str, float]] | None = None,
    autoscaling: bool | None = None,
) -> None:
    """Refuse a trial request or a hardware target that no node of the cluster can meet.

    Args:
        bundle: one trial's resources (``{"CPU": 1, "GPU": 0.5}``).
        targets: the hardware targets; each needs a node advertising its ``resource`` unless
            it has ``local_fallback=True``.
        nodes: the alive nodes' resources (default: the connected cluster's).
        autoscaling: whether nodes may be added (then a warning instead of an error).
    """
    nodes = _nodes() if nodes is None else nodes
    autoscaling = _autoscaling() if autoscaling is None else autoscaling
    have = [{k: v for k, v in n.items() if not k.startswith("node:")} for n in nodes]
    fits = [n for n in have if all(n.get(k, 0.0) >= v for k, v in bundle.items())]
    problems = []
    if not fits:
        problems.append(
            f"`resources_per_trial` asks each trial for {dict(bundle)}, but no node of the Ray "
            f"cluster has that; its nodes have {have}"
        )
    for t in targets:
        if t.local_fallback or any(n.get(t.resource, 0.0) > 0 for n in have):
            continue
        advertised = sorted({k for n in have for k in n if k.startswith("hw:")})
        problems.append(
            f"`hardware` target `{t.name}` is measured on the node advertising {t.resource!r}, "
            f"but no node does (device resources advertised: {advertised}); start the device's "
            f"node with --resources='{{\"{t.resource}\": 1}}', or set "
            f"HardwareTarget(local_fallback=True) to measure on the trial's own node"
        )
    if not problems:
        return
    if autoscaling:
        for p in problems:
            _log.warning("raynas: %s; waiting for the autoscaler to add a node.", p)
        return
    raise ConfigError("; ".join(problems) + ".")


def explain_write_error(e: OSError, path: str) -> ConfigError | None:
    """A clear error for a full or read-only experiment folder (None for other errors)."""
    if e.errno == errno.ENOSPC:
        try:
            st = os.statvfs(path)
            free = f"{st.f_bavail * st.f_frsize / 2**20:.1f} MiB free"
        except OSError:
            free = "free space unknown"
        return ConfigError(f"the experiment folder {path!r} is on a full filesystem ({free}).")
    if e.errno in (errno.EROFS, errno.EACCES):
        return ConfigError(f"the experiment folder {path!r} cannot be written: {e.strerror}.")
    return None
