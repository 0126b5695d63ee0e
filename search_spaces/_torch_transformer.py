"""The Transformer encoder classifier in torch (imported only by :meth:`TransformerSpace.build`).

Module tree and parameter names::

    tokens                     Tokenizer: input -> (batch, tokens, features), no parameters
    embed                      Linear(features, embed_dim)
    cls_token                  (1, 1, embed_dim), only with ``pooling="cls"``
    pos_embed                  (1, tokens [+1 for CLS], embed_dim), learned
    layers.<i>                 nn.TransformerEncoderLayer(batch_first, norm_first, GELU):
        .self_attn.in_proj_weight/bias, .self_attn.out_proj, .linear1 (-> ffn_dim_i),
        .linear2, .norm1, .norm2
    norm                       LayerNorm(embed_dim)
    head                       Linear(embed_dim, num_classes)

Over token ids (:class:`TextTransformerNetwork`), ``embed`` is ``nn.Embedding(vocab_size,
embed_dim, padding_idx=pad_id)``, the CLS position is always there (the one key no padding
mask hides) and ``layers.<i>`` has its own head count.

The encoder layers are torch's own; they export with ``torch.onnx.export(..., dynamo=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Tokenizer(nn.Module):
    """Cuts an input into tokens: image rows, image patches or sequence chunks."""

    def __init__(self, input_shape: Sequence[int], mode: str, patch_size: int) -> None:
        super().__init__()
        self.mode, self.p = mode, patch_size
        self.shape = tuple(input_shape)

    @staticmethod
    def count(input_shape: Sequence[int], mode: str, patch_size: int) -> tuple[int, int]:
        """(number of tokens, features per token)."""
        if mode == "rows":
            c, h, w = input_shape
            return h, c * w
        if mode == "patches":
            c, h, w = input_shape
            return (h // patch_size) * (w // patch_size), c * patch_size * patch_size
        c = 1 if len(input_shape) == 1 else input_shape[0]
        return input_shape[-1] // patch_size, c * patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, p = x.shape[0], self.p
        if self.mode == "rows":
            c, h, w = self.shape
            return x.permute(0, 2, 1, 3).reshape(b, h, c * w)
        if self.mode == "patches":
            c, h, w = self.shape
            x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
            return x.reshape(b, (h // p) * (w // p), c * p * p)
        c = 1 if len(self.shape) == 1 else self.shape[0]
        n = self.shape[-1] // p
        return x.reshape(b, c, n, p).permute(0, 2, 1, 3).reshape(b, n, c * p)


class TransformerNetwork(nn.Module):
    """Tokens -> linear embedding + learned positions (+ CLS) -> pre-norm encoder -> head."""

    def __init__(
        self,
        ffn_dims: Sequence[int],
        *,
        input_shape: Sequence[int],
        num_classes: int,
        tokens: str,
        patch_size: int,
        embed_dim: int,
        num_heads: int,
        dropout: float,
        pooling: str,
    ) -> None:
        super().__init__()
        n_tokens, features = Tokenizer.count(input_shape, tokens, patch_size)
        self.tokens = Tokenizer(input_shape, tokens, patch_size)
        self.embed = nn.Linear(features, embed_dim)
        self.pooling = pooling
        if pooling == "cls":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
            n_tokens += 1
        self.pos_embed = nn.Parameter(torch.zeros(1, n_tokens, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                embed_dim,
                num_heads,
                dim_feedforward=ffn,
                dropout=dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for ffn in ffn_dims
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(self.tokens(x))
        if self.pooling == "cls":
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.dropout(x + self.pos_embed)
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        x = x[:, 0] if self.pooling == "cls" else x.mean(dim=1)
        return self.head(x)


class TextTransformerNetwork(nn.Module):
    """Token ids -> embedding + learned positions + CLS -> masked pre-norm encoder -> head.

    The input is ``(batch, L)`` token ids (any dtype: cast to int64); the network reads the
    first ``max_length`` of them. Padding (``pad_id``) is masked out of every attention and of
    mean pooling, so the attention mask is part of the graph and a deployed model takes the ids
    its tokenizer pads with ``pad_id``.
    """

    def __init__(
        self,
        num_heads: Sequence[int],
        ffn_dims: Sequence[int],
        *,
        vocab_size: int,
        max_length: int,
        num_classes: int,
        embed_dim: int,
        dropout: float,
        pooling: str,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.max_length, self.pooling, self.pad_id = max_length, pooling, pad_id
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, max_length + 1, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                embed_dim,
                heads,
                dim_feedforward=ffn,
                dropout=dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for heads, ffn in zip(num_heads, ffn_dims, strict=True)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids[:, : self.max_length].long()
        valid = ids != self.pad_id  # (batch, tokens): the attention mask
        x = torch.cat([self.cls_token.expand(ids.shape[0], -1, -1), self.embed(ids)], dim=1)
        x = self.dropout(x + self.pos_embed[:, : x.shape[1]])
        keep = torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1)
        # an additive float mask: the same graph in torch's fast and slow attention paths
        bias = torch.zeros(keep.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(~keep, float("-inf"))
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=bias)
        x = self.norm(x)
        if self.pooling == "cls":
            return self.head(x[:, 0])
        w = valid.to(x.dtype).unsqueeze(-1)
        pooled = (x[:, 1:] * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)
        return self.head(pooled)
