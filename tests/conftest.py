"""Shared fixtures: real speech from espeak-ng, small random-weight checkpoints (helpers: helpers.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import espeak, random_small_model, random_small_weights, read_wav, write_wav

try:
    import torch
except ImportError:  # the Blender-only environments run without torch
    torch = None
else:
    torch.set_num_threads(2)


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
        x, sr = read_wav(w)
        parts.append(x)
        parts.append(np.zeros(sr // 4, np.float32))
    return write_wav(d / "long.wav", np.concatenate(parts), sr)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Path of a small random-weight checkpoint in the project's own format (.pt with torch; without it,
    NumPy weights as our .safetensors, which the NumPy backend reads)."""
    meta = {"name": "tiny random test model"}
    if torch is None:
        from emotalk_blender.engine.network import safetensors_io
        from emotalk_blender.engine.network.config import small_config
        from emotalk_blender.engine.network.layout import own_metadata

        path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
        safetensors_io.write(path, random_small_weights(), own_metadata(small_config(), meta))
        return path
    from emotalk_blender.engine.network.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(random_small_model(), path, meta=meta)
    return path
