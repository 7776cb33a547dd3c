"""The encoders' outputs kept for re-takes: a bounded, least-recently-used memory (numpy only).

The two wav2vec2-style encoders are almost all of a take's cost, and only fusion, the decoder and
post-processing depend on the direction, level, speaking style, smoothing, blinks, gaze or start
frame. So, per (model, window of audio), the emotion and content features are kept in memory for
the session: a Regenerate or an API call that changes only those re-runs fusion and the decoder.

What is kept: the features of the backends that ``loading.load_backend`` hands out (one model at a
time; loading another clears this), keyed by a digest of the exact samples the encoder saw and the
frame count. A backend made by hand (training wraps a module whose weights change between calls)
is never cached. Bounded by ``MAX_BYTES`` of kept arrays (256 MiB: about 28 minutes of audio with
the full-size model's 512 + 832 features a frame); the least recently used go first.
"""
from __future__ import annotations

import hashlib
import itertools
import threading
from collections import OrderedDict
from typing import Callable

import numpy as np

MAX_BYTES = 256 * 2**20

_TOKEN = "_encodings_token"  # attribute marking a backend whose outputs may be kept
_tokens = itertools.count(1)
_lock = threading.Lock()
_kept: OrderedDict = OrderedDict()
_bytes = 0
stats = {"hits": 0, "misses": 0}


def keep_for(backend) -> None:
    """Mark ``backend`` (a loaded, frozen model) as one whose encoder outputs may be kept."""
    if getattr(backend, _TOKEN, None) is None:
        setattr(backend, _TOKEN, next(_tokens))


def clear() -> None:
    """Forget everything kept (a new model is loaded, or a caller wants the memory back)."""
    global _bytes
    with _lock:
        _kept.clear()
        _bytes = 0


def kept_bytes() -> int:
    return _bytes


def encode(backend, which: str, wav: np.ndarray, frames: int, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()`` (the ``which`` encoder on normalised ``wav``), or a copy of what it gave before.

    A copy, so a caller that changes the array cannot change what is kept.
    """
    global _bytes
    token = getattr(backend, _TOKEN, None)
    if token is None or MAX_BYTES <= 0:
        return compute()
    digest = hashlib.blake2b(np.ascontiguousarray(wav, np.float32).tobytes(), digest_size=16).digest()
    key = (token, which, digest, int(frames))
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            stats["hits"] += 1
            return found.copy()
    out = np.asarray(compute(), dtype=np.float32)
    with _lock:
        stats["misses"] += 1
        if key not in _kept and out.nbytes <= MAX_BYTES:
            _kept[key] = out.copy()
            _bytes += out.nbytes
            while _bytes > MAX_BYTES:
                _, old = _kept.popitem(last=False)
                _bytes -= old.nbytes
    return out


def emotion_hidden(backend, wav: np.ndarray) -> np.ndarray:
    """The emotion transformer's output for normalised ``wav``, kept: a take's emotion features and
    the voice's reading (direction/emotion_reading.py) are both made from it, so a take runs the
    emotion encoder once."""
    return encode(backend, "emotion_hidden", wav, 0, lambda: backend.emotion_hidden(wav))


def emotion(backend, wav: np.ndarray, frames: int) -> np.ndarray:
    """(frames, emotion_dim) emotion features of normalised ``wav``, made from the kept hidden states."""
    return np.asarray(backend.emotion_features(emotion_hidden(backend, wav), frames), np.float32)
