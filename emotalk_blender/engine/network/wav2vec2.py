"""A wav2vec2 encoder ("stable layer norm" variant) in plain PyTorch.

Module and parameter names follow the upstream layout exactly, so a released state_dict maps 1:1
(``feature_extractor.conv_layers.0.conv.weight``, ``encoder.layers.3.attention.q_proj.bias``, ...).
Only the inference path EmoTalk needs is here: no masking, no quantiser, no CTC loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import Wav2Vec2Config


def _cached(owner: nn.Module, params, make):
    """``make()`` cached on ``owner`` until any of ``params`` is replaced or modified in place."""
    key = tuple((p.data_ptr(), p._version, p.device, p.dtype) for p in params)
    hit = owner.__dict__.get("_derived")
    if hit is None or hit[0] != key:
        hit = (key, make())
        owner.__dict__["_derived"] = hit
    return hit[1]


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU; in place when no gradient is needed. The CNN's first activations are tens of MB:
    a fresh buffer for each costs page faults that took 4x the GELU itself (measured here)."""
    return F.gelu(x) if x.requires_grad else torch.ops.aten.gelu_(x)


def interpolate_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Linear resampling of (B, T, C) features to ``frames`` steps, as the released code does."""
    if x.shape[1] == frames:
        return x
    return F.interpolate(x.transpose(1, 2), size=frames, mode="linear", align_corners=True).transpose(1, 2)


class ConvLayer(nn.Module):
    """Conv1d -> LayerNorm over channels -> GELU (upstream: Wav2Vec2LayerNormConvLayer).

    Computed channels-last, (B, L, C) in and out: the convolution is a sum over its kernel taps of
    strided views times (C_in, C_out) matrices. The LayerNorm then runs over the contiguous last
    axis, with none of the transposed copies that a (B, C, L) Conv1d needs around it; measured 35 %
    faster than Conv1d + transposes for the released CNN on this CPU (bench/README.md).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, eps: float):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, bias=True)
        self.layer_norm = nn.LayerNorm(c_out, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, C_in) -> (B, L', C_out)
        w, b = self.conv.weight, self.conv.bias
        k, s = self.conv.kernel_size[0], self.conv.stride[0]
        n = (x.shape[1] - k) // s + 1
        if x.shape[2] == 1:  # first layer: one input channel, the taps are a (k, C_out) matrix
            y = torch.matmul(x[:, :, 0].unfold(1, k, s), w[:, 0, :].t())
        else:
            y = None
            for j in range(k):
                t = torch.matmul(x[:, j: j + s * (n - 1) + 1: s], w[:, :, j].t())
                y = t if y is None else y.add_(t)
        y = y + b if y.requires_grad else y.add_(b)
        y = F.layer_norm(y, (y.shape[-1],), self.layer_norm.weight, self.layer_norm.bias, self.layer_norm.eps)
        return gelu(y)


class FeatureEncoder(nn.Module):
    """The CNN: 16 kHz waveform (B, N) -> (B, T50, C) at about 50 Hz (hop 320, field 400)."""

    def __init__(self, cfg: Wav2Vec2Config):
        super().__init__()
        c_in = (1,) + tuple(cfg.conv_dim[:-1])
        self.conv_layers = nn.ModuleList(
            ConvLayer(i, o, k, s, cfg.layer_norm_eps)
            for i, o, k, s in zip(c_in, cfg.conv_dim, cfg.conv_kernel, cfg.conv_stride)
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = wav[:, :, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x


def output_length(cfg: Wav2Vec2Config, n_samples: int) -> int:
    """Number of CNN frames for ``n_samples`` of audio (no padding: floor((L - k) / s) + 1)."""
    for k, s in zip(cfg.conv_kernel, cfg.conv_stride):
        n_samples = (n_samples - k) // s + 1
    return n_samples


class FeatureProjection(nn.Module):
    def __init__(self, cfg: Wav2Vec2Config):
        super().__init__()
        self.layer_norm = nn.LayerNorm(cfg.conv_dim[-1], eps=cfg.layer_norm_eps)
        self.projection = nn.Linear(cfg.conv_dim[-1], cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.projection(self.layer_norm(x)))


class WeightNormConv(nn.Module):
    """Conv1d whose weight is weight-normalised over dim 2: ``w = g * v / ||v||`` (norm over dims 0, 1).

    Stored as ``weight_g`` (1, 1, K) and ``weight_v`` (C, C / groups, K), the released names.
    """

    def __init__(self, channels: int, kernel: int, groups: int):
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.empty(channels, channels // groups, kernel))
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.normal_(self.weight_v, std=(2.0 / (kernel * channels)) ** 0.5)
        with torch.no_grad():
            self.weight_g.copy_(self.weight_v.norm(dim=(0, 1), keepdim=True))
        self.groups = groups
        self.padding = kernel // 2

    def weight(self) -> torch.Tensor:
        def normalised():
            return self.weight_g * self.weight_v / self.weight_v.norm(dim=(0, 1), keepdim=True)

        if self.training or torch.is_grad_enabled():
            return normalised()
        return _cached(self, (self.weight_g, self.weight_v), normalised)

    def forward(self, x):
        return F.conv1d(x, self.weight(), self.bias, padding=self.padding, groups=self.groups)


class PositionalConvEmbedding(nn.Module):
    def __init__(self, cfg: Wav2Vec2Config):
        super().__init__()
        self.conv = WeightNormConv(cfg.hidden_size, cfg.pos_conv_kernel, cfg.pos_conv_groups)
        self.drop_last = cfg.pos_conv_kernel % 2 == 0  # an even kernel yields one frame too many

    def forward(self, x):  # (B, T, C)
        y = self.conv(x.transpose(1, 2))
        if self.drop_last:
            y = y[:, :, :-1]
        return F.gelu(y).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, c = x.shape

        def split(y):
            return y.view(b, t, self.heads, c // self.heads).transpose(1, 2)

        if self.training or torch.is_grad_enabled():
            q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        else:  # inference: one GEMM for q, k and v (about 20 % faster than three here)
            ps = (self.q_proj.weight, self.k_proj.weight, self.v_proj.weight,
                  self.q_proj.bias, self.k_proj.bias, self.v_proj.bias)
            w, bias = _cached(self, ps, lambda: (torch.cat(ps[:3]), torch.cat(ps[3:])))
            q, k, v = (split(y) for y in F.linear(x, w, bias).chunk(3, dim=-1))
        # Fused kernel: the (T x T) attention map is never kept.
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, c))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.intermediate_dense = nn.Linear(dim, hidden)
        self.output_dense = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.output_dense(self.dropout(gelu(self.intermediate_dense(x)))))


class EncoderLayer(nn.Module):
    """Pre-norm block: ``h = h + Attn(LN(h)); h = h + FFN(final_LN(h))``."""

    def __init__(self, cfg: Wav2Vec2Config):
        super().__init__()
        self.attention = Attention(cfg.hidden_size, cfg.num_heads, cfg.dropout)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.feed_forward = FeedForward(cfg.hidden_size, cfg.ffn_size, cfg.dropout)
        self.final_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, h):
        h = h + self.dropout(self.attention(self.layer_norm(h)))
        return h + self.feed_forward(self.final_layer_norm(h))


class Encoder(nn.Module):
    def __init__(self, cfg: Wav2Vec2Config):
        super().__init__()
        self.pos_conv_embed = PositionalConvEmbedding(cfg)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_layers))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, h):
        h = self.dropout(h + self.pos_conv_embed(h))
        for layer in self.layers:
            h = layer(h)
        return self.layer_norm(h)


class Wav2Vec2Model(nn.Module):
    """wav2vec2 with an optional resampling of the CNN features to a given frame count.

    ``forward(wav, frames)`` returns the last hidden state (B, frames, hidden). EmoTalk resamples
    the ~50 Hz CNN features to the 30 fps motion rate before the transformer (content encoder).
    """

    def __init__(self, cfg: Wav2Vec2Config):
        super().__init__()
        self.config = cfg
        self.masked_spec_embed = nn.Parameter(torch.zeros(cfg.hidden_size))  # training-time masking only
        self.feature_extractor = FeatureEncoder(cfg)
        self.feature_projection = FeatureProjection(cfg)
        self.encoder = Encoder(cfg)
        if cfg.lm_head_vocab:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.lm_head_vocab)  # unused; kept for key parity

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """CNN features (B, T50, C)."""
        return self.feature_extractor(wav)

    def transform(self, feats: torch.Tensor) -> torch.Tensor:
        """Projection + transformer over (B, T, C) CNN features -> last hidden state."""
        # fp32 residual stream under bf16/fp16 autocast: its 48 sums lose too much in 8 bits of mantissa
        # (per-channel correlation 0.998 vs 0.9993 for the full-size model, bench/bench_precision.py).
        return self.encoder(self.feature_projection(feats).float())

    def forward(self, wav: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        feats = self.features(wav)
        if frames is not None:
            feats = interpolate_frames(feats, frames)
        return self.transform(feats)
