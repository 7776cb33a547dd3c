"""Post-processing of the released demo: Savitzky-Golay smoothing and inserted blinks.

The blinks take a seed so that a take is reproducible. Every take goes through them in
``direction.face_parts.finish`` (with the face-part strengths and gaze); the demo's two steps as one
call, the oracle for that, is the tests' ``released_demo.postprocess``.
"""
from __future__ import annotations

import numpy as np

from ..arkit import BLINK_CHANNELS

SAVGOL_WINDOW = 5
SAVGOL_ORDER = 2

# The four 7-frame blink curves of the released demo, written into both eyeBlink channels.
BLINK_CURVES = np.array([
    [0.36537236, 0.950235724, 0.95593375, 0.916715622, 0.367256105, 0.119113259, 0.025357503],
    [0.234776169, 0.909951985, 0.944758058, 0.777862132, 0.191071674, 0.235437036, 0.089163929],
    [0.870040774, 0.949833691, 0.949418545, 0.695911646, 0.191071674, 0.072576277, 0.007108896],
    [0.000307991, 0.556701422, 0.952656746, 0.942345619, 0.425857186, 0.148335218, 0.017659493],
], dtype=np.float32)
BLINK_LEN = BLINK_CURVES.shape[1]
FIRST_BLINK_MAX = 60  # first start uniform in [0, 60] frames
BLINK_GAP = (60, 180)  # next start 60..180 frames later


def _savgol_hat(window: int, order: int) -> np.ndarray:
    """(window, window) least-squares polynomial fit: row i gives the fitted value at point i."""
    v = np.vander(np.arange(window, dtype=np.float64) - window // 2, order + 1, increasing=True)
    return v @ np.linalg.pinv(v)


def savgol(x: np.ndarray, window: int, order: int) -> np.ndarray:
    """``scipy.signal.savgol_filter(x, window, order, axis=0)`` (mode "interp") for an odd ``window``
    no longer than ``x``: the fit's centre value inside, and at each end the polynomial fitted to the
    first (last) ``window`` samples evaluated there."""
    x = np.asarray(x)
    hat = _savgol_hat(window, order)
    h = window // 2
    n = x.shape[0]
    xd = x.astype(np.float64)
    out = np.zeros_like(xd)
    for j, c in enumerate(hat[h]):  # interior: a correlation with the centre row
        out[h:n - h] += c * xd[j:n - window + 1 + j]
    out[:h] = np.tensordot(hat[:h], xd[:window], axes=1)
    out[n - h:] = np.tensordot(hat[h + 1:], xd[n - window:], axes=1)
    return out.astype(x.dtype if x.dtype in (np.float32, np.float64) else np.float64)


def smooth(weights: np.ndarray, window: int = SAVGOL_WINDOW) -> np.ndarray:
    """Savitzky-Golay per channel (window 5, order 2); shorter takes use the widest odd window that fits."""
    t = weights.shape[0]
    window = min(window, t if t % 2 else t - 1)
    if window <= SAVGOL_ORDER:
        return weights.copy()
    return savgol(weights, window, SAVGOL_ORDER).astype(np.float32)


def blink_starts(frames: int, seed: int | None, rate: float = 1.0) -> list[tuple[int, int]]:
    """(start frame, curve index) of each blink, as the released demo draws them; ``rate`` 2 halves
    the first-start and gap ranges (twice as many blinks)."""
    rng = np.random.default_rng(seed)
    first, lo, hi = (round(f / rate) for f in (FIRST_BLINK_MAX, *BLINK_GAP))  # rate 1: the demo's numbers
    out = []
    start = int(rng.integers(0, first + 1))
    while start < frames - BLINK_LEN:
        out.append((start, int(rng.integers(0, len(BLINK_CURVES)))))
        start += int(rng.integers(max(lo, 1), max(hi, 1) + 1))
    return out


def insert_blinks(weights: np.ndarray, seed: int | None = 0, rate: float = 1.0) -> np.ndarray:
    """Blink channels set to 0, then the demo's blink curves written in at random starts."""
    out = weights.copy()
    out[:, BLINK_CHANNELS] = 0.0
    for start, curve in blink_starts(out.shape[0], seed, rate):
        out[start:start + BLINK_LEN, BLINK_CHANNELS] = BLINK_CURVES[curve][:, None]
    return out

