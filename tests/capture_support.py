"""Fixtures for the capture tests: the GRID clips, the MediaPipe model, and videos made with ffmpeg.

The GRID clips (../shared/data/grid, Cooke et al. 2006) are test fixtures only: never train or ship on them.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GRID = sorted((SHARED / "grid").glob("*.mpg"))
MODEL = SHARED / "mediapipe" / "face_landmarker.task"

needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                     reason="mediapipe is not installed (pip install -r requirements-capture.txt)")
needs_grid = pytest.mark.skipif(not GRID or not MODEL.is_file(), reason=f"no GRID clips / MediaPipe model in {SHARED}")


def ffmpeg(*args: str) -> None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.fail("ffmpeg is not installed (CI installs it: apt-get install ffmpeg)")
    subprocess.run([exe, "-nostdin", "-v", "error", "-y", *args], check=True)


def loudness_envelope(audio: np.ndarray, frames: int, window: float = 0.05, floor_db: float = -50.0) -> np.ndarray:
    """Loudness per 30 fps frame: RMS over ``window`` s centred on the frame, in dB below the peak, floored."""
    half = int(window * 16000 / 2)
    centres = (np.arange(frames) * 16000 / 30).astype(int)
    rms = np.array([np.sqrt(np.mean(audio[max(0, c - half):c + half] ** 2) + 1e-12) for c in centres])
    return np.maximum(20 * np.log10(rms / rms.max()), floor_db)
