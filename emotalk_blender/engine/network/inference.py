"""Inference over audio of any length: chunks with overlap, cross-faded, memory bounded (NumPy only).

The network attends over the whole clip (both wav2vec2 encoders and the decoder), so memory grows
with the square of the length in one pass. Long audio is cut into windows of ``CHUNK_SECONDS`` that
overlap by ``OVERLAP_SECONDS``; in each overlap the earlier window's output fades linearly into the
later one's. Window starts fall on multiples of 0.1 s (1,600 samples = exactly 3 frames), so every
window's frames land on whole global frames. A clip no longer than one window runs in one pass and
gives exactly the unchunked result.

Why 20 s and 2 s: the released model was trained on utterances of a few seconds, and 20 s keeps
each pass well inside what it has seen while costing only 11 % extra compute for the overlap; 2 s
(60 frames) is long enough that a cross-fade hides the change of context. Peak memory of one 20 s
pass with the full-size model is a few hundred MB over the weights.

The network itself is a ``interface.Backend`` (torch or NumPy), called three times a window.
"""
from __future__ import annotations

import sys
import threading
from typing import Callable

import numpy as np

from . import encodings
from ..arkit import NUM_BLENDSHAPES
from .interface import Backend, normalise_audio
from ..constants import FPS, SAMPLE_RATE, frames_for_samples
from ..errors import Cancelled

CHUNK_SECONDS = 20.0
OVERLAP_SECONDS = 2.0
_ALIGN = SAMPLE_RATE // 10  # 1,600 samples = 3 frames: windows start on whole frames

Progress = Callable[[float, str], None]
Direct = Callable[[np.ndarray, int, int], np.ndarray]  # (emotion features, f0, f1) -> directed features


def windows(n_samples: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """Sample ranges [start, end) covering ``n_samples``; one window when the clip fits in one."""
    if n_samples < chunk + _ALIGN:  # fits (a window may run up to 0.1 s long rather than split)
        return [(0, n_samples)]
    # The fewest windows whose overlaps are at least ``overlap``, spread evenly (hop rounded up to
    # whole 0.1 s steps); the last window ends at the clip's end.
    count = -(-(n_samples - overlap) // (chunk - overlap))
    hop = -(-(n_samples - chunk) // ((count - 1) * _ALIGN)) * _ALIGN
    starts = [min(i * hop, (n_samples - chunk) // _ALIGN * _ALIGN) for i in range(count)]
    return [(s, s + chunk) for s in starts[:-1]] + [(starts[-1], n_samples)]


def run_window(backend: Backend, wav: np.ndarray, level, person, tick: Progress,
               direct: Direct | None = None, f0: int = 0) -> np.ndarray:
    """The network on one window of raw audio, stage by stage (``model(wav)``), ticking between stages.

    ``direct(emotion, f0, f1)``, if given, replaces the window's emotion features (frames [f0, f1) of
    the take) before decode: how a take's emotion is directed (``direction.emotion.direct``).
    """
    frames = frames_for_samples(wav.shape[0])
    tick(0.0, "emotion encoder")
    wav = normalise_audio(wav)
    emotion = encodings.emotion(backend, wav, frames)
    if direct is not None:
        emotion = direct(emotion, f0, f0 + frames)
    tick(0.45, "content encoder")
    content = encodings.encode(backend, "content", wav, frames, lambda: backend.encode_content(wav, frames))
    tick(0.9, "decoder")
    out = backend.decode(content, emotion, level, person)
    tick(1.0, "done")
    return out


def cross_fade(out: np.ndarray, y: np.ndarray, f0: int, written: int) -> int:
    """Write window output ``y`` at frame ``f0`` into ``out`` whose frames [0, written) are filled,
    fading linearly from the earlier window into ``y`` where they overlap; returns the new end."""
    f1 = f0 + y.shape[0]
    fade = written - f0  # frames shared with the previous window
    if fade > 0:
        a = (np.arange(1, fade + 1, dtype=np.float32) / (fade + 1))[:, None]
        out[f0:written] = (1 - a) * out[f0:written] + a * y[:fade]
    out[max(f0, written):f1] = y[max(0, fade):]
    return f1


def _samples(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE / _ALIGN)) * _ALIGN


def spans(n_samples: int, chunk_seconds: float, overlap_seconds: float) -> list[tuple[int, int]]:
    chunk, overlap = _samples(chunk_seconds), _samples(overlap_seconds)
    if not 0 <= overlap < chunk:
        raise ValueError("overlap must be shorter than the chunk")
    return windows(n_samples, chunk, overlap)


def over_windows(n_samples: int, run: Callable[[int, int], np.ndarray], chunk_seconds: float = CHUNK_SECONDS,
                 overlap_seconds: float = OVERLAP_SECONDS) -> np.ndarray:
    """The one window loop: ``run(start, end)`` -> (frames, C) float32 for each window of a clip of
    ``n_samples``, cross-faded into one (T, C) array (the network's output, or emotion features)."""
    out, written = None, 0  # frames [0, written) hold output
    for s, e in spans(n_samples, chunk_seconds, overlap_seconds):
        y = run(s, e)
        if out is None:
            out = np.zeros((frames_for_samples(n_samples), y.shape[1]), dtype=np.float32)
        written = cross_fade(out, y, s * FPS // SAMPLE_RATE, written)  # exact: s is a multiple of 1,600
    assert written == out.shape[0], (written, out.shape[0])
    return out


def as_backend(model) -> Backend:
    """``model`` itself when it is a Backend; a torch ``EmoTalk`` (training, bench) wrapped in TorchBackend."""
    torch = sys.modules.get("torch")  # an nn.Module exists only once torch is imported
    if torch is None or not isinstance(model, torch.nn.Module):
        return model
    from .torch_backend import TorchBackend

    return TorchBackend(model)


def predict(
    backend,
    audio: np.ndarray,
    level=1.0,
    person=0,
    chunk_seconds: float = CHUNK_SECONDS,
    overlap_seconds: float = OVERLAP_SECONDS,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    direct: Direct | None = None,
) -> np.ndarray:
    """Network output (T, NUM_BLENDSHAPES) float32 for mono 16 kHz ``audio``, no post-processing.

    ``backend`` is a ``Backend`` (or a torch ``EmoTalk``); ``cancel`` is checked between stages;
    ``direct`` directs each window's emotion features (see ``run_window``).
    """
    backend = as_backend(backend)
    audio = np.asarray(audio, dtype=np.float32)
    n = int(audio.shape[0])
    count = len(spans(n, chunk_seconds, overlap_seconds))
    done_windows = [0]

    def run(s: int, e: int) -> np.ndarray:
        k = done_windows[0]
        done_windows[0] += 1

        def tick(done: float, stage: str) -> None:
            """Progress within the window, and a cancel check between its stages."""
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if progress is not None and done > 0:
                where = f" (chunk {k + 1}/{count})" if count > 1 else ""
                progress((k + done) / count, stage + where)

        return run_window(backend, audio[s:e], level, person, tick, direct, s * FPS // SAMPLE_RATE)

    out = over_windows(n, run, chunk_seconds, overlap_seconds)
    assert out.shape[1] == NUM_BLENDSHAPES, out.shape
    return out
