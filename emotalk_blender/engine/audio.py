"""Audio in: any file libsndfile reads -> mono 16 kHz float32.

Errors name the file and the problem; silence is valid input.
"""
from __future__ import annotations

import os
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .constants import FPS, SAMPLE_RATE
from .errors import AudioError


def to_mono_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """(N,) or (N, channels) samples at ``rate`` -> (M,) float32 at 16 kHz (polyphase resampling)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = gcd(int(rate), SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def load_audio(path) -> np.ndarray:
    """Read ``path`` (WAV, FLAC, OGG, MP3, ... anything libsndfile reads) as mono 16 kHz float32."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError(f"{path}: no such audio file")
    if os.path.isdir(path):
        raise AudioError(f"{path}: is a folder, not an audio file")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's errors carry no stable type across versions
        raise AudioError(f"{path}: not a readable audio file ({exc})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the audio has zero length")
    if data.shape[0] / rate < 1.0 / FPS:
        raise AudioError(f"{path}: {data.shape[0] / rate * 1000:.1f} ms of audio is shorter than one frame (1/{FPS} s)")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: the audio holds NaN or infinite samples")
    return to_mono_16k(data, rate)
