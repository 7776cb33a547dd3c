"""The one call every front end uses: audio file in, (T, 52) ARKit weights at 30 fps out.

The CLI, the Blender operators and batch scripts all go through ``generate``; the model is loaded
once per (checkpoint, device) and cached.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from . import paths
from .audio import load_audio
from .checkpoint import load_checkpoint
from .errors import CheckpointError
from .inference import Progress, default_device, predict
from .postprocess import postprocess


@dataclass
class GenerateSettings:
    level: float = 1.0  # emotion intensity: 0 low .. 1 high (fractional allowed)
    person: int | Sequence[float] = 0  # speaking style 0..23, or 24 mixing weights
    smooth: bool = True  # Savitzky-Golay 5/2, as the released demo
    blinks: bool = True  # the demo's blink curves
    seed: int = 0  # blink placement: the same seed gives the same take
    checkpoint: str | None = None  # None: the shipped default model
    device: str | None = None  # None: CUDA when present, else CPU
    half: bool = False  # fp16 autocast (CUDA only)


def resolve_checkpoint(checkpoint=None) -> str:
    if checkpoint:
        return os.fspath(checkpoint)
    path = paths.default_checkpoint()
    if not path.is_file():
        raise CheckpointError(f"{path}: the default model is missing; pass a checkpoint (e.g. the released EmoTalk.pth)")
    return os.fspath(path)


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def load_model(checkpoint=None, device=None):
    """The model for ``checkpoint`` on ``device``, loaded once and cached (keyed by file and mtime)."""
    path = resolve_checkpoint(checkpoint)
    device = device or default_device()
    try:
        key = (os.path.realpath(path), os.path.getmtime(path), str(device))
    except OSError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE.clear()  # one model resident at a time: the full one is 2.5 GB
            _CACHE[key] = load_checkpoint(path, device=torch.device(device))
        return _CACHE[key]


def model_status(checkpoint=None, device=None) -> str:
    """One line for a status display: which model is active, or why it does not load."""
    try:
        model = load_model(checkpoint, device)
    except Exception as exc:  # shown to the user as text, never raised into a UI draw
        return f"not loaded: {exc}"
    name = model.meta.get("name") or model.config.name
    params = model.num_parameters() / 1e6
    return f"{name} ({params:.1f} M parameters) on {next(model.parameters()).device}"


def generate_from_audio(audio: np.ndarray, settings: GenerateSettings = GenerateSettings(), progress: Progress | None = None, cancel: threading.Event | None = None) -> np.ndarray:
    """(T, 52) float32 in the released order for mono 16 kHz ``audio``."""
    model = load_model(settings.checkpoint, settings.device)
    raw = predict(model, audio, level=settings.level, person=settings.person, half=settings.half, progress=progress, cancel=cancel)
    return postprocess(raw, smoothing=settings.smooth, blinks=settings.blinks, seed=settings.seed)


def generate(audio_path, settings: GenerateSettings = GenerateSettings(), progress: Progress | None = None, cancel: threading.Event | None = None) -> np.ndarray:
    """Audio file -> (T, 52) float32 ARKit weights at 30 fps, released channel order.

    ``progress(fraction, message)`` is called from the calling thread; setting ``cancel`` raises
    ``errors.Cancelled`` at the next chunk boundary. Bad audio raises AudioError, a bad checkpoint
    CheckpointError, both naming the file.
    """
    return generate_from_audio(load_audio(audio_path), settings, progress, cancel)
