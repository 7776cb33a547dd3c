"""The EmoTalk network (ICCV 2023), readable in one sitting.

audio --+-- content wav2vec2 (CNN features resampled to T frames) --> Linear = content ------------+
        |                                                                                         |
        +-- emotion wav2vec2 (resampled to 30 fps, then to T) --> Linear = emotion ----------+    |
                                              ReLU(Linear) = emotion_low <-------------------+    |
level (2) -> Linear = lvl, person (24 styles) -> Linear = per                              |    |
x = [content, emotion_low, lvl, per] -> TransformerDecoder(query x, memory emotion) -> Linear -> 52

Widths come from the config; the released ones are content 512, emotion 832 (the decoder width),
emotion_low 256, level and person 32 each (512 + 256 + 32 + 32 = 832).

Names of modules and parameters follow the released checkpoint (EmoTalk.pth) exactly. The
configuration object lets smaller variants (the project's shipped default model) run through the
same code. See ../shared/spec/emotalk.md for the facts this follows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..arkit import NUM_BLENDSHAPES
from .config import EmoTalkConfig, Wav2Vec2Config, small_config
from ..constants import EMOTIONS, FPS, NUM_LEVELS, NUM_PERSONS, frames_for_samples
from .wav2vec2 import Wav2Vec2Model, interpolate_frames


def periodic_bias(heads: int, t: int, period: int, device=None) -> torch.Tensor:
    """Causal self-attention bias (heads, T, T): ``-m_h * floor((i - j) / p)`` for j <= i, -inf above.

    Head slopes are the ALiBi geometric series starting at 2^(-8/heads): 1/4, 1/16, 1/64, 1/256 for 4.
    """
    start = 2.0 ** (-8.0 / heads)
    slopes = torch.tensor([start ** (h + 1) for h in range(heads)], device=device)
    i = torch.arange(t, device=device)
    dist = i[:, None] - i[None, :]
    bias = -torch.div(dist, period, rounding_mode="floor").float()
    bias = bias.masked_fill(dist < 0, float("-inf"))
    return slopes[:, None, None] * bias[None]


class DecoderLayer(nn.Module):
    """``nn.TransformerDecoderLayer`` (post-norm, ReLU) with the released parameter names.

    Written out so that (1) self-attention runs through the fused kernel with the periodic bias and
    (2) cross-attention, whose memory mask lets frame t see only memory frame t, is computed as what
    it is: softmax over one element is 1, so the output is ``out_proj(V memory_t)``; no T x T map.
    """

    def __init__(self, d: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d, ffn)
        self.linear2 = nn.Linear(ffn, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)
        self.heads = heads
        self.dropout = nn.Dropout(dropout)

    def _self_attention(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        a = self.self_attn
        q, k, v = F.linear(x, a.in_proj_weight, a.in_proj_bias).chunk(3, dim=-1)
        def split(y):
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        drop = a.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=bias.to(x.dtype), dropout_p=drop)
        return a.out_proj(y.transpose(1, 2).reshape(b, t, d))

    def _diagonal_cross_attention(self, memory: torch.Tensor) -> torch.Tensor:
        a = self.multihead_attn
        d = memory.shape[-1]
        v = F.linear(memory, a.in_proj_weight[2 * d:], a.in_proj_bias[2 * d:])
        if self.training and a.dropout > 0:  # dropout of the single attention weight, per head
            keep = torch.rand(*v.shape[:-1], self.heads, 1, device=v.device) >= a.dropout
            v = (v.view(*v.shape[:-1], self.heads, -1) * keep / (1 - a.dropout)).flatten(-2)
        return a.out_proj(v)

    def forward(self, x, memory, bias):
        x = self.norm1(x + self.dropout(self._self_attention(x, bias)))
        x = self.norm2(x + self.dropout(self._diagonal_cross_attention(memory)))
        return self.norm3(x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x))))))


class TransformerDecoder(nn.Module):
    def __init__(self, layer: DecoderLayer):
        super().__init__()
        self.layers = nn.ModuleList([layer])  # num_layers=1, no final norm (as released)

    def forward(self, x, memory, bias):
        for layer in self.layers:
            x = layer(x, memory, bias)
        return x


class EmotionClassifier(nn.Module):
    """Mean over time -> dropout -> Linear -> tanh -> dropout -> Linear(7) (training only)."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, len(EMOTIONS))
        self.dropout = nn.Dropout(dropout)

    def forward(self, h):
        x = self.dropout(h.mean(dim=1))
        return self.out_proj(self.dropout(torch.tanh(self.dense(x))))


class EmotionEncoder(nn.Module):
    """``audio_encoder_emo``: a wav2vec2 (``.wav2vec2``) with its 7-class head (``.classifier``)."""

    def __init__(self, cfg: Wav2Vec2Config):
        super().__init__()
        self.wav2vec2 = Wav2Vec2Model(cfg)
        self.classifier = EmotionClassifier(cfg.hidden_size, cfg.dropout)


def normalise_audio(wav: torch.Tensor) -> torch.Tensor:
    """Per-utterance ``(x - mean) / sqrt(var + 1e-7)`` with population variance (as upstream).

    Statistics summed in float64, then float32: the same bits as ``interface.normalise_audio`` (NumPy).
    """
    x = wav.double()
    mean = x.mean(dim=-1, keepdim=True).to(wav.dtype)
    var = x.var(dim=-1, keepdim=True, unbiased=False).to(wav.dtype)
    return (wav - mean) / torch.sqrt(var + 1e-7)


def level_vector(level, batch: int, device=None) -> torch.Tensor:
    """Level control (B, 2): 0 = low, 1 = high, fractional in between (the one-hot feeds a Linear)."""
    lv = torch.as_tensor(level, dtype=torch.float32, device=device).reshape(-1)
    if lv.numel() == 1:
        lv = lv.expand(batch)
    if not bool(((lv >= 0) & (lv <= 1)).all()):
        raise ValueError(f"level must lie in [0, 1], got {level}")
    return torch.stack([1 - lv, lv], dim=-1)


def person_vector(person, batch: int, device=None) -> torch.Tensor:
    """Speaking-style control (B, NUM_PERSONS): an index (one-hot) or NUM_PERSONS non-negative weights (normalised)."""
    if isinstance(person, (int,)) or (torch.is_tensor(person) and person.dim() == 0):
        p = int(person)
        if not 0 <= p < NUM_PERSONS:
            raise ValueError(f"person must be 0..{NUM_PERSONS - 1}, got {p}")
        vec = F.one_hot(torch.tensor(p), NUM_PERSONS).float().to(device)
        return vec.expand(batch, NUM_PERSONS)
    w = torch.as_tensor(person, dtype=torch.float32, device=device)
    if w.shape[-1] != NUM_PERSONS or bool((w < 0).any()) or bool((w.sum(-1) <= 0).any()):
        raise ValueError(f"person mix must be {NUM_PERSONS} non-negative weights with a positive sum")
    w = w / w.sum(-1, keepdim=True)
    return w.expand(batch, NUM_PERSONS) if w.dim() == 1 else w


class EmoTalk(nn.Module):
    def __init__(self, cfg: EmoTalkConfig | None = None):
        super().__init__()
        cfg = cfg or EmoTalkConfig()
        self.config = cfg
        self.audio_encoder_cont = Wav2Vec2Model(cfg.content)
        self.audio_encoder_emo = EmotionEncoder(cfg.emotion)
        self.audio_feature_map_cont = nn.Linear(cfg.content.hidden_size, cfg.content_dim)
        self.audio_feature_map_emo = nn.Linear(cfg.emotion.hidden_size, cfg.emotion_dim)
        self.audio_feature_map_emo2 = nn.Linear(cfg.emotion_dim, cfg.emotion2_dim)
        self.obj_vector_level = nn.Linear(NUM_LEVELS, cfg.level_dim)
        self.obj_vector_person = nn.Linear(NUM_PERSONS, cfg.person_dim)
        self.transformer_decoder = TransformerDecoder(
            DecoderLayer(cfg.emotion_dim, cfg.decoder_heads, cfg.decoder_ffn, cfg.decoder_dropout)
        )
        self.bs_map_r = nn.Linear(cfg.emotion_dim, NUM_BLENDSHAPES)
        nn.init.zeros_(self.bs_map_r.weight)  # as upstream: all-zero output means nothing loaded
        nn.init.zeros_(self.bs_map_r.bias)

    # --- the pieces, so training can mix content and emotion from different clips ---------------
    def content_from_features(self, feats: torch.Tensor, frames: int) -> torch.Tensor:
        """Content CNN features (B, T50, C) -> (B, frames, content_dim): resampled before the transformer."""
        return self.audio_feature_map_cont(self.audio_encoder_cont.transform(interpolate_frames(feats, frames)))

    def emotion_from_features(self, feats: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Emotion CNN features -> (emotion features at ``frames`` steps, emotion logits (B, 7)).

        The transformer runs at ``int(T50 / 50 * 30)`` frames (about 30 fps); its output is resampled
        again to exactly ``frames``.
        """
        h = self.emotion_transform(feats)
        logits = self.audio_encoder_emo.classifier(h)
        return self.emotion_features(h, frames), logits

    def emotion_hidden(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, N) normalised audio -> (B, steps, hidden): the emotion transformer's output (~30 steps/s),
        what both the emotion features and the voice's reading are made from."""
        return self.emotion_transform(self.audio_encoder_emo.wav2vec2.features(wav))

    def emotion_transform(self, feats: torch.Tensor) -> torch.Tensor:
        """Emotion CNN features (50 Hz) -> the transformer's output at ``int(T50 / 50 * 30)`` steps."""
        enc = self.audio_encoder_emo.wav2vec2
        return enc.transform(interpolate_frames(feats, max(1, int(feats.shape[1] / 50 * FPS))))

    def emotion_features(self, hidden: torch.Tensor, frames: int) -> torch.Tensor:
        """``emotion_hidden``'s output -> (B, frames, emotion_dim)."""
        return self.audio_feature_map_emo(interpolate_frames(hidden, frames))

    def encode_content(self, wav: torch.Tensor, frames: int) -> torch.Tensor:
        """(B, N) normalised audio -> (B, frames, content_dim)."""
        return self.content_from_features(self.audio_encoder_cont.features(wav), frames)

    def encode_emotion(self, wav: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) normalised audio -> ((B, frames, emotion_dim) features, emotion logits (B, 7))."""
        return self.emotion_from_features(self.audio_encoder_emo.wav2vec2.features(wav), frames)

    def decode(self, content, emotion, level, person) -> torch.Tensor:
        """Fusion and decoder: (B, T, content_dim) + (B, T, emotion_dim) -> (B, T, 52).

        The decoder's query is [content, emotion_low, level, person] (as wide as ``emotion``); its
        memory is ``emotion`` itself.
        """
        b, t, _ = content.shape
        dev = content.device
        emotion_low = F.relu(self.audio_feature_map_emo2(emotion))
        lvl = self.obj_vector_level(level_vector(level, b, dev)).unsqueeze(1).expand(b, t, -1)
        per = self.obj_vector_person(person_vector(person, b, dev)).unsqueeze(1).expand(b, t, -1)
        x = torch.cat([content, emotion_low, lvl.to(content.dtype), per.to(content.dtype)], dim=2)
        bias = periodic_bias(self.config.decoder_heads, t, self.config.period, dev)
        return self.bs_map_r(self.transformer_decoder(x, emotion, bias))

    def forward(self, wav: torch.Tensor, level=1.0, person=0, frames: int | None = None) -> torch.Tensor:
        """(B, N) raw 16 kHz audio -> (B, T, 52) blendshape weights, ``T = ceil(N / 16000 * 30)``."""
        frames = frames or frames_for_samples(wav.shape[-1])
        wav = normalise_audio(wav)
        emotion, _ = self.encode_emotion(wav, frames)
        return self.decode(self.encode_content(wav, frames), emotion, level, person)

    # --- training interface of the released code ---------------------------------------------
    def forward_train(self, input12, input21, frames11: int, frames12: int, level, person, emotion12=None):
        """Cross- and self-reconstruction (paper, section 3.3).

        ``input12`` = A(c1, e2), ``input21`` = A(c2, e1), both (B, N) raw audio. ``emotion12``, if
        given, is what the emotion encoder hears in place of ``input12`` (training may give it another
        voice; its features are resampled to the frame count like the content's). Returns
        (B(c1, e1) reconstructed from content of input12 and emotion of input21 at ``frames11``,
        B(c1, e2) reconstructed from input12 alone at ``frames12``, emotion logits of (input12, input21)).
        """
        input12, input21 = normalise_audio(input12), normalise_audio(input21)
        emotion12 = input12 if emotion12 is None else normalise_audio(emotion12)
        emo = self.audio_encoder_emo.wav2vec2
        return self.forward_train_features(
            self.audio_encoder_cont.features(input12), emo.features(emotion12), emo.features(input21),
            frames11, frames12, level, person)

    def forward_train_features(self, cont12, emo12, emo21, frames11: int, frames12: int, level, person):
        """``forward_train`` from CNN features (content and emotion CNNs of input12, emotion CNN of input21).

        With the CNNs frozen (as in the paper) features can be computed once per clip and reused.
        """
        e21, logits21 = self.emotion_from_features(emo21, frames11)
        e12, logits12 = self.emotion_from_features(emo12, frames12)
        c11 = self.content_from_features(cont12, frames11)
        c12 = c11 if frames11 == frames12 else self.content_from_features(cont12, frames12)
        cross = self.decode(c11, e21, level, person)
        self_rec = self.decode(c12, e12, level, person)
        return cross, self_rec, (logits12, logits21)

    def freeze_feature_encoders(self):
        """The paper freezes both CNN feature encoders (they come pretrained upstream)."""
        for enc in (self.audio_encoder_cont, self.audio_encoder_emo.wav2vec2):
            for p in enc.feature_extractor.parameters():
                p.requires_grad_(False)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def receptive_samples(cfg: Wav2Vec2Config) -> int:
    """Samples one CNN frame sees (400 for the released CNN)."""
    field_ = 1
    for k, s in zip(reversed(cfg.conv_kernel), reversed(cfg.conv_stride)):
        field_ = (field_ - 1) * s + k
    return field_


__all__ = [  # small_config and the configs are re-exported from config.py
    "EmoTalk", "EmoTalkConfig", "Wav2Vec2Config", "small_config", "DecoderLayer", "TransformerDecoder",
    "EmotionClassifier", "EmotionEncoder", "normalise_audio", "level_vector", "person_vector", "periodic_bias",
    "receptive_samples",
]
