"""Helpers shared by the tests (imported as ``from helpers import ...``; fixtures live in conftest.py)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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

    from emotalk_blender.engine.model import EmoTalk, small_config

    torch.manual_seed(seed)
    model = EmoTalk(small_config())
    torch.nn.init.normal_(model.bs_map_r.weight, std=0.05)
    torch.nn.init.uniform_(model.bs_map_r.bias, 0.0, 0.3)
    return model.eval()
