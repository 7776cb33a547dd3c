"""Network configurations (no torch): the released EmoTalk layout and smaller variants.

Both inference backends (torch, ``model.py``; NumPy, ``numpy_backend.py``) and the checkpoint
readers build the network from these objects, so they live where neither torch nor bpy is needed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class Wav2Vec2Config:
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    hidden_size: int = 1024
    num_layers: int = 24
    num_heads: int = 16
    ffn_size: int = 4096
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    dropout: float = 0.1  # hidden, attention and projection dropout (training only)
    layer_norm_eps: float = 1e-5
    lm_head_vocab: int | None = 32  # the released file carries an unused CTC head; None: omit it



def _known(d: dict) -> dict:
    """An encoder config dict without ``extra``, an always-empty field of the first saved files."""
    return {k: v for k, v in d.items() if k != "extra" or v}


@dataclass
class EmoTalkConfig:
    content: Wav2Vec2Config = field(default_factory=Wav2Vec2Config)
    emotion: Wav2Vec2Config = field(default_factory=Wav2Vec2Config)
    content_dim: int = 512  # content features
    emotion_dim: int = 832  # emotion features: also the decoder width (memory and query share it)
    emotion2_dim: int = 256  # emotion_low: the emotion features' share of the decoder query
    level_dim: int = 32
    person_dim: int = 32
    decoder_heads: int = 4
    decoder_ffn: int = 832
    decoder_dropout: float = 0.1
    period: int = 30  # of the periodic self-attention bias (frames)
    name: str = "EmoTalk (released architecture)"

    def __post_init__(self):
        if isinstance(self.content, dict):
            self.content = Wav2Vec2Config(**_known(self.content))
        if isinstance(self.emotion, dict):
            self.emotion = Wav2Vec2Config(**_known(self.emotion))
        for enc in (self.content, self.emotion):
            for k in ("conv_dim", "conv_kernel", "conv_stride"):
                setattr(enc, k, tuple(getattr(enc, k)))
        width = self.content_dim + self.emotion2_dim + self.level_dim + self.person_dim
        if width != self.emotion_dim:
            raise ValueError(f"decoder width {width} (content+emotion2+level+person) must equal "
                             f"emotion_dim {self.emotion_dim}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EmoTalkConfig":
        return cls(**d)


def small_config(hidden: int = 128, layers: int = 2, conv: int = 64, name: str = "EmoTalk small") -> EmoTalkConfig:
    """A reduced-width EmoTalk with the released topology (same CNN strides, 50 Hz, same fusion)."""
    enc = dict(conv_dim=(conv,) * 7, hidden_size=hidden, num_layers=layers, num_heads=4, ffn_size=hidden * 2,
               pos_conv_kernel=32, pos_conv_groups=4, lm_head_vocab=None)
    width = hidden  # decoder width = content + emotion2 + level + person
    return EmoTalkConfig(
        content=Wav2Vec2Config(**enc), emotion=Wav2Vec2Config(**enc), content_dim=width // 2,
        emotion_dim=width, emotion2_dim=width // 4, level_dim=width // 8, person_dim=width // 8,
        decoder_heads=4, decoder_ffn=width, name=name,
    )
