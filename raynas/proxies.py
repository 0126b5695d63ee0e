"""Zero-cost proxies: figures of an untrained network that hint at how well it will train.

A proxy costs one forward and backward pass, not a training run, so a search can compute it for
every candidate it ranks. :class:`Synflow` turns the synaptic-flow score into an input of
:class:`~raynas.strategies.PredictorGuided`'s surrogate (``extra_features=Synflow(space)``): the
regressors learn from the search's own results how much the proxy tells about the objective,
where the proxy alone would have to be trusted blindly.

Example:
    >>> from raynas.search_spaces import NB201CellSpace
    >>> space = NB201CellSpace(input_shape=(1, 8, 8), num_classes=10, channels=4,
    ...                        cells_per_stage=1)
    >>> proxy = Synflow(space)
    >>> dead = space.from_arch_str("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    >>> live = space.from_arch_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    ...                            "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    >>> proxy(live)[0] > proxy(dead)[0]
    True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from raynas.search_spaces import SearchSpace


def synflow(model: torch.nn.Module, input_shape: Sequence[int]) -> float:
    """The synaptic-flow score of ``model`` (Tanaka et al. 2020; Abdelfattah et al. 2021).

    Every parameter and buffer is replaced by its absolute value, batch norm runs in eval mode
    (with fresh running statistics it passes its input through), an all-ones input of
    ``input_shape`` (one example, without the batch dimension) goes forward in float64, and the
    score is ``sum |theta * d(sum of outputs) / d theta|`` over the parameters. It works on a
    deep copy: ``model`` itself is left as it was.

    Data-free: it needs no batch of the dataset, only the input shape.
    """
    import copy

    import torch

    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(
            f"`input_shape` must be the positive sizes of one input, without the batch "
            f"dimension, but got {tuple(input_shape)!r}."
        )
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    params = [p for p in net.parameters() if p.requires_grad]
    with torch.enable_grad():
        out = net(torch.ones((1, *shape), dtype=torch.float64))
        total = out.sum()
        if not total.requires_grad:  # the output does not depend on any parameter
            return 0.0
        grads = torch.autograd.grad(total, params, allow_unused=True)
    score = 0.0
    for p, g in zip(params, grads, strict=True):
        if g is not None:
            score += float((p.detach() * g).abs().sum())
    return score


class Synflow:
    """``config -> [log synflow]`` of the network ``space.build(config)``, cached per config.

    For :class:`~raynas.strategies.PredictorGuided`'s ``extra_features``. The network is built
    with a fixed torch seed (``seed``; the caller's random state is left alone) and scored by
    :func:`synflow` on CPU; the log makes scores that span many orders of magnitude a usable
    regression input (``log1p``: a score of 0, a network whose output ignores its
    parameters, stays 0). A config whose network cannot be built or run gives ``nan`` with a
    warning (the predictor then treats the proxy as unknown for it), so one broken candidate
    does not stop a search.

    Cost: one forward and backward pass per distinct config (``space.key``): about 35 ms for the
    NAS-Bench-201 CIFAR network on one core of this project's CI machine.

    Args:
        space: the search space whose ``build(config)`` gives the network.
        input_shape: shape of one input, without the batch dimension; default
            ``space.input_shape``.
        seed: torch seed of the networks' initialization.
        max_cache: configs kept in the cache before it is cleared.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        input_shape: Sequence[int] | None = None,
        seed: int = 0,
        max_cache: int = 100_000,
    ) -> None:
        shape = input_shape if input_shape is not None else getattr(space, "input_shape", None)
        if shape is None:
            raise ValueError(
                "`input_shape` is needed: the space has no `input_shape` to take it from."
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"`seed` must be an int, but got {seed!r}.")
        self.space = space
        self.input_shape = tuple(int(d) for d in shape)
        self.seed = seed
        self.max_cache = max_cache
        self._cache: dict[str, float] = {}

    def __call__(self, config: Mapping[str, Any]) -> list[float]:
        key = self.space.key(config)
        value = self._cache.get(key)
        if value is None:
            value = self._score(config)
            if len(self._cache) >= self.max_cache:
                self._cache.clear()
            self._cache[key] = value
        return [value]

    def _score(self, config: Mapping[str, Any]) -> float:
        import torch

        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = self.space.build(config)
            score = synflow(model, self.input_shape)
        except Exception as e:  # noqa: BLE001 - a candidate's failure must not stop the search
            warnings.warn(
                f"synflow failed for {dict(config)!r}: {type(e).__name__}: {e}; the proxy is "
                f"unknown (nan) for it.",
                RuntimeWarning,
                stacklevel=3,
            )
            return math.nan
        return math.log1p(score)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = {}  # workers rebuild what they need
        return state
