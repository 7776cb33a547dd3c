"""Statistics of head motion, for fitting the procedure to real heads and checking it (numpy only).

All take (T, 3) degrees (pitch, yaw, roll) at ``fps`` and, where needed, the clip's 16 kHz audio.
"""
from __future__ import annotations

import numpy as np

from ..constants import SAMPLE_RATE

WINDOW_S = 0.5  # energy against head speed, in windows this long
BAND_HZ = (0.2, 5.0)  # where periodic motion is looked for


def axis_sd(angles: np.ndarray) -> np.ndarray:
    """(3,) standard deviation of each axis, degrees."""
    return np.asarray(angles, np.float64).std(axis=0)


def angular_speed(angles: np.ndarray, fps: float) -> np.ndarray:
    """(T-1,) speed of the head in degrees per second (norm of the per-axis rates)."""
    return np.linalg.norm(np.diff(np.asarray(angles, np.float64), axis=0), axis=1) * fps


def frame_energy(audio: np.ndarray, frames: int, fps: float) -> np.ndarray:
    """(frames,) mean square of the audio in each 1/fps s."""
    x = np.asarray(audio, np.float64).reshape(-1)
    edges = np.minimum(np.round(np.arange(frames + 1) * SAMPLE_RATE / fps).astype(np.int64), len(x))
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    return (c[edges[1:]] - c[edges[:-1]]) / np.maximum(np.diff(edges), 1)


def energy_speed_windows(angles: np.ndarray, audio: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(RMS level in dB, mean head speed) of each whole 0.5 s window of a clip."""
    speed = angular_speed(angles, fps)
    energy = frame_energy(audio, len(angles), fps)[1:]
    w = max(1, round(WINDOW_S * fps))
    k = len(speed) // w
    e = energy[:k * w].reshape(k, w).mean(axis=1)
    return 10 * np.log10(e + 1e-10), speed[:k * w].reshape(k, w).mean(axis=1)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def peak_ratio(angles: np.ndarray, fps: float) -> float:
    """How far the largest spectral peak of the head's angular velocity between 0.2 and 5 Hz stands
    out from the median there (max over axes of peak / median power; a periodic wobble gives a
    large ratio). Velocity, not angle: its spectrum is near flat, so the ratio measures peaks rather
    than the slope of the slow drift. Mean removed, Hann window, per axis."""
    x = np.diff(np.asarray(angles, np.float64), axis=0) * fps
    x = (x - x.mean(axis=0)) * np.hanning(len(x))[:, None]
    size = max(len(x), int(fps * 10))  # zero-padded to at least 10 s: the same frequency grid for short clips
    power = np.abs(np.fft.rfft(x, n=size, axis=0)) ** 2
    freq = np.fft.rfftfreq(size, 1.0 / fps)
    band = (freq >= BAND_HZ[0]) & (freq <= BAND_HZ[1])
    p = power[band]
    med = np.median(p, axis=0)
    return float(np.max(p.max(axis=0) / np.where(med > 0, med, np.inf)))


def summary(clips, fps: float) -> dict:
    """Pooled figures over ``clips``: a list of (angles (T, 3), audio or None).

    sd: per-axis SD (median over clips); p95_speed: 95th percentile of the pooled speeds;
    r: energy against speed over all pooled 0.5 s windows, each clip's values centred first (so a
    loud clip does not count as a fast one); peak: median over clips of ``peak_ratio``.
    """
    sds, speeds, es, vs, peaks = [], [], [], [], []
    for angles, audio in clips:
        if len(angles) < 3:
            continue
        sds.append(axis_sd(angles))
        speeds.append(angular_speed(angles, fps))
        peaks.append(peak_ratio(angles, fps))
        if audio is not None:
            e, v = energy_speed_windows(angles, audio, fps)
            if len(e) >= 2:
                es.append(e - e.mean())
                vs.append(v - v.mean())
    out = {"clips": len(sds), "sd": np.median(sds, axis=0),
           "p95_speed": float(np.percentile(np.concatenate(speeds), 95)),
           "peak": float(np.median(peaks)), "peak_p90": float(np.percentile(peaks, 90))}
    out["r"] = pearson(np.concatenate(es), np.concatenate(vs)) if es else float("nan")
    return out
