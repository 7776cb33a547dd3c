"""Inference over audio of any length: chunks with overlap, cross-faded, memory bounded.

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
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np
import torch

from .arkit import NUM_BLENDSHAPES
from .constants import FPS, SAMPLE_RATE, frames_for_samples
from .errors import Cancelled
from .model import normalise_audio

CHUNK_SECONDS = 20.0
OVERLAP_SECONDS = 2.0
_ALIGN = SAMPLE_RATE // 10  # 1,600 samples = 3 frames: windows start on whole frames

Progress = Callable[[float, str], None]


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


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


def _window(model, wav: torch.Tensor, level, person, tick) -> torch.Tensor:
    """``model(wav)`` in its stages (the same computation), ticking between them."""
    frames = frames_for_samples(wav.shape[-1])
    tick(0.0, "emotion encoder")
    wav = normalise_audio(wav)
    emotion, _ = model.encode_emotion(wav, frames)
    tick(0.45, "content encoder")
    content = model.encode_content(wav, frames)
    tick(0.9, "decoder")
    out = model.decode(content, emotion, level, person)
    tick(1.0, "done")
    return out


def _samples(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE / _ALIGN)) * _ALIGN


@torch.inference_mode()
def predict(
    model,
    audio: np.ndarray,
    level=1.0,
    person=0,
    chunk_seconds: float = CHUNK_SECONDS,
    overlap_seconds: float = OVERLAP_SECONDS,
    half: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Network output (T, 52) float32 for mono 16 kHz ``audio``, no post-processing."""
    chunk, overlap = _samples(chunk_seconds), _samples(overlap_seconds)
    if not 0 <= overlap < chunk:
        raise ValueError("overlap must be shorter than the chunk")
    n = int(audio.shape[0])
    total = frames_for_samples(n)
    device = next(model.parameters()).device
    out = np.zeros((total, NUM_BLENDSHAPES), dtype=np.float32)
    written = 0  # frames [0, written) hold output
    spans = windows(n, chunk, overlap)
    for k, (s, e) in enumerate(spans):
        def tick(done: float, stage: str, k=k) -> None:
            """Progress within the window, and a cancel check between its stages."""
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if progress is not None and done > 0:
                progress((k + done) / len(spans), f"{stage}" + (f" (chunk {k + 1}/{len(spans)})" if len(spans) > 1 else ""))

        wav = torch.from_numpy(np.ascontiguousarray(audio[s:e])).to(device)[None]
        with torch.autocast(device.type, dtype=torch.float16, enabled=half and device.type == "cuda"):
            y = _window(model, wav, level, person, tick)[0].float().cpu().numpy()
        f0 = s * FPS // SAMPLE_RATE  # exact: s is a multiple of 1,600 samples
        f1 = f0 + y.shape[0]
        fade = written - f0  # frames shared with the previous window
        if fade > 0:
            a = (np.arange(1, fade + 1, dtype=np.float32) / (fade + 1))[:, None]
            out[f0:written] = (1 - a) * out[f0:written] + a * y[:fade]
        out[max(f0, written):f1] = y[max(0, fade):]
        written = f1
    assert written == total, (written, total)
    return out
