"""Motion files in the released EmoTalk layout: a ``.npy`` holding (T, 52) float32 at 30 fps.

Channels are in the released order (``arkit.ARKIT_NAMES``). No bpy here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import atomic
from ..arkit import NUM_BLENDSHAPES
from ..errors import EmoTalkError


class MotionFileError(EmoTalkError):
    """A motion file (.npy or Live Link Face CSV) that is missing, unreadable or of the wrong shape."""


def check_motion(weights, source="motion") -> np.ndarray:
    """``weights`` as a C-contiguous (T, 52) float32 array; a clear error otherwise."""
    arr = np.asarray(weights)
    if arr.ndim != 2 or arr.shape[1] != NUM_BLENDSHAPES or arr.shape[0] < 1:
        raise MotionFileError(f"{source}: expected an array of shape (T, {NUM_BLENDSHAPES}) "
                              f"with T >= 1, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise MotionFileError(f"{source}: expected numbers, got dtype {arr.dtype}")
    with np.errstate(over="ignore"):  # a float64 past float32 range becomes inf: refused just below
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise MotionFileError(f"{source}: holds NaN or infinite values")
    return arr


def load_motion_npy(path) -> np.ndarray:
    """Read a released-layout ``.npy`` (T, 52); pickled objects are refused."""
    path = Path(path)
    if not path.is_file():
        raise MotionFileError(f"{path}: no such motion file")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for a damaged file
        raise MotionFileError(f"{path}: not a readable .npy array ({exc})") from None
    return check_motion(arr, str(path))


def save_motion_npy(path, weights) -> Path:
    """Write (T, 52) float32 in the released layout, atomically; returns the path written."""
    path = Path(path)
    arr = check_motion(weights, str(path))
    atomic.save_npy(path, arr)
    return path
