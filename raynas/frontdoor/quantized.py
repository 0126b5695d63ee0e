"""int8 targets through the front door: calibration and accuracy data from the search's data.

A target with ``HardwareTarget(quantization="static" | "dynamic")`` is measured after the
candidate's training (its accuracy after quantization depends on the trained weights), not
before it as a float target's latency is. In the worker, the search's own DataModule gives:

- **calibration** (``"static"``): the first :data:`CALIBRATION_SAMPLES` inputs of the
  *training* split (the activation ranges; never the split the score is read on);
- **accuracy**: the whole *validation* split, for both the float and the int8 model
  (``float_acc``, ``quantized_acc``; the test split stays held out for
  ``NASResults.evaluate(split="test")``).

So ``quantized_acc`` is reported by every candidate and can be an objective or a constraint
(``"quantized_acc:max"``, ``"quantized_acc >= 0.9"``).

Example:
    >>> # raynas.search("mlp", "digits", objectives=["quantized_acc:max", "latency_p50_ms:min"],
    >>> #     hardware=[HardwareTarget(name="cpu", quantization="static")], budget=8)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Training inputs the activation ranges of a static int8 model are calibrated on.
CALIBRATION_SAMPLES = 256


class FromData:
    """Stands for the calibration data until the worker reads it from the search's data."""

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "FromData()"


class QuantizedMeasure:
    """Measures a quantized target on the trained network, with calibration and validation
    data taken from the search's data in the worker (read once per worker process)."""

    measure_at = "end"

    def __init__(self, objective: Any, data: Any, data_kwargs: Mapping[str, Any]) -> None:
        self.objective = objective
        self.data = data
        self.data_kwargs = dict(data_kwargs)
        self.__name__ = f"QuantizedHardwareObjective[{objective.target.name}]"
        self._arrays: tuple[Any, Any, Any] | None = None

    def arrays(self) -> tuple[Any, Any, Any]:
        """``(calibration inputs, validation inputs, validation labels)`` as numpy arrays."""
        if self._arrays is None:
            from raynas.frontdoor.engines import splits_of

            splits = splits_of(self.data, self.data_kwargs)
            x_train = splits.parts["train"][0][:CALIBRATION_SAMPLES]
            x_val, y_val = splits.parts["val"]
            self._arrays = (x_train.numpy(), x_val.numpy(), y_val.numpy())
        return self._arrays

    def __call__(self, model: Any, config: Any) -> Any:
        calibration, x_val, y_val = self.arrays()
        self.objective.calibration = calibration
        self.objective.eval_data = (x_val, y_val)
        return self.objective(model, config)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": None}  # never the arrays in the pickled trainable


def check_quantized_objectives(targets: Any, objectives: Any) -> None:
    """Refuse ``quantized_acc`` of a target that does not quantize (before Ray starts)."""
    from raynas.frontdoor.names import ConfigError

    for i, t in enumerate(targets):
        name = ("" if i == 0 else f"{t.name}_") + "quantized_acc"
        if t.quantization is None and any(o.name == name for o in objectives):
            quantized = [u.name for u in targets if u.quantization is not None]
            raise ConfigError(
                f"`objectives`: `{name}` is the accuracy after int8 quantization, but hardware "
                f"target `{t.name}` does not quantize (quantized targets: {quantized}); set "
                f"HardwareTarget(quantization='static' or 'dynamic')."
            )
