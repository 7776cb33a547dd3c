"""The EmoTalk network in NumPy alone, for a stock Blender (no torch, no scipy).

The same computation as ``model.py`` + ``wav2vec2.py``, from the same configuration object and the
same weight names, in float32 with BLAS matrix products and no Python loop over frames:

* CNN, channels-last: each layer is one matrix product of strided windows (im2col) by the kernel
  reshaped to (k * C_in, C_out), then LayerNorm over channels and exact (erf) GELU;
* feature projection (LayerNorm, Linear); positional conv, weight-normalised ``g * v / ||v||`` (norm
  over dims 0, 1), grouped, padding K // 2, the extra frame of an even kernel dropped, GELU, added;
* pre-norm transformer blocks, final LayerNorm; ``interpolate`` = linear with ``align_corners=True``;
* decoder: one post-norm layer (ReLU) with the periodic causal self-attention bias, and the
  diagonal cross-attention, which is ``out_proj(V memory_t)``; then ``bs_map_r``.

``load(path)`` reads our safetensors files without torch; ``.pt`` files need torch to unpickle.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from . import safetensors_io
from ..arkit import NUM_BLENDSHAPES
from .config import EmoTalkConfig, Wav2Vec2Config
from ..constants import FPS, NUM_LEVELS, NUM_PERSONS
from ..errors import CheckpointError
from .layout import canonical_key, check_keys, expected_shapes, parse_own_metadata

F32 = np.float32
_CNN_BLOCK = 2048  # rows of a CNN layer computed at a time

# erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7; about 5e-7 evaluated in float32): the
# formula torch's own vectorised CPU erf uses, and well inside the float32 noise of the network.
_ERF_P = F32(0.3275911)
_ERF_A = tuple(F32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))


def _erfc_of_positive(z: np.ndarray) -> np.ndarray:
    """erfc(z) for z >= 0 as A&S 7.1.26 writes it, ``t * poly(t) * exp(-z^2)``; overwrites ``z``."""
    t = _ERF_P * z
    t += F32(1.0)
    np.reciprocal(t, out=t)
    r = _ERF_A[0] * t
    for c in _ERF_A[1:]:
        r += c
        r *= t
    np.multiply(z, z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    r *= z
    return r


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of a float32 array (absolute error below 6e-7)."""
    shape = np.shape(x)
    x = np.asarray(x, dtype=F32).reshape(-1)  # at least 1-D: the in-place steps need arrays
    r = _erfc_of_positive(np.abs(x))
    np.subtract(F32(1.0), r, out=r)
    return np.copysign(r, x, out=r).reshape(shape)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU ``x * (1 + erf(x / sqrt 2)) / 2``, in place (the CNN's activations are large).

    Written as ``max(x, 0) - |x| * erfc(|x| / sqrt 2) / 2``: the same function, fewer passes.
    """
    ax = np.abs(x)
    q = _erfc_of_positive(ax * F32(math.sqrt(0.5)))
    q *= F32(0.5)
    q *= ax
    np.maximum(x, F32(0.0), out=x)
    x -= q
    return x


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (population variance, as torch)."""
    mean = x.mean(axis=-1, keepdims=True)
    y = x - mean
    var = np.mean(np.square(y), axis=-1, keepdims=True)
    var += F32(eps)
    y /= np.sqrt(var)
    y *= w
    y += b
    return y


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x @ w.T + b`` (w as torch stores it, (out, in))."""
    y = x @ w.T
    if b is not None:
        y += b
    return y


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in place."""
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int, bias: np.ndarray | None = None) -> np.ndarray:
    """Scaled dot-product attention of (T, C) q, k, v split into ``heads``; ``bias`` (heads, T, T)."""
    t, c = q.shape
    split = lambda y: y.reshape(t, heads, c // heads).transpose(1, 0, 2)  # noqa: E731 - (H, T, D) views
    scores = split(q) @ split(k).transpose(0, 2, 1)
    scores *= F32(1.0 / math.sqrt(c // heads))
    if bias is not None:
        scores += bias
    return (softmax(scores) @ split(v)).transpose(1, 0, 2).reshape(t, c)


def interpolate_frames(x: np.ndarray, frames: int) -> np.ndarray:
    """Linear resampling of (T, C) features to ``frames`` steps with ``align_corners=True`` (as torch)."""
    t = x.shape[0]
    if t == frames:
        return x
    scale = F32(t - 1) / F32(frames - 1) if frames > 1 else F32(0.0)
    src = np.arange(frames, dtype=F32) * scale  # float32, as torch's kernel computes it
    i0 = np.minimum(src.astype(np.int64), t - 1)
    i1 = np.minimum(i0 + 1, t - 1)
    lam = (src - i0.astype(F32))[:, None]
    return (F32(1.0) - lam) * x[i0] + lam * x[i1]


def windows(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """(L, C) -> (n, k * C): the ``n = (L - k) // s + 1`` strided windows, one row each (im2col)."""
    n = (x.shape[0] - k) // s + 1
    if k == s:  # the windows tile the input: a free reshape
        return x[: n * s].reshape(n, k * x.shape[1])
    st = x.strides
    view = np.lib.stride_tricks.as_strided(x, (n, k, x.shape[1]), (st[0] * s, st[0], st[1]), writeable=False)
    # Overlapping rows are no BLAS matrix (numpy would multiply them in a slow loop): copy them out.
    return np.ascontiguousarray(view.reshape(n, k * x.shape[1]))


def periodic_bias(heads: int, t: int, period: int) -> np.ndarray:
    """``model.periodic_bias`` in NumPy: ``-m_h * floor((i - j) / p)`` for j <= i, -inf above."""
    start = 2.0 ** (-8.0 / heads)
    slopes = np.array([start ** (h + 1) for h in range(heads)], dtype=F32)
    i = np.arange(t)
    dist = i[:, None] - i[None, :]
    bias = -np.floor_divide(dist, period).astype(F32)
    bias[dist < 0] = -np.inf
    return slopes[:, None, None] * bias[None]


def level_vector(level) -> np.ndarray:
    """(2,) level control: [1 - level, level] for a level in [0, 1]."""
    lv = F32(level)
    if not 0 <= lv <= 1:
        raise ValueError(f"level must lie in [0, 1], got {level}")
    return np.array([F32(1.0) - lv, lv], dtype=F32)


def person_vector(person) -> np.ndarray:
    """(24,) style control: one-hot of an index 0..23, or 24 non-negative weights normalised to sum 1."""
    if isinstance(person, (int, np.integer)):
        p = int(person)
        if not 0 <= p < NUM_PERSONS:
            raise ValueError(f"person must be 0..{NUM_PERSONS - 1}, got {p}")
        return np.eye(NUM_PERSONS, dtype=F32)[p]
    w = np.asarray(person, dtype=F32)
    if w.shape != (NUM_PERSONS,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"person mix must be {NUM_PERSONS} non-negative weights with a positive sum")
    return w / w.sum()


class Wav2Vec2:
    """One wav2vec2 encoder ("stable layer norm") over the weights under ``prefix``."""

    def __init__(self, w: dict[str, np.ndarray], prefix: str, cfg: Wav2Vec2Config):
        self.cfg = cfg
        g = lambda name: w[prefix + name]  # noqa: E731
        self.g = g
        self.conv = []  # per layer: (kernel as (k * C_in, C_out), bias, LN weight, LN bias, k, s)
        for i, (k, s) in enumerate(zip(cfg.conv_kernel, cfg.conv_stride)):
            p = f"feature_extractor.conv_layers.{i}."
            kern = g(p + "conv.weight")  # (C_out, C_in, k) -> rows ordered (tap, C_in) as windows() lays them
            mat = np.ascontiguousarray(kern.transpose(2, 1, 0).reshape(-1, kern.shape[0]))
            self.conv.append((mat, g(p + "conv.bias"), g(p + "layer_norm.weight"), g(p + "layer_norm.bias"), k, s))
        v = g("encoder.pos_conv_embed.conv.weight_v").astype(np.float64)  # (C, C / groups, K)
        norm = np.sqrt(np.square(v).sum(axis=(0, 1), keepdims=True))
        kern = (g("encoder.pos_conv_embed.conv.weight_g") * v / norm).astype(F32)
        cg = kern.shape[1]  # channels per group; per group a (K * cg, cg) matrix, rows ordered (tap, C_in)
        self.pos = [np.ascontiguousarray(kern[j * cg:(j + 1) * cg].transpose(2, 1, 0).reshape(-1, cg))
                    for j in range(cfg.pos_conv_groups)]
        self.qkv = []  # q, k and v as one matrix product per layer
        for i in range(cfg.num_layers):
            p = f"encoder.layers.{i}.attention."
            self.qkv.append((np.concatenate([g(p + f"{n}_proj.weight") for n in "qkv"]),
                             np.concatenate([g(p + f"{n}_proj.bias") for n in "qkv"])))

    def features(self, wav: np.ndarray) -> np.ndarray:
        """The CNN: (N,) 16 kHz audio -> (T50, C) features at about 50 Hz."""
        x = np.asarray(wav, dtype=F32)[:, None]
        for mat, b, lw, lb, k, s in self.conv:
            n = (x.shape[0] - k) // s + 1
            y = np.empty((n, mat.shape[1]), dtype=F32)
            # In blocks of rows: the ten or so passes of LayerNorm and GELU then run in the cache
            # (measured 2x faster on the first layers' arrays of several MB), and the windows'
            # copy stays small.
            for r in range(0, n, _CNN_BLOCK):
                m = min(_CNN_BLOCK, n - r)
                z = windows(x[r * s: (r + m - 1) * s + k], k, s) @ mat
                z += b
                y[r: r + m] = gelu(layer_norm(z, lw, lb, self.cfg.layer_norm_eps))
            x = y
        return x

    def pos_conv(self, h: np.ndarray) -> np.ndarray:
        """Grouped positional convolution (padding K // 2; an even kernel's last frame dropped), GELU."""
        t, c = h.shape
        k = self.cfg.pos_conv_kernel
        pad = np.zeros((t + 2 * (k // 2), c), dtype=F32)
        pad[k // 2: k // 2 + t] = h
        cg = c // self.cfg.pos_conv_groups
        y = np.empty((t, c), dtype=F32)
        for j, mat in enumerate(self.pos):
            y[:, j * cg:(j + 1) * cg] = windows(pad[: t + k - 1, j * cg:(j + 1) * cg], k, 1) @ mat
        y += self.g("encoder.pos_conv_embed.conv.bias")
        return gelu(y)

    def _ln(self, x: np.ndarray, name: str) -> np.ndarray:
        return layer_norm(x, self.g(name + ".weight"), self.g(name + ".bias"), self.cfg.layer_norm_eps)

    def _lin(self, x: np.ndarray, name: str) -> np.ndarray:
        return linear(x, self.g(name + ".weight"), self.g(name + ".bias"))

    def transform(self, feats: np.ndarray) -> np.ndarray:
        """Feature projection + transformer over (T, C) CNN features -> last hidden state (T, hidden)."""
        h = self._lin(self._ln(feats, "feature_projection.layer_norm"), "feature_projection.projection")
        h += self.pos_conv(h)
        for i, (wqkv, bqkv) in enumerate(self.qkv):  # pre-norm blocks
            p = f"encoder.layers.{i}."
            q, k, v = np.split(linear(self._ln(h, p + "layer_norm"), wqkv, bqkv), 3, axis=1)
            h += self._lin(attention(q, k, v, self.cfg.num_heads), p + "attention.out_proj")
            x = gelu(self._lin(self._ln(h, p + "final_layer_norm"), p + "feed_forward.intermediate_dense"))
            h += self._lin(x, p + "feed_forward.output_dense")
        return self._ln(h, "encoder.layer_norm")


class NumpyBackend:
    """The inference backend of ``interface.Backend`` in NumPy: CPU, float32."""

    name = "numpy"
    device = "cpu"

    def __init__(self, weights: dict[str, np.ndarray], config: EmoTalkConfig, meta: dict | None = None,
                 source: str = "weights"):
        self.config = config
        self.meta = dict(meta or {})
        self.source = source
        check_keys(source, expected_shapes(config), weights)  # strict, as the torch loader
        # float32 views of the file's mapping where possible (no second copy of the weights)
        self.weights = {k: np.ascontiguousarray(v, dtype=F32).view(np.ndarray) for k, v in weights.items()}
        self.content = Wav2Vec2(self.weights, "audio_encoder_cont.", config.content)
        self.emotion = Wav2Vec2(self.weights, "audio_encoder_emo.wav2vec2.", config.emotion)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return linear(x, self.weights[name + ".weight"], self.weights[name + ".bias"])

    def emotion_hidden(self, wav: np.ndarray) -> np.ndarray:
        """(N,) normalised audio -> (steps, hidden): the emotion transformer's output at ~30 steps a second."""
        feats = self.emotion.features(wav)
        return self.emotion.transform(interpolate_frames(feats, max(1, int(feats.shape[0] / 50 * FPS))))

    def emotion_features(self, hidden: np.ndarray, frames: int) -> np.ndarray:
        """``emotion_hidden``'s output -> (frames, emotion_dim)."""
        return self._linear(interpolate_frames(hidden, frames), "audio_feature_map_emo")

    def encode_emotion(self, wav: np.ndarray, frames: int) -> np.ndarray:
        """(N,) normalised audio -> (frames, emotion_dim): the transformer at ~30 fps, resampled to ``frames``."""
        return self.emotion_features(self.emotion_hidden(wav), frames)

    def encode_content(self, wav: np.ndarray, frames: int) -> np.ndarray:
        """(N,) normalised audio -> (frames, content_dim): CNN features resampled before the transformer."""
        feats = interpolate_frames(self.content.features(wav), frames)
        return self._linear(self.content.transform(feats), "audio_feature_map_cont")

    def decode(self, content: np.ndarray, emotion: np.ndarray, level: float,
               person: int | Sequence[float]) -> np.ndarray:
        """Fusion and the decoder layer: (T, content_dim) + (T, emotion_dim) -> (T, 52)."""
        cfg, w = self.config, self.weights
        t, d = content.shape[0], cfg.emotion_dim
        e256 = np.maximum(self._linear(emotion, "audio_feature_map_emo2"), F32(0.0))
        lvl = self._linear(level_vector(level), "obj_vector_level")
        per = self._linear(person_vector(person), "obj_vector_person")
        x = np.concatenate([content, e256, np.broadcast_to(lvl, (t, lvl.size)), np.broadcast_to(per, (t, per.size))], 1)
        p = "transformer_decoder.layers.0."
        ln = lambda y, name: layer_norm(y, w[p + name + ".weight"], w[p + name + ".bias"], 1e-5)  # noqa: E731
        # post-norm: self-attention with the periodic causal bias
        q, k, v = np.split(linear(x, w[p + "self_attn.in_proj_weight"], w[p + "self_attn.in_proj_bias"]), 3, axis=1)
        bias = periodic_bias(cfg.decoder_heads, t, cfg.period)
        x = ln(x + self._linear(attention(q, k, v, cfg.decoder_heads, bias), p + "self_attn.out_proj"), "norm1")
        # cross-attention whose mask lets frame t see memory frame t alone: out_proj(V memory_t)
        wv, bv = w[p + "multihead_attn.in_proj_weight"][2 * d:], w[p + "multihead_attn.in_proj_bias"][2 * d:]
        mem = linear(emotion, wv, bv)
        x = ln(x + self._linear(mem, p + "multihead_attn.out_proj"), "norm2")
        ff = self._linear(np.maximum(self._linear(x, p + "linear1"), F32(0.0)), p + "linear2")
        return self._linear(ln(x + ff, "norm3"), "bs_map_r")

    def num_parameters(self) -> int:
        return int(sum(v.size for v in self.weights.values()))


def _torch_tensors(path: Path) -> tuple[dict[str, np.ndarray], EmoTalkConfig, dict]:
    """A ``.pt``/``.pth`` file through the torch loader (safe unpickling needs torch), as NumPy arrays."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CheckpointError(f"{path}: the .pt format needs PyTorch (install it from the add-on's Preferences); "
                              f"the default .safetensors model works without it") from None
    from .checkpoint import read_tensors

    sd, extra = read_tensors(path)
    try:
        cfg = EmoTalkConfig.from_dict(extra["config"]) if extra else EmoTalkConfig()
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad model configuration ({exc})") from None
    return {k: v.float().numpy() for k, v in sd.items()}, cfg, dict(extra.get("meta", {}))


def load(path) -> NumpyBackend:
    """A NumpyBackend from one of our safetensors files (no torch), a plain safetensors file in the
    released layout, or (with torch installed) a ``.pt``/``.pth`` checkpoint; strict about every key."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        tensors, metadata = safetensors_io.read(path)
        own = parse_own_metadata(path, metadata)
        cfg, meta = own if own is not None else (EmoTalkConfig(), {})
        weights = {canonical_key(k): v for k, v in tensors.items()}
    else:
        weights, cfg, meta = _torch_tensors(path)
    return NumpyBackend(weights, cfg, meta, source=str(path))


assert NUM_LEVELS == 2 and NUM_BLENDSHAPES == 52
