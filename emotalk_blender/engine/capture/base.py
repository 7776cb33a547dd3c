"""The capture backend interface and its loader: one RGB frame in, 52 weights (or no face) out."""
from __future__ import annotations

import importlib
import re
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import EmoTalkError

CAPTURE_BACKENDS: tuple[str, ...] = ("mediapipe", "resnet")


class CaptureError(EmoTalkError):
    """A video, capture model or capture backend that cannot be used (message names the file)."""


Crop = tuple[int, int, int, int]  # x, y, w, h in pixels of the decoded frame


@runtime_checkable
class CaptureBackend(Protocol):
    """Frames in order, one call each; a backend may keep state between frames (tracking)."""

    name: str

    def weights(self, rgb: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB frame -> (52,) float32 in the released order, or None (no face)."""
        ...

    def close(self) -> None:
        """Release the model (files, threads); the backend is not used afterwards."""
        ...


class CropError(CaptureError, ValueError):
    """A crop that is not x,y,w,h in pixels, or holds no pixel of the video (a ValueError for older callers)."""


def parse_crop(text: str | None, flag: str = "--crop") -> Crop | None:
    """``"x,y,w,h"`` -> a crop tuple (None for empty); CropError (one line naming ``flag``) on anything else."""
    if not text:
        return None
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4 or not all(re.fullmatch(r"-?[0-9]{1,9}", p) for p in parts):  # ASCII digits, no overflow
        raise CropError(f"{flag} {text}: expected x,y,w,h in whole pixels, e.g. 40,20,200,200")
    x, y, w, h = (int(p) for p in parts)
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise CropError(f"{flag} {text}: x and y must be >= 0 and w, h > 0")
    return x, y, w, h


def clamp_crop(crop: Crop, width: int, height: int) -> Crop | None:
    """The part of ``crop`` inside a ``width`` x ``height`` frame; None when it holds no pixel of it."""
    x, y, w, h = crop
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def fit_crop(crop, width: int, height: int, video, flag: str = "--crop") -> Crop | None:
    """``crop`` checked against a video's frame size before any frame is read: clamped to the frame, or
    CropError when it lies beside the picture (a capture of nothing would be a constant take). Fractions
    of the frame (floats, the training scripts') always lie inside and pass as they are."""
    if crop is None or all(isinstance(v, float) for v in crop):
        return crop
    inside = clamp_crop(tuple(int(v) for v in crop), width, height)
    if inside is None:
        raise CropError(f"{flag} {','.join(str(int(v)) for v in crop)}: outside the {width}x{height} frame of "
                        f"{video}; x,y must lie inside it")
    return inside


def load_capture_backend(name: str, model_path=None, crop: Crop | None = None, face_model=None) -> CaptureBackend:
    """The backend ``name`` ("mediapipe" | "resnet") with its model file; CaptureError when unusable.

    ``face_model`` (MediaPipe's face_landmarker.task) lets the resnet backend crop each frame to the
    detected face, as the seed's capture does; without it (or with ``crop``) the crop is fixed.
    """
    if name not in CAPTURE_BACKENDS:
        raise CaptureError(f"capture backend {name!r}: expected one of {', '.join(CAPTURE_BACKENDS)}")
    module_name = f"{__package__}.{'mediapipe_backend' if name == 'mediapipe' else 'resnet'}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise CaptureError(f"the {name} capture backend is not part of this build") from None
    if name == "resnet" and crop is None and face_model:
        return module.load(model_path, face_box=module.mediapipe_face_box(face_model))
    return module.load(model_path, crop=crop)
