"""Shared fixtures: real speech from espeak-ng, small random-weight checkpoints."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from emotalk_blender.engine.checkpoint import save_checkpoint
from emotalk_blender.engine.model import EmoTalk, small_config

torch.set_num_threads(2)


def espeak(text: str, path: Path, voice: str = "en-us", speed: int = 160) -> Path:
    """Real synthetic speech (22,050 Hz WAV) from Debian's espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed (CI installs it: apt-get install espeak-ng)")
    subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    """About 3 s of English speech."""
    d = tmp_path_factory.mktemp("speech")
    return espeak("Peter picked a basket of fresh apples by the blue boat.", d / "speech.wav")


@pytest.fixture(scope="session")
def long_speech_wav(tmp_path_factory, speech_wav) -> Path:
    """About 50 s of speech (several sentences, 16 kHz), longer than one inference chunk."""
    d = tmp_path_factory.mktemp("long")
    lines = [
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
        "My mother baked a big plum pie for the party on Monday morning.",
        "How vexingly quick daft zebras jump when the music plays loudly.",
        "We will meet again when the moon is bright above the mountains.",
    ]
    parts = []
    for i, line in enumerate(lines * 2):
        w = espeak(line, d / f"l{i}.wav", voice=["en-us", "en-gb", "en+f3"][i % 3])
        x, sr = sf.read(w, dtype="float32")
        parts.append(x)
        parts.append(np.zeros(sr // 4, np.float32))
    out = d / "long.wav"
    sf.write(out, np.concatenate(parts), sr)
    return out


def random_small_model(seed: int = 0) -> EmoTalk:
    """A small EmoTalk with random weights everywhere, the output head included (upstream zeroes it)."""
    torch.manual_seed(seed)
    model = EmoTalk(small_config())
    torch.nn.init.normal_(model.bs_map_r.weight, std=0.05)
    torch.nn.init.uniform_(model.bs_map_r.bias, 0.0, 0.3)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Path of a small random-weight checkpoint in the project's own format."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(random_small_model(), path, meta={"name": "tiny random test model"})
    return path
