"""The Once-for-All style elastic supernet of a MobileBlockSpace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from raynas.search_spaces._builtin import make_divisible
from raynas.search_spaces._mobile import MobileBlockSpace
from raynas.search_spaces._torch_layers import ACTIVATIONS, AddChannel, spatial_dims
from raynas.search_spaces._torch_mobile import ConvBN, MBConv, MobileStage

from .errors import OneShotError


def _values(domain: Any, name: str) -> list[Any]:
    values = domain.finite_values()
    if values is None:
        raise OneShotError(
            f"`{name}` must have finitely many values for a supernet, but got {domain!r}."
        )
    return list(values)


class MobileSupernet(nn.Module):
    """OFA-style elastic supernet of a :class:`MobileBlockSpace` (Cai et al., ICLR 2020).

    One network at the largest setting of every choice: ``max_depth`` blocks per stage, the
    largest kernel, expansion ratio and width multiplier, squeeze-excite present. A config is the
    sub-network that takes

    - **depth**: the first ``len(stage["blocks"])`` blocks of each stage;
    - **kernel**: the centred ``k x k`` slice of the largest depthwise kernel;
    - **expansion**: the leading ``c_in * expand_ratio`` channels of each block's expansion,
      depthwise, squeeze-excite and projection weights;
    - **width**: the leading ``make_divisible(base * width_mult)`` output channels of each stage
      (and the matching input channels of the next layer);
    - **squeeze-excite**: used only when the block's ``se`` is on (its leading channels);
    - **activation**: parameter-free, taken from the config.

    BN weights and running statistics are sliced the same way. Parameter names are those of
    ``space.build`` (``raynas.search_spaces._torch_mobile``), so :meth:`path_state_dict` loads
    strictly into the stand-alone network, and :meth:`forward` (``F.conv`` on sliced weights)
    equals the stand-alone output. Kernel transformation matrices of the OFA paper are not used.

    Args:
        space: the mobile space (its choices must be finite).
        seed: seeds the weight initialisation (torch's global RNG is left as it was).

    Example:
        >>> import torch
        >>> from raynas.search_spaces import MobileBlockSpace
        >>> space = MobileBlockSpace(input_shape=(1, 8, 8), num_classes=10,
        ...                          stage_channels=(8, 16), strides=(1, 2), head_channels=32)
        >>> supernet = MobileSupernet(space, seed=0).eval()
        >>> cfg = space.sample(0)
        >>> x = torch.randn(2, 1, 8, 8)
        >>> torch.allclose(supernet(x, cfg), supernet.extract(cfg).eval()(x), atol=1e-5)
        True
    """

    def __init__(self, space: MobileBlockSpace, *, seed: int | None = None) -> None:
        super().__init__()
        if not isinstance(space, MobileBlockSpace):
            raise OneShotError(
                f"`space` must be a MobileBlockSpace, but got {type(space).__name__}."
            )
        self.space = space
        d = space._domains
        self.max_kernel = max(_values(d["kernel_size"], "kernel_sizes"))
        self.max_expand = max(_values(d["expand_ratio"], "expand_ratios"))
        self.has_se = True in _values(d["se"], "se")
        self.max_width = max(_values(space._width, "width_mults"))
        self.dim = spatial_dims(space.input_shape)
        if seed is None:
            self._build_modules()
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self._build_modules()

    def _build_modules(self) -> None:
        space, dim = self.space, self.dim
        act = "relu"  # modules' activations are not used: the config's is applied in forward
        self.add_channel = AddChannel(space.input_shape)
        in_ch = 1 if len(space.input_shape) == 1 else space.input_shape[0]
        self.stem = ConvBN(dim, in_ch, space.stem_channels, 3, stride=space.stem_stride, act=act)
        c = space.stem_channels
        stages = []
        for base, stride in zip(space.stage_channels, space.strides, strict=True):
            c_out = make_divisible(base * self.max_width, space.channel_divisor)
            blocks = []
            for b in range(space.max_depth):
                blocks.append(
                    MBConv(
                        dim,
                        c,
                        c_out,
                        kernel_size=self.max_kernel,
                        expand_ratio=self.max_expand,
                        se=self.has_se,
                        stride=stride if b == 0 else 1,
                        act=act,
                        divisor=space.channel_divisor,
                    )
                )
                c = c_out
            stages.append(MobileStage(blocks))
        self.stages = nn.ModuleList(stages)
        self.head = ConvBN(dim, c, space.head_channels, 1, act=act)
        self.pool = nn.AdaptiveAvgPool2d(1) if dim == 2 else nn.AdaptiveAvgPool1d(1)
        self.classifier = nn.Linear(space.head_channels, space.num_classes)

    # -- functional pieces ---------------------------------------------------------------------
    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: Any, stride: int, groups: int) -> Any:
        fn = F.conv2d if self.dim == 2 else F.conv1d
        return fn(x, w, b, stride=stride, padding=w.shape[-1] // 2, groups=groups)

    def _bn(self, bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor, c: int) -> torch.Tensor:
        """``bn`` on the first ``c`` channels: its statistics, weight and bias sliced to them."""
        momentum = 0.0
        tracked = bn.num_batches_tracked
        if self.training and bn.track_running_stats and tracked is not None:
            tracked.add_(1)
            momentum = bn.momentum if bn.momentum is not None else 1.0 / float(tracked)
        return F.batch_norm(
            x,
            _first(bn.running_mean, c),
            _first(bn.running_var, c),
            _first(bn.weight, c),
            _first(bn.bias, c),
            self.training or bn.running_mean is None,  # no running statistics: batch statistics
            momentum,
            bn.eps,
        )

    def _conv_bn(
        self,
        m: ConvBN,
        x: torch.Tensor,
        c_out: int,
        *,
        kernel: int = 1,
        stride: int = 1,
        depthwise: bool = False,
        act: Any = None,
    ) -> torch.Tensor:
        w = m.conv.weight
        if depthwise:
            s = (w.shape[-1] - kernel) // 2
            w = (
                w[:c_out, :, s : s + kernel]
                if self.dim == 1
                else w[:c_out, :, s : s + kernel, s : s + kernel]
            )
            y = self._conv(x, w, None, stride, groups=c_out)
        else:
            y = self._conv(x, w[:c_out, : x.shape[1]], None, stride, groups=1)
        y = self._bn(m.bn, y, c_out)
        return act(y) if act is not None else y

    def _block(
        self,
        m: MBConv,
        x: torch.Tensor,
        c_out: int,
        block: Mapping[str, Any],
        stride: int,
        act: Any,
    ) -> torch.Tensor:
        c_in = x.shape[1]
        mid = c_in * block["expand_ratio"]
        y = x
        if block["expand_ratio"] != 1:
            y = self._conv_bn(m.expand, y, mid, act=act)
        y = self._conv_bn(
            m.depthwise, y, mid, kernel=block["kernel_size"], stride=stride, depthwise=True, act=act
        )
        if block["se"]:
            se = m.se
            r = make_divisible(mid / 4, self.space.channel_divisor)
            pooled = F.adaptive_avg_pool2d(y, 1) if self.dim == 2 else F.adaptive_avg_pool1d(y, 1)
            g = self._conv(pooled, se.reduce.weight[:r, :mid], se.reduce.bias[:r], 1, 1)
            g = self._conv(F.relu(g), se.expand.weight[:mid, :r], se.expand.bias[:mid], 1, 1)
            y = y * F.hardsigmoid(g)
        y = self._conv_bn(m.project, y, c_out)
        return x + y if stride == 1 and c_in == c_out else y

    # -- public --------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, config: Mapping[str, Any]) -> torch.Tensor:
        """Logits of the sub-network ``config`` (the same as ``extract(config)(x)``)."""
        cfg = self.space.validate(config)
        space = self.space
        act = ACTIVATIONS[cfg["activation"]]()
        x = self._stem(x, act)
        for stage_cfg, stage, base, stride in zip(
            cfg["stages"], self.stages, space.stage_channels, space.strides, strict=True
        ):
            c_out = make_divisible(base * stage_cfg["width_mult"], space.channel_divisor)
            assert isinstance(stage, MobileStage)
            for b, block in enumerate(stage_cfg["blocks"]):
                x = self._block(stage.blocks[b], x, c_out, block, stride if b == 0 else 1, act)
        x = self._conv_bn(self.head, x, space.head_channels, act=act)
        return self.classifier(self.pool(x).flatten(1))

    def _stem(self, x: torch.Tensor, act: Any) -> torch.Tensor:
        x = self.add_channel(x)
        y = self._conv(x, self.stem.conv.weight, None, self.space.stem_stride, 1)
        return act(self._bn(self.stem.bn, y, self.space.stem_channels))

    def build(self, config: Mapping[str, Any]) -> nn.Module:
        """A fresh (randomly initialised) stand-alone network of ``config``."""
        return self.space.build(config).to(next(self.parameters()).device)

    def path_state_dict(
        self, config: Mapping[str, Any], *, like: nn.Module | None = None
    ) -> dict[str, torch.Tensor]:
        """The state dict of ``config``'s stand-alone network, sliced out of this supernet.

        ``like`` is that network if already built (its shapes are read); otherwise it is built on
        the meta device.
        """
        if like is None:
            with torch.device("meta"):
                like = self.space.build(config)
        full = self.state_dict()
        out = {}
        for name, target in like.state_dict().items():
            source = full[name]
            if target.dim() == 0:
                out[name] = source.detach().clone()
                continue
            index: list[slice] = []
            for i, n in enumerate(target.shape):
                if name.endswith("depthwise.conv.weight") and i >= 2:
                    s = (source.shape[i] - n) // 2
                    index.append(slice(s, s + n))
                else:
                    index.append(slice(0, n))
            out[name] = source[tuple(index)].detach().clone()
        return out

    def load_into(self, module: nn.Module, config: Mapping[str, Any]) -> nn.Module:
        """Load ``config``'s sliced weights into ``module`` (built by ``space.build``)."""
        module.load_state_dict(self.path_state_dict(config, like=module), strict=True)
        return module

    def extract(self, config: Mapping[str, Any]) -> nn.Module:
        """The stand-alone network of ``config`` with sliced weights; in this supernet's mode."""
        return self.load_into(self.build(config), config).train(self.training)


def _first(t: torch.Tensor | None, c: int) -> torch.Tensor | None:
    """The first ``c`` entries of ``t`` (None stays None: a norm without that tensor)."""
    return None if t is None else t[:c]
