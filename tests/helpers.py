"""Helpers shared by the tests (imported as ``from helpers import ...``; fixtures live in conftest.py)."""
from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest


def espeak(text: str, path: Path, voice: str = "en-us", speed: int = 160) -> Path:
    """Real synthetic speech (22,050 Hz WAV) from Debian's espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed (CI installs it: apt-get install espeak-ng)")
    subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


def random_small_model(seed: int = 0):
    """A small torch EmoTalk with random weights everywhere, the output head included (upstream zeroes it)."""
    import torch

    from emotalk_blender.engine.network.model import EmoTalk, small_config

    torch.manual_seed(seed)
    model = EmoTalk(small_config())
    torch.nn.init.normal_(model.bs_map_r.weight, std=0.05)
    torch.nn.init.uniform_(model.bs_map_r.bias, 0.0, 0.3)
    return model.eval()


def random_small_weights(seed: int = 0) -> dict:
    """Random weights for ``small_config()`` in NumPy alone (the Blender-only venvs have no torch):
    fan-in scaled like torch's default init, norms at 1, the output head biased positive like
    ``random_small_model``."""
    from emotalk_blender.engine.network.config import small_config
    from emotalk_blender.engine.network.layout import expected_shapes

    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in expected_shapes(small_config()).items():
        if "norm" in name and name.endswith(".weight") or name.endswith("weight_g"):
            w = np.ones(shape)
        elif name == "bs_map_r.bias":
            w = rng.uniform(0.0, 0.3, shape)
        elif name == "bs_map_r.weight":
            w = rng.normal(0.0, 0.05, shape)
        elif len(shape) == 1:
            w = rng.uniform(-0.1, 0.1, shape)
        else:
            w = rng.uniform(-1.0, 1.0, shape) / np.sqrt(np.prod(shape[1:]))
        weights[name] = w.astype(np.float32)
    return weights


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM mono WAV (what espeak-ng writes) as float32 in -1..1, with its rate."""
    with wave.open(str(path), "rb") as f:
        assert f.getsampwidth() == 2 and f.getnchannels() == 1, path
        return np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / 32768, f.getframerate()


def write_wav(path: Path, x: np.ndarray, rate: int) -> Path:
    """float32 -1..1 as a 16-bit PCM mono WAV."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(x, -1, 32767 / 32768) * 32768).round().astype("<i2").tobytes())
    return path


def build_zip(out: Path, root: Path) -> Path:
    """The extension zip built by the project's own build.py into ``out`` (as `make build` does)."""
    import sys

    proc = subprocess.run([sys.executable, str(root / "build.py"), "--out-dir", str(out)],
                          capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("emotalk_blender-*.zip"))
