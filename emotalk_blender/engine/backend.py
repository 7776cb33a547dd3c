"""The one seam between inference and a network implementation (no torch, no bpy here).

``inference.predict`` cuts audio into windows, normalises each, and calls a backend three times a
window: encode the emotion, encode the content, decode. Everything around those calls (windowing,
cross-fade, progress, cancel, directing the emotion features, post-processing) is NumPy and is
shared by every backend. Backends: ``torch_backend.TorchBackend`` (training, CUDA, the released
checkpoint) and ``numpy_backend.NumpyBackend`` (a stock Blender: numpy only).

Arrays crossing the seam are float32 NumPy arrays without a batch axis.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .config import EmoTalkConfig

BACKENDS = ("auto", "torch", "numpy")  # "auto": torch when importable, else numpy


@runtime_checkable
class Backend(Protocol):
    name: str  # "torch" or "numpy"
    device: str  # "cpu", "cuda", "cuda:1"
    config: EmoTalkConfig
    meta: dict  # the checkpoint's metadata (model card fields)

    def encode_emotion(self, wav: np.ndarray, frames: int) -> np.ndarray:
        """(N,) normalised 16 kHz audio -> (frames, config.emotion_dim) emotion features (e832)."""

    def encode_content(self, wav: np.ndarray, frames: int) -> np.ndarray:
        """(N,) normalised 16 kHz audio -> (frames, config.content_dim) content features (c512)."""

    def decode(self, content: np.ndarray, emotion: np.ndarray, level: float, person: int | Sequence[float]) -> np.ndarray:
        """Fusion and decoder: content (T, content_dim) + emotion (T, emotion_dim) -> (T, 52)."""

    def num_parameters(self) -> int:
        """Parameter count of the loaded network."""


def normalise_audio(wav: np.ndarray) -> np.ndarray:
    """Per-utterance ``(x - mean) / sqrt(var + 1e-7)`` with population variance (as upstream)."""
    x = np.asarray(wav, dtype=np.float32)
    mean = x.mean(dtype=np.float64)
    var = x.var(dtype=np.float64)
    return ((x - mean) / np.sqrt(var + 1e-7)).astype(np.float32)
