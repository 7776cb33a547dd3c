"""Issue 13 on the engine and the command line: nothing lost, one line instead of a traceback, every
check made before work. Each case asserts the message, the exit code and the files on disk.

Full disk and read-only folders are real (a tiny tmpfs, ``fs_support``); the CLI runs as a user
runs it, in a subprocess.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fs_support import listing, tmpfs
from emotalk_blender.engine.errors import EmoTalkError

ROOT = Path(__file__).resolve().parent.parent
OLD = b"an existing file that must survive"


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "emotalk_blender", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, timeout=600)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The single ``error: ...`` line a failed run prints (no traceback, nothing else)."""
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("error: "), lines
    return lines[0][len("error: "):]


# --- generate: outputs ---------------------------------------------------------------------------
def test_generate_onto_a_full_disk_keeps_the_old_file(tmp_path, speech_wav, tiny_checkpoint):
    with tmpfs(tmp_path / "disk", "8k", {"take.npy": OLD}) as disk:
        proc = cli("generate", speech_wav, "-o", disk / "take.npy", "--checkpoint", tiny_checkpoint)
        assert one_line_error(proc) == f"{disk / 'take.npy'}: cannot write (disk full)"
        assert listing(disk) == ["take.npy"] and (disk / "take.npy").read_bytes() == OLD


def test_generate_into_a_read_only_folder_fails_before_work(tmp_path, speech_wav):
    with tmpfs(tmp_path / "ro", "64k", read_only=True) as ro:
        # the checkpoint does not exist: the output check comes first, before any model or audio is read
        proc = cli("generate", speech_wav, "-o", ro / "take.npy", "--checkpoint", tmp_path / "none.pt")
        assert one_line_error(proc) == f"{ro / 'take.npy'}: cannot write (read-only file system)"
        assert listing(ro) == []


def test_generate_several_inputs_onto_an_existing_file(tmp_path, speech_wav):
    out = tmp_path / "take.npy"
    out.write_bytes(OLD)
    proc = cli("generate", speech_wav, speech_wav, "-o", out)
    assert one_line_error(proc) == f"{out}: is a file, but 2 inputs need a folder here (one .npy per input)"
    assert out.read_bytes() == OLD and listing(tmp_path) == ["take.npy"]


def test_generate_refuses_colliding_names(tmp_path, speech_wav):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.wav").write_bytes(Path(speech_wav).read_bytes())
    proc = cli("generate", "a/x.wav", "b/x.wav", "-o", "out/", cwd=tmp_path)
    assert one_line_error(proc) == "a/x.wav and b/x.wav would both write out/x.npy; give them different names"
    assert listing(tmp_path) == ["a", "b"]


def test_generate_checks_every_input_before_the_first(tmp_path, speech_wav, tiny_checkpoint):
    proc = cli("generate", speech_wav, tmp_path / "gone.wav", "-o", tmp_path / "out", "--checkpoint", tiny_checkpoint)
    assert one_line_error(proc) == f"{tmp_path / 'gone.wav'}: no such audio file"
    assert listing(tmp_path) == []  # the first input was not generated either


def test_empty_audio_path(tmp_path):
    proc = cli("generate", "", "-o", tmp_path / "x.npy")
    assert one_line_error(proc) == "no audio file chosen"
    assert listing(tmp_path) == []


# --- generate: controls and devices -------------------------------------------------------------
@pytest.mark.parametrize("flag, message", [
    ("--person=-1:1", "--person -1:1: style index -1 is out of range 0..23"),
    ("--person=-1", "--person -1: style index -1 is out of range 0..23"),
    ("--person=30:1", "--person 30:1: style index 30 is out of range 0..23"),
    ("--person=3:nan", "--person 3:nan: weight nan of style 3 is not a finite non-negative number"),
    ("--level=nan", "--level must lie in 0..1, got nan"),
])
def test_bad_controls_are_one_line_before_work(tmp_path, speech_wav, flag, message):
    proc = cli("generate", speech_wav, "-o", tmp_path / "x.npy", flag, "--checkpoint", tmp_path / "none.pt")
    assert one_line_error(proc) == message
    assert listing(tmp_path) == []


def _has(device: str) -> bool:
    import torch

    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        return torch.cuda.is_available() and index < torch.cuda.device_count()
    return torch.backends.mps.is_available()


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps"])
def test_missing_device_lists_what_there_is(tmp_path, speech_wav, device):
    pytest.importorskip("torch")
    if _has(device):
        pytest.skip(f"this machine has {device}")
    from emotalk_blender.engine.network.devices import available_devices

    proc = cli("generate", speech_wav, "-o", tmp_path / "x.npy", "--device", device,
               "--checkpoint", tmp_path / "none.pt")
    assert one_line_error(proc) == (f"device {device!r} is not available on this machine; "
                                    f"available here: {', '.join(available_devices())}")
    assert listing(tmp_path) == []


# --- exports -------------------------------------------------------------------------------------
def _overshooting_take() -> np.ndarray:
    rng = np.random.default_rng(0)
    take = rng.uniform(0, 1, (40, 52)).astype(np.float32)
    take[3, 0], take[5, 7], take[9, 51] = -0.09, 1.2, -0.5
    return take


def test_csv_export_clamps_npy_export_keeps_raw(tmp_path):
    from emotalk_blender.engine.formats import livelinkface, motion_io

    take = _overshooting_take()
    livelinkface.write_csv(tmp_path / "t.csv", take)
    motion_io.save_motion_npy(tmp_path / "t.npy", take)
    rows = [line.split(",") for line in (tmp_path / "t.csv").read_text().splitlines()[1:]]
    values = np.array([[float(v) for v in row[2:54]] for row in rows])
    assert values.min() == 0.0 and values.max() == 1.0  # clamped in the CSV
    np.testing.assert_allclose(livelinkface.read_csv(tmp_path / "t.csv")[:, :], np.clip(take, 0, 1), atol=1e-6)
    np.testing.assert_array_equal(motion_io.load_motion_npy(tmp_path / "t.npy"), take)  # raw in .npy


@pytest.mark.parametrize("kind", ["csv", "npy"])
def test_export_onto_a_full_disk_keeps_the_old_file(tmp_path, kind):
    from emotalk_blender.engine.formats import livelinkface, motion_io

    write = livelinkface.write_csv if kind == "csv" else motion_io.save_motion_npy
    big = np.random.default_rng(1).uniform(0, 1, (900, 52)).astype(np.float32)  # 30 s: > 64 kB either way
    with tmpfs(tmp_path / "disk", "64k", {f"take.{kind}": OLD}) as disk:
        with pytest.raises(EmoTalkError) as err:
            write(disk / f"take.{kind}", big)
        assert str(err.value) == f"{disk / f'take.{kind}'}: cannot write (disk full)"
        assert listing(disk) == [f"take.{kind}"] and (disk / f"take.{kind}").read_bytes() == OLD


def test_export_into_a_read_only_folder(tmp_path):
    from emotalk_blender.engine.formats import livelinkface

    with tmpfs(tmp_path / "ro", "64k", {"take.csv": OLD}, read_only=True) as ro:
        with pytest.raises(EmoTalkError) as err:
            livelinkface.write_csv(ro / "take.csv", _overshooting_take())
        assert str(err.value) == f"{ro / 'take.csv'}: cannot write (read-only file system)"
        assert (ro / "take.csv").read_bytes() == OLD


# --- other outputs: point caches, checkpoints ------------------------------------------------------
@pytest.mark.parametrize("fmt", ["pc2", "mdd", "npy"])
def test_point_cache_on_a_full_disk(tmp_path, fmt):
    from emotalk_blender.engine.formats import pointcache

    write = {"pc2": pointcache.write_pc2, "mdd": pointcache.write_mdd, "npy": pointcache.save_npy}[fmt]
    verts = np.zeros((30, 1000, 3), np.float32)  # 360 kB
    with tmpfs(tmp_path / "disk", "64k", {f"head.{fmt}": OLD}) as disk:
        with pytest.raises(EmoTalkError) as err:
            write(disk / f"head.{fmt}", verts)
        assert str(err.value) == f"{disk / f'head.{fmt}'}: cannot write (disk full)"
        assert listing(disk) == [f"head.{fmt}"] and (disk / f"head.{fmt}").read_bytes() == OLD


def test_checkpoint_on_a_full_disk(tmp_path):
    pytest.importorskip("torch")
    from emotalk_blender.engine.network.checkpoint import save_checkpoint
    from helpers import random_small_model

    model = random_small_model()
    with tmpfs(tmp_path / "disk", "64k", {"model.pt": OLD}) as disk:
        with pytest.raises(EmoTalkError) as err:
            save_checkpoint(model, disk / "model.pt")
        assert str(err.value) == f"{disk / 'model.pt'}: cannot write (disk full)"
        assert listing(disk) == ["model.pt"] and (disk / "model.pt").read_bytes() == OLD


# --- long files ----------------------------------------------------------------------------------
def _long_stereo(path: Path, seconds: float, rate: int = 48000) -> Path:
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 2, "PCM_16") as f:
        for start in range(0, int(seconds * rate), rate * 10):
            t = np.arange(start, min(int(seconds * rate), start + rate * 10)) / rate
            x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
            f.write(np.stack([x, 0.5 * x], 1))
    return path


def test_block_decoding_equals_the_whole_file(tmp_path):
    from emotalk_blender.engine.audio import decoding as audio

    path = _long_stereo(tmp_path / "long.wav", 7.3)  # several blocks of BLOCK_FRAMES, not a whole one last
    whole, rate = audio.decode(str(path), "soundfile")
    want = audio.to_mono_16k(whole, rate)
    for decoder in ("soundfile", "wave"):
        got = audio.load_audio(path, decoder=decoder)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


_PEAK = """
import resource, sys
import numpy as np
import soundfile
from emotalk_blender.engine.audio.decoding import load_audio
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
x = load_audio(sys.argv[1])
print(x.size, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_reading_a_long_file_costs_a_window_not_the_file(tmp_path):
    """3 minutes of 48 kHz stereo: 69 MB as float32; reading it may grow memory by the 16 kHz
    result (11.5 MB) and a window, not by the decoded file."""
    path = _long_stereo(tmp_path / "long.wav", 180)
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    samples, base_kb, peak_kb = (int(v) for v in proc.stdout.split())
    assert samples == 180 * 16000
    decoded_mb = 180 * 48000 * 2 * 4 / 1e6
    grown_mb = (peak_kb - base_kb) / 1024
    assert grown_mb < 40, f"reading grew memory by {grown_mb:.0f} MB (the decoded file is {decoded_mb:.0f} MB)"
