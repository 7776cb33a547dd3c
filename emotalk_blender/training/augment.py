"""Audio augmentation to narrow the gap between espeak voices and real recordings.

Gain, additive noise (white or pink), synthetic room reverberation and a telephone band
(300-3400 Hz through an 8 kHz round trip, like the asterisk prompts). Parameters are drawn
from a given generator and recorded, so a clip's augmentation is reproducible and inspectable.
Output length always equals input length (the motion's frame count depends on it).
"""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from ..engine.constants import SAMPLE_RATE


def draw(rng: np.random.Generator, probability: float = 0.5) -> dict:
    """Augmentation parameters: empty (clean) with 1 - probability, else one or more effects."""
    if rng.random() >= probability:
        return {}
    spec: dict = {"gain_db": round(float(rng.uniform(-9, 6)), 2)}
    if rng.random() < 0.5:
        spec["noise_snr_db"] = round(float(rng.uniform(12, 35)), 1)
        spec["noise_colour"] = "pink" if rng.random() < 0.5 else "white"
    if rng.random() < 0.4:
        spec["reverb_rt60"] = round(float(rng.uniform(0.15, 0.6)), 3)
        spec["reverb_wet"] = round(float(rng.uniform(0.15, 0.5)), 3)
    if rng.random() < 0.35:
        spec["telephone"] = True
    return spec


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    return np.fft.irfft(spec, n)


def apply(audio: np.ndarray, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """Apply ``spec`` (from draw) to 16 kHz float32 audio; peaks are kept below full scale."""
    x = np.asarray(audio, np.float64).copy()
    n = len(x)
    if not spec or n == 0:
        return x.astype(np.float32)
    if "reverb_rt60" in spec:
        rt = spec["reverb_rt60"]
        t = np.arange(int(rt * SAMPLE_RATE)) / SAMPLE_RATE
        ir = rng.standard_normal(len(t)) * np.exp(-6.91 * t / rt)  # -60 dB at rt60
        ir /= np.sqrt(np.sum(ir ** 2)) + 1e-12
        wet = fftconvolve(x, ir)[:n]
        x = (1 - spec["reverb_wet"]) * x + spec["reverb_wet"] * wet * (np.std(x) / (np.std(wet) + 1e-12))
    if spec.get("telephone"):
        sos = butter(4, [300, 3400], btype="bandpass", fs=SAMPLE_RATE, output="sos")
        x = resample_poly(resample_poly(sosfilt(sos, x), 1, 2), 2, 1)[:n]
        x = np.pad(x, (0, n - len(x)))
    if "noise_snr_db" in spec:
        noise = _pink(n, rng) if spec["noise_colour"] == "pink" else rng.standard_normal(n)
        p_sig = np.mean(x ** 2) + 1e-12
        noise *= np.sqrt(p_sig / (np.mean(noise ** 2) + 1e-12) / 10 ** (spec["noise_snr_db"] / 10))
        x = x + noise
    x *= 10 ** (spec.get("gain_db", 0.0) / 20)
    peak = np.max(np.abs(x))
    if peak > 0.99:
        x *= 0.99 / peak
    return x.astype(np.float32)
