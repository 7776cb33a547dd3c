"""Augmentation toward real recordings (the third-generation corpus): augment.py's gain, noise,
room and telephone band, plus microphone colouring and lossy codecs through the system ffmpeg.

- microphone: a high-pass (small capsule, 60-200 Hz), two or three peaking bands of +-7 dB
  (presence peaks, cheap-capsule dips) and sometimes a low-pass (4-8 kHz, a headset);
- codec: an MP3 (libmp3lame, 24-64 kb/s), Opus (libopus, 8-24 kb/s, VoIP mode) or G.711 mu-law
  telephone round trip (8 kHz).

Parameters are drawn from the given generator and recorded; the output keeps the input's length
and timing (the codecs' own delay is removed by ffmpeg's decoders; a test holds the lag at 0).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from ..engine.constants import SAMPLE_RATE
from ..engine.errors import EmoTalkError
from . import augment

CODECS = ("mp3", "opus", "mulaw")


def draw(rng: np.random.Generator, probability: float = 0.6) -> dict:
    """augment.draw's effects, plus a microphone (40 %) and a codec (35 %) on an augmented clip."""
    spec = augment.draw(rng, probability)
    if not spec:
        return spec
    if rng.random() < 0.4:
        spec["mic"] = {"highpass_hz": round(float(rng.uniform(60, 200)), 1),
                       "peaks": [[round(float(rng.uniform(300, 6000)), 1), round(float(rng.uniform(-7, 7)), 2),
                                  round(float(rng.uniform(0.7, 2.5)), 2)] for _ in range(int(rng.integers(2, 4)))],
                       "lowpass_hz": round(float(rng.uniform(4000, 7800)), 1) if rng.random() < 0.3 else None}
    if rng.random() < 0.35:
        codec = CODECS[int(rng.integers(len(CODECS)))]
        spec["codec"] = {"name": codec, "kbps": {"mp3": int(rng.choice([24, 32, 48, 64])),
                                                 "opus": int(rng.choice([8, 12, 16, 24])), "mulaw": 64}[codec]}
        spec.pop("telephone", None)  # one band limit is enough
    return spec


def _peaking(f0: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ cookbook peaking biquad as one second-order section."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / SAMPLE_RATE
    alpha = np.sin(w) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w), 1 - alpha / a]
    return np.array([b[0] / den[0], b[1] / den[0], b[2] / den[0], 1.0, den[1] / den[0], den[2] / den[0]])


def microphone(x: np.ndarray, mic: dict) -> np.ndarray:
    sos = [butter(2, mic["highpass_hz"], btype="highpass", fs=SAMPLE_RATE, output="sos")[0]]
    sos += [_peaking(*p) for p in mic["peaks"]]
    if mic.get("lowpass_hz"):
        sos.append(butter(2, mic["lowpass_hz"], btype="lowpass", fs=SAMPLE_RATE, output="sos")[0])
    return sosfilt(np.array(sos), x)


def codec_round_trip(x: np.ndarray, name: str, kbps: int) -> np.ndarray:
    """``x`` (16 kHz float) encoded and decoded by ffmpeg; same length."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise EmoTalkError("ffmpeg not found on PATH: the codec augmentation needs it (apt-get install ffmpeg)")
    args = {"mp3": ["-c:a", "libmp3lame", "-b:a", f"{kbps}k", "-f", "mp3"],
            "opus": ["-c:a", "libopus", "-b:a", f"{kbps}k", "-application", "voip", "-f", "ogg"],
            "mulaw": ["-ar", "8000", "-c:a", "pcm_mulaw", "-f", "wav"]}[name]
    pcm = np.clip(x, -1, 1).astype("<f4").tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        enc = Path(tmp) / "enc"
        subprocess.run([exe, "-nostdin", "-v", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1",
                        "-i", "-", *args, str(enc)], input=pcm, check=True)
        out = subprocess.run([exe, "-nostdin", "-v", "error", "-i", str(enc), "-f", "f32le", "-ar", str(SAMPLE_RATE),
                              "-ac", "1", "-"], capture_output=True, check=True).stdout
    y = np.frombuffer(out, "<f4").astype(np.float64)
    return np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)]


def apply(audio: np.ndarray, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """``spec`` (from draw) on 16 kHz float32 audio: microphone first, then room/noise/level, then codec."""
    x = np.asarray(audio, np.float64)
    if spec.get("mic"):
        x = microphone(x, spec["mic"])
    x = augment.apply(x.astype(np.float32), {k: v for k, v in spec.items() if k not in ("mic", "codec")}, rng)
    if spec.get("codec"):
        x = codec_round_trip(x, spec["codec"]["name"], spec["codec"]["kbps"])
        peak = np.max(np.abs(x)) if len(x) else 0.0
        if peak > 0.99:
            x = x * (0.99 / peak)
    return np.asarray(x, np.float32)
