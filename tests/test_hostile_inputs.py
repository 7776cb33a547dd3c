"""Issue 24, engine and command line: the hostile-but-fair cases of the newer features (directing, capture,
presets, Live Link Face). Each answers with one line naming the file or flag and the problem, a non-zero
exit, and nothing written or changed. (The Blender cases are in test_blender_hostile_inputs.py.)
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from capture_support import GRID, MODEL, needs_grid, needs_mediapipe
from helpers import write_wav
from emotalk_blender.engine.formats import livelinkface
from emotalk_blender.engine.errors import EmoTalkError

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, env=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "emotalk_blender", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The single ``error: ...`` line a failed run prints (no traceback, no warning, nothing else)."""
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("error: "), lines
    return lines[0][len("error: "):]


def listing(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def silent_wav(tmp_path_factory) -> Path:
    return write_wav(tmp_path_factory.mktemp("silence") / "silent.wav", np.zeros(32000, np.float32), 16000)


# --- directing flags -----------------------------------------------------------------------------
def test_an_emotion_track_time_beyond_float_range_is_one_line(tmp_path, speech_wav, tiny_checkpoint):
    out = tmp_path / "take.npy"
    err = one_line_error(cli("generate", speech_wav, "-o", out, "--checkpoint", tiny_checkpoint,
                             "--emotion-track", "0:happy,1e308:angry"))
    assert err.startswith("--emotion-track 0:happy,1e308:angry: time 1e308") and "seconds" in err, err
    assert not out.exists()


def test_an_emotion_reference_mix_of_nan_names_the_mix(tmp_path, speech_wav, tiny_checkpoint):
    err = one_line_error(cli("generate", speech_wav, "-o", tmp_path / "t.npy", "--checkpoint", tiny_checkpoint,
                             "--emotion-ref", f"{speech_wav}:nan"))
    assert err == f"--emotion-ref {speech_wav}:nan: emotion mix must lie in 0..1, got nan", err


def test_a_negative_seed_names_the_flag(tmp_path, speech_wav, tiny_checkpoint):
    err = one_line_error(cli("generate", speech_wav, "-o", tmp_path / "t.npy", "--checkpoint", tiny_checkpoint,
                             "--seed", "-5"))
    assert err.startswith("--seed") and "-5" in err, err
    assert not (tmp_path / "t.npy").exists()


@pytest.mark.parametrize("flag, says", [("--seed=-5", "--seed"),
                                         ("--emotion-track=0:happy,1e308:angry", "--emotion-track"),
                                         ("--resolution=-3", "--resolution")])
def test_bake_flags_are_checked_before_any_scene_work(tmp_path, speech_wav, tiny_checkpoint, flag, says):
    pytest.importorskip("bpy")
    out = tmp_path / "take.blend"
    err = one_line_error(cli("bake", speech_wav, "-o", out, "--checkpoint", tiny_checkpoint, flag,
                             "--preview", tmp_path / "p.mp4"))
    assert err.startswith(says), err
    assert not out.exists()


# --- presets -------------------------------------------------------------------------------------
def test_presets_for_the_shipped_model_never_write_inside_the_package(tmp_path, speech_wav):
    """No -o, no --checkpoint: the presets go to the user folder (said), the shipped file stays as it is."""
    from emotalk_blender.engine import paths
    from emotalk_blender.engine.direction.presets_file import load_presets, presets_path

    shipped = presets_path(paths.default_checkpoint())
    before = shipped.read_bytes()
    user = tmp_path / "user"
    try:
        r = cli("presets", f"happy={speech_wav}", env={"EMOTALK_USER_DIR": str(user)})
        changed = shipped.read_bytes() != before
    finally:
        if shipped.read_bytes() != before:  # the old code wrote into the package: put it back
            shipped.write_bytes(before)
    assert not changed, "the presets beside the shipped model were rewritten"
    assert r.returncode == 0, r.stderr
    made = list(user.rglob("*.presets.npz"))
    assert len(made) == 1 and str(made[0]) in r.stderr, r.stderr  # says where
    presets = load_presets(made[0])
    shipped_presets = load_presets(shipped)
    assert set(presets.features) == set(shipped_presets.features)  # the shipped emotions kept ...
    assert not np.allclose(presets.features["happy"], shipped_presets.features["happy"])  # ... happy is the user's


def test_presets_refuse_silence(tmp_path, silent_wav, tiny_checkpoint):
    ckpt = tmp_path / "mine.pt"
    shutil.copy(tiny_checkpoint, ckpt)
    before = listing(tmp_path)
    err = one_line_error(cli("presets", f"happy={silent_wav}", "--checkpoint", ckpt))
    assert str(silent_wav) in err and "silent" in err, err
    assert listing(tmp_path) == before


def test_presets_onto_an_existing_take_are_refused(tmp_path, speech_wav, tiny_checkpoint):
    take = tmp_path / "take.npy"
    np.save(take, np.zeros((10, 52), np.float32))
    before = listing(tmp_path)
    err = one_line_error(cli("presets", f"happy={speech_wav}", "--checkpoint", tiny_checkpoint, "-o", take))
    assert err.startswith(f"{take}: ") and "presets" in err, err
    assert listing(tmp_path) == before


def test_a_plain_array_presets_file_beside_the_checkpoint_is_one_line(tmp_path, speech_wav, tiny_checkpoint):
    ckpt = tmp_path / "mine.pt"
    shutil.copy(tiny_checkpoint, ckpt)
    plain = tmp_path / "mine.presets.npz"
    with open(plain, "wb") as fh:
        np.save(fh, np.zeros((7, 4), np.float32))  # an .npy under the presets name
    before = listing(tmp_path)
    err = one_line_error(cli("presets", f"happy={speech_wav}", "--checkpoint", ckpt))
    assert err.startswith(f"{plain}: not an emotion presets file"), err
    err = one_line_error(cli("generate", speech_wav, "-o", tmp_path / "t.npy", "--checkpoint", ckpt,
                             "--emotion", "happy"))
    assert err.startswith(f"{plain}: not an emotion presets file"), err
    assert listing(tmp_path) == before


def test_presets_of_another_feature_size_are_named_before_work(tmp_path, speech_wav, tiny_checkpoint):
    from emotalk_blender.engine.direction.presets_file import Presets, save_presets

    ckpt = tmp_path / "mine.pt"
    shutil.copy(tiny_checkpoint, ckpt)
    other = tmp_path / "mine.presets.npz"
    save_presets(other, Presets({"sad": np.ones(5, np.float32)}, {"format": 1}))
    before = listing(tmp_path)
    err = one_line_error(cli("presets", f"happy={speech_wav}", "--checkpoint", ckpt))
    assert err.startswith(f"{other}: ") and "5 features" in err, err
    assert listing(tmp_path) == before


# --- capture -------------------------------------------------------------------------------------
@needs_grid
def test_a_crop_outside_the_video_is_refused_before_any_frame(tmp_path):
    """GRID is 360x288: a crop at 1000,1000 holds no pixel of it (mediapipe: native RET_CHECK tracebacks)."""
    for backend in ("mediapipe", "resnet"):
        out = tmp_path / backend / "take.npy"
        extra = ("--capture-model", MODEL) if backend == "mediapipe" else ()
        err = one_line_error(cli("capture", GRID[0], "-o", out, "--backend", backend, *extra,
                                 "--crop", "1000,1000,50,50"))
        assert err.startswith("--crop 1000,1000,50,50: ") and GRID[0].name in err and "360x288" in err, err
        assert not out.parent.exists()


def test_a_crop_larger_than_the_frame_is_clamped_to_it():
    """--crop 0,0,100000,100000 cut a 100000x100000 image of each frame (27.9 GiB)."""
    pytest.importorskip("torch")
    from emotalk_blender.engine.capture.base import load_capture_backend

    backend = load_capture_backend("resnet", crop=(0, 0, 100000, 100000))
    try:
        assert backend.box(np.zeros((288, 360, 3), np.uint8)) == (0, 0, 360, 288)
    finally:
        backend.close()


@needs_grid
def test_a_huge_crop_captures_as_the_whole_frame_and_says_so(tmp_path):
    pytest.importorskip("torch")
    huge, whole = tmp_path / "huge.npy", tmp_path / "whole.npy"
    r = cli("capture", GRID[0], "-o", huge, "--backend", "resnet", "--crop", "0,0,100000,100000")
    assert r.returncode == 0, r.stderr
    assert "--crop clamped to the 360x288 frame: 0,0,360,288" in r.stderr
    assert cli("capture", GRID[0], "-o", whole, "--backend", "resnet", "--crop", "0,0,360,288").returncode == 0
    np.testing.assert_array_equal(np.load(huge), np.load(whole))


@needs_mediapipe
@needs_grid
def test_capture_to_an_output_that_is_neither_npy_nor_csv_is_refused(tmp_path):
    out = tmp_path / "out.txt"
    err = one_line_error(cli("capture", GRID[0], "-o", out, "--capture-model", MODEL))
    assert err.startswith(f"{out}: ") and ".npy" in err and ".csv" in err, err
    assert not out.exists()


# --- Live Link Face --------------------------------------------------------------------------------
def test_write_csv_refuses_a_zero_timecode_rate(tmp_path):
    out = tmp_path / "t.csv"
    with pytest.raises(EmoTalkError, match="timecode rate 0"):
        livelinkface.write_csv(out, np.zeros((4, 52), np.float32), timecode_fps=0)
    assert not out.exists()


def _csv(path: Path, timecodes, value="0.5", sep=",") -> Path:
    rows = [sep.join(livelinkface.HEADER)]
    for tc in timecodes:
        rows.append(sep.join([tc, "61", *([value] * 52), *(["0"] * 9)]))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_timecode_frames_above_every_rate_name_the_file(tmp_path):
    path = _csv(tmp_path / "fast.csv", [f"00:00:01:{f:02d}.000" for f in range(0, 91, 3)])
    with pytest.raises(EmoTalkError) as err:
        livelinkface.read_csv(path)
    assert str(err.value).startswith(f"{path}: ") and "90" in str(err.value)


def test_a_semicolon_separated_csv_says_so(tmp_path):
    path = _csv(tmp_path / "semi.csv", ["00:00:01:00.000", "00:00:01:02.000"], sep=";")
    with pytest.raises(EmoTalkError) as err:
        livelinkface.read_csv(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and "semicolon" in text[len(str(path)):], text


def test_a_huge_csv_value_is_named_without_a_numpy_warning(tmp_path):
    path = _csv(tmp_path / "huge.csv", ["00:00:01:00.000", "00:00:01:02.000"], value="1e300")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow RuntimeWarning fails the test
        with pytest.raises(EmoTalkError) as err:
            livelinkface.read_csv(path)
    text = str(err.value)
    assert text.startswith(f"{path}: row 2: ") and "EyeBlinkLeft" in text and "1e+300" in text, text
