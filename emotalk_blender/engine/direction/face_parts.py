"""Face-part controls applied to the network's output: strengths, offsets and smoothing per part.

The parts are Apple's own ARKit groups: the *upper face* is the eyes, brows, cheeks and nose
(cheekPuff included, as Apple groups it), the *lower face* the jaw, mouth and tongue. Every
control at its default leaves the take bit-identical to the released demo's post-processing
(each step is skipped at its identity value). Order, as ``finish`` applies it: smoothing per part,
part strengths, lip-open offset, blinks (strength, rate), gaze, eyelid offset.
numpy only (no torch, no bpy).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..arkit import ARKIT_NAMES, BLINK_CHANNELS, INDEX
from ..errors import EmoTalkError
from .gaze import add_gaze
from ..motion.postprocess import SAVGOL_WINDOW, insert_blinks, smooth


def _group(*prefixes: str) -> tuple[int, ...]:
    return tuple(i for i, n in enumerate(ARKIT_NAMES) if n.startswith(prefixes))


UPPER_FACE = _group("eye", "brow", "cheek", "nose")  # 24 channels
LOWER_FACE = _group("jaw", "mouth", "tongue")  # 28 channels
assert sorted(UPPER_FACE + LOWER_FACE) == list(range(len(ARKIT_NAMES)))

JAW_OPEN, MOUTH_CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]
EYE_WIDE = (INDEX["eyeWideLeft"], INDEX["eyeWideRight"])

DEFAULT_SMOOTH = SAVGOL_WINDOW  # the released demo's window, for both parts; 1 = no smoothing


class FaceControlError(EmoTalkError):
    """A face-part control outside its range."""


@dataclass(frozen=True)
class FaceControls:
    """Face-part controls; the defaults change nothing."""
    upper_face: float = 1.0  # gain on the upper-face channels (0 = switched off)
    lower_face: float = 1.0  # gain on the jaw, mouth and tongue channels
    lip_open: float = 0.0  # -1..1 added to jawOpen, faded out where the lips are sealed (p/b/m)
    eyelid: float = 0.0  # -1..1: > 0 widens the eyes (eyeWide), < 0 lowers the lids (eyeBlink)
    blink_strength: float = 1.0  # gain on the inserted blink curves (0 = no blinks)
    blink_rate: float = 1.0  # blinks per minute relative to the demo's (2 = twice as often)
    upper_smooth: int = DEFAULT_SMOOTH  # Savitzky-Golay window (odd) for the upper face; 1 = off
    lower_smooth: int = DEFAULT_SMOOTH  # the same for the lower face

    def validated(self) -> FaceControls:
        """Self, checked; FaceControlError (one line naming the control) when one is out of range."""
        for name, lo, hi in (("upper_face", 0.0, 2.0), ("lower_face", 0.0, 2.0), ("lip_open", -1.0, 1.0),
                             ("eyelid", -1.0, 1.0), ("blink_strength", 0.0, 1.0), ("blink_rate", 0.1, 4.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
                    or not lo <= value <= hi:
                raise FaceControlError(f"{name} must lie in {lo:g}..{hi:g}, got {value}")
        for name in ("upper_smooth", "lower_smooth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1 or value % 2 == 0 \
                    or value > 31:
                raise FaceControlError(f"{name} must be an odd window 1..31 (1 = off), got {value}")
        return self


def scale_parts(weights: np.ndarray, upper: float = 1.0, lower: float = 1.0) -> np.ndarray:
    """Upper-face channels times ``upper``, lower-face channels times ``lower``; nothing else changes."""
    out = np.array(weights, dtype=np.float32, copy=True)
    if upper != 1.0:
        out[:, UPPER_FACE] *= np.float32(upper)
    if lower != 1.0:
        out[:, LOWER_FACE] *= np.float32(lower)
    return out


def seal(weights: np.ndarray) -> np.ndarray:
    """Per frame 0..1, how far the lips are sealed: mouthClose over jawOpen (ARKit: mouthClose = jawOpen
    closes the lips however open the jaw is)."""
    jaw = np.maximum(weights[:, JAW_OPEN], 1e-3)
    return np.clip(weights[:, MOUTH_CLOSE] / jaw, 0.0, 1.0)


def open_lips(weights: np.ndarray, offset: float) -> np.ndarray:
    """``offset`` added to jawOpen times (1 - seal), within 0..1 and never below mouthClose.

    Where the lips are sealed (p/b/m) the jaw is left as it is, so closures stay closed; a negative
    offset closes the mouth down to lips that just meet.
    """
    out = np.array(weights, dtype=np.float32, copy=True)
    if offset == 0.0:
        return out
    jaw, close = out[:, JAW_OPEN].copy(), out[:, MOUTH_CLOSE]
    new = np.clip(jaw + (1.0 - seal(out)) * np.float32(offset), 0.0, 1.0)
    out[:, JAW_OPEN] = np.maximum(new, np.minimum(close, jaw))
    return out


def offset_eyelids(weights: np.ndarray, offset: float) -> np.ndarray:
    """``offset`` > 0 added to eyeWide (eyes wider), < 0 to eyeBlink (lids lower); both eyes, within 0..1.

    Applied after the blinks, so that a blink still closes the eye fully.
    """
    out = np.array(weights, dtype=np.float32, copy=True)
    if offset > 0:
        out[:, EYE_WIDE] = np.clip(out[:, EYE_WIDE] + np.float32(offset), 0.0, 1.0)
    elif offset < 0:
        out[:, BLINK_CHANNELS] = np.clip(out[:, BLINK_CHANNELS] - np.float32(offset), 0.0, 1.0)
    return out


def smooth_parts(weights: np.ndarray, upper_window: int = DEFAULT_SMOOTH,
                 lower_window: int = DEFAULT_SMOOTH) -> np.ndarray:
    """Savitzky-Golay (order 2) with a window per part; window 1 leaves that part as it is.

    With both windows at the default this is exactly the released demo's smoothing.
    """
    if upper_window == lower_window == DEFAULT_SMOOTH:
        return smooth(weights)
    out = np.array(weights, dtype=np.float32, copy=True)
    for cols, window in ((UPPER_FACE, upper_window), (LOWER_FACE, lower_window)):
        if window > 1:
            out[:, cols] = smooth(out[:, cols], window)
    return out


def finish(raw: np.ndarray, controls: FaceControls = FaceControls(), smoothing: bool = True, blinks: bool = True,
           seed: int | None = 0, gaze_strength: float = 0.0, gaze_seed: int | None = None,
           head: np.ndarray | None = None) -> np.ndarray:
    """Network output -> the take: the demo's post-processing with every face-part control.

    With default controls and no gaze this equals the released demo's two steps
    (smoothing, then blinks: ``tests/released_demo.py``).
    """
    out = np.asarray(raw, dtype=np.float32)
    if smoothing:
        out = smooth_parts(out, controls.upper_smooth, controls.lower_smooth)
    out = scale_parts(out, controls.upper_face, controls.lower_face)
    out = open_lips(out, controls.lip_open)
    if blinks:
        out = insert_blinks(out, seed, rate=controls.blink_rate)
        if controls.blink_strength != 1.0:  # the inserted curves scaled (the channels hold nothing else)
            out[:, BLINK_CHANNELS] *= np.float32(controls.blink_strength)
    if gaze_strength > 0:
        # With head motion the eyes counter-rotate to hold each fixation.
        out = add_gaze(out, gaze_strength, seed if gaze_seed is None else gaze_seed, head=head)
    return offset_eyelids(out, controls.eyelid)
