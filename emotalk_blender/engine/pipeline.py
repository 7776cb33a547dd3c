"""The one call every front end uses: audio file in, (T, 52) ARKit weights at 30 fps out.

The CLI, the Blender operators and batch scripts all go through ``generate``: settings are checked,
the backend is loaded once per (checkpoint, device, backend) and cached, then inference and
post-processing run. Importing this module does not import torch.
"""
from __future__ import annotations

import threading

import numpy as np

from .direction import head_motion
from .audio.decoding import load_audio
from .network.loading import load_backend, model_status, resolve_checkpoint
from .constants import frames_for_samples
from .direction.emotion import take_direction
from .direction.emotion_reading import directed_features, voice_lean
from .direction.face_parts import finish
from .network.inference import Progress, predict
from .settings import GenerateSettings

__all__ = ["GenerateSettings", "generate", "generate_from_audio", "load_model", "model_status", "resolve_checkpoint"]


def load_model(checkpoint=None, device=None, precision: str = "fp32"):
    """The torch ``EmoTalk`` nn.Module for ``checkpoint`` on ``device`` (training, benchmarks), cached.

    fp32 unless asked: training needs it, and parity checks compare in it.
    """
    return load_backend(checkpoint, device, backend="torch", precision=precision).model


def generate_from_audio(audio: np.ndarray, settings: GenerateSettings = GenerateSettings(),
                        progress: Progress | None = None, cancel: threading.Event | None = None) -> np.ndarray:
    """(T, 52) float32 in the released order for mono 16 kHz ``audio``."""
    settings = settings.validated()  # checked settings (the CLI's, the operators') are itself: no second check
    backend = load_backend(settings.checkpoint, settings.device, settings.backend, precision=settings.precision)
    direction = take_direction(backend, settings, frames_for_samples(len(audio)),
                               resolve_checkpoint(settings.checkpoint))
    # where the voice's own emotion is used, an unsure reading leans it toward neutral (emotion_reading.py)
    lean = voice_lean(backend, audio, resolve_checkpoint(settings.checkpoint), settings.neutral_lean, direction)
    directed = directed_features(direction, lean)
    raw = predict(backend, audio, level=settings.level, person=settings.person, progress=progress, cancel=cancel,
                  direct=directed)
    # With default settings this is exactly the released demo's steps (smoothing, then blinks).
    head = head_motion.for_settings(audio, settings, len(raw))  # None when off; the eyes hold fixation against it
    return finish(raw, settings.face_controls(), smoothing=settings.smooth, blinks=settings.blinks,
                  seed=settings.seed, gaze_strength=settings.gaze, gaze_seed=settings.gaze_seed, head=head)


def generate(audio_path, settings: GenerateSettings = GenerateSettings(), progress: Progress | None = None,
             cancel: threading.Event | None = None) -> np.ndarray:
    """Audio file -> (T, 52) float32 ARKit weights at 30 fps, released channel order.

    ``progress(fraction, message)`` is called from the calling thread; setting ``cancel`` raises
    ``errors.Cancelled`` at the next stage boundary. Bad controls raise SettingsError, bad audio
    AudioError, a bad checkpoint CheckpointError, each in one line naming the file or control.
    """
    settings = settings.validated()  # before reading audio: a bad control fails at once (checked: itself)
    return generate_from_audio(load_audio(audio_path), settings, progress, cancel)
