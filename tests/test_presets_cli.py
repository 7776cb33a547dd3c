"""``python -m emotalk_blender presets``: a user's own emotion presets, beside any checkpoint."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.network.loading import load_backend
from emotalk_blender.engine.direction.emotion import clip_features
from emotalk_blender.engine.direction.presets_file import load_presets, presets_path

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emotalk_blender", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO)


def test_presets_from_clips_sit_beside_the_checkpoint_and_drive_generate(tmp_path, tiny_checkpoint, speech_wav):
    ckpt = tmp_path / "mine.pt"
    shutil.copy(tiny_checkpoint, ckpt)
    other = tmp_path / "other.wav"
    shutil.copy(speech_wav, other)
    r = run_cli("presets", f"happy={speech_wav}", f"sad={speech_wav},{other}", "--checkpoint", ckpt)
    assert r.returncode == 0, r.stderr
    path = presets_path(ckpt)
    assert path == tmp_path / "mine.presets.npz" and path.is_file()
    presets = load_presets(path)
    want = clip_features(load_backend(ckpt, "cpu", "torch", precision="fp32"), load_audio(speech_wav)).mean(axis=0)
    np.testing.assert_allclose(presets.features["happy"], want, atol=1e-5)  # the mean emotion features
    np.testing.assert_allclose(presets.features["sad"], want, atol=1e-5)  # two copies of one clip: the same mean

    r = run_cli("presets", f"angry={speech_wav}", "--checkpoint", ckpt)  # adds, keeps the others
    assert r.returncode == 0 and sorted(load_presets(path).features) == ["angry", "happy", "sad"]

    voice, happy = tmp_path / "voice.npy", tmp_path / "happy.npy"
    assert run_cli("generate", speech_wav, "-o", voice, "--checkpoint", ckpt).returncode == 0
    r = run_cli("generate", speech_wav, "-o", happy, "--checkpoint", ckpt, "--emotion", "happy")
    assert r.returncode == 0, r.stderr
    assert not np.array_equal(np.load(voice), np.load(happy))  # the preset changed the take


def test_presets_bad_input_is_one_line_and_writes_nothing(tmp_path, tiny_checkpoint, speech_wav):
    ckpt = tmp_path / "mine.pt"
    shutil.copy(tiny_checkpoint, ckpt)
    cases = {
        "happy": "expected EMOTION=CLIP",
        f"joy={speech_wav}": "joy",
        f"happy={tmp_path / 'missing.wav'}": "missing.wav",
    }
    for arg, says in cases.items():
        r = run_cli("presets", arg, "--checkpoint", ckpt)
        assert r.returncode == 1 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, (arg, r.stderr)
    assert not presets_path(ckpt).exists()
