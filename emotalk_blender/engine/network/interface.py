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

from ..errors import SettingsError
from .config import EmoTalkConfig

BACKENDS = ("auto", "torch", "numpy")  # "auto": torch when importable, else numpy


def check_backend(name: str) -> str:
    """``name`` if it is one of BACKENDS, else a one-line SettingsError."""
    if name not in BACKENDS:
        raise SettingsError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name


@runtime_checkable
class Backend(Protocol):
    name: str  # "torch" or "numpy"
    device: str  # "cpu", "cuda", "cuda:1"
    config: EmoTalkConfig
    meta: dict  # the checkpoint's metadata (model card fields)

    def encode_emotion(self, wav: np.ndarray, frames: int) -> np.ndarray:
        """(N,) audio normalised by ``normalise_audio`` -> (frames, config.emotion_dim) emotion features."""

    def emotion_hidden(self, wav: np.ndarray) -> np.ndarray:
        """(N,) normalised audio -> (steps, hidden): the emotion transformer's output (~30 steps a second),
        shared by the emotion features and the voice's reading (``encodings.emotion``)."""

    def emotion_features(self, hidden: np.ndarray, frames: int) -> np.ndarray:
        """``emotion_hidden``'s output -> (frames, emotion_dim); ``encode_emotion`` is the two in one."""

    def encode_content(self, wav: np.ndarray, frames: int) -> np.ndarray:
        """(N,) audio normalised by ``normalise_audio`` -> (frames, config.content_dim) content features."""

    def decode(self, content: np.ndarray, emotion: np.ndarray, level: float,
               person: int | Sequence[float]) -> np.ndarray:
        """Fusion and decoder: content (T, content_dim) + emotion (T, emotion_dim) -> (T, NUM_BLENDSHAPES).

        ``level`` in 0..1; ``person`` a speaking-style index or NUM_PERSONS weights (checked by
        ``settings.validate_controls``, normalised to sum 1 here)."""

    def num_parameters(self) -> int:
        """Parameter count of the loaded network."""


def normalise_audio(wav: np.ndarray) -> np.ndarray:
    """Per-utterance ``(x - mean) / sqrt(var + 1e-7)`` with population variance (as upstream).

    Mean and variance are summed in float64 and rounded to float32, the rest is float32: the same
    steps as ``model.normalise_audio`` (torch), so both give the same bits on any NumPy version.
    """
    x = np.asarray(wav, dtype=np.float32)
    mean = np.float32(x.mean(dtype=np.float64))
    var = np.float32(x.var(dtype=np.float64))
    return (x - mean) / np.sqrt(var + np.float32(1e-7))
