"""Export one evaluated candidate: ONNX model (with metadata), config, weights and metrics."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from raynas.search_spaces.errors import RaynasError

CHECKPOINT_FILE = "candidate.ckpt"  # written by raynas.evaluation's report callback


class ExportFailed(RaynasError):
    """A candidate could not be exported (no checkpoint, weights do not fit, exporter failed)."""


def load_trained_model(space: Any, config: Mapping[str, Any], checkpoint_dir: str) -> Any:
    """Rebuild the candidate's network from its config and load the trained weights."""
    import torch

    path = os.path.join(checkpoint_dir, CHECKPOINT_FILE)
    if not os.path.isfile(path):
        raise ExportFailed(f"no trained weights: {path} does not exist.")
    state = torch.load(path, map_location="cpu", weights_only=False)
    weights = state.get("state_dict", state)
    prefix = "model."
    weights = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
    model = space.build(space.validate(dict(config)))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ExportFailed(
            f"the checkpoint does not fit the config's network: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}."
        )
    return model.eval()


def _jsonable(metrics: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        elif isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        else:
            out[k] = str(v)
    return out


def export_candidate(
    space: Any,
    candidate: Any,
    folder: str,
    *,
    opset: int = 18,
    input_shape: tuple[int, ...] | None = None,
) -> str:
    """Write ``model.onnx``, ``config.json``, ``weights.pt`` and ``metrics.json`` into ``folder``
    (and ``tokenizer.json`` when the space carries its data's tokenizer: text over token ids).

    The ONNX file carries the config and metrics as metadata (``raynas.config``,
    ``raynas.metrics``) and is checked against torch's outputs before it is written.
    """
    import onnx
    import torch

    from raynas.hardware import export_onnx

    if candidate.checkpoint_path is None:
        raise ExportFailed(f"candidate {candidate.trial_id} has no checkpoint to export.")
    model = load_trained_model(space, candidate.config, candidate.checkpoint_path)
    if input_shape is None:
        input_shape = tuple(getattr(space, "input_shape", ()))
    dtype = str(getattr(space, "input_dtype", "float32"))  # "int64": token ids
    result = export_onnx(
        model, input_shape=input_shape, dtype=dtype, opset=opset, check_parity=True
    )
    proto = onnx.load_from_string(result.onnx)
    metrics = _jsonable(candidate.metrics)
    for key, value in (
        ("raynas.config", json.dumps(candidate.config, sort_keys=True)),
        ("raynas.metrics", json.dumps(metrics, sort_keys=True)),
        ("raynas.trial_id", candidate.trial_id),
        ("raynas.input_shape", json.dumps(list(input_shape))),
        ("raynas.input_dtype", dtype),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    os.makedirs(folder, exist_ok=True)
    onnx.save(proto, os.path.join(folder, "model.onnx"))
    torch.save(model.state_dict(), os.path.join(folder, "weights.pt"))
    tokenizer = getattr(space, "tokenizer", None)
    if tokenizer is not None:  # a text space: the vocabulary its token ids come from
        tokenizer.save(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(candidate.config, f, indent=2, sort_keys=True)
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        json.dump(
            {**metrics, "exporter": result.exporter, "opset": result.opset},
            f,
            indent=2,
            sort_keys=True,
        )
    return folder
