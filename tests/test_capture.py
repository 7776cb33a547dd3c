"""Capture from video (engine/capture): real GRID faces through the real MediaPipe model, ffmpeg decoding,
faceless frames, 30 fps, the take's length, the CLI and each bad input."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from capture_support import GRID, MODEL, ffmpeg, loudness_envelope, needs_grid, needs_mediapipe
from emotalk_blender.engine.formats import livelinkface
from emotalk_blender.engine.arkit import ARKIT_NAMES, INDEX
from emotalk_blender.engine.capture import video
from emotalk_blender.engine.capture.base import CaptureError, load_capture_backend, parse_crop
from emotalk_blender.engine.capture.capture import capture_video, fill_faceless, to_take
from emotalk_blender.engine.cli.main import main
from emotalk_blender.engine.constants import frames_for_samples
from emotalk_blender.engine.motion.postprocess import smooth

JAW = INDEX["jawOpen"]
_captures: dict = {}


def captured(path, smooth_=True):
    """One MediaPipe capture per (video, smoothing), shared by the tests of this module."""
    key = (str(path), smooth_)
    if key not in _captures:
        backend = load_capture_backend("mediapipe", MODEL)
        try:
            _captures[key] = capture_video(str(path), backend, smooth=smooth_)
        finally:
            backend.close()
    return _captures[key]


@pytest.fixture(scope="module")
def faceless_gap(tmp_path_factory):
    """A GRID clip with the face covered by a black box from 1.0 s to 1.4 s (10 of its 75 frames)."""
    out = tmp_path_factory.mktemp("gap") / "gap.mp4"
    ffmpeg("-i", str(GRID[0]), "-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,1,1.39)'",
           "-c:v", "mpeg4", "-q:v", "2", "-c:a", "aac", str(out))
    return out


@pytest.fixture(scope="module")
def bad_videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    ffmpeg("-i", str(GRID[0]), "-an", "-c:v", "copy", str(d / "silent.mpg"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2", "-f", "lavfi", "-i", "sine=f=440:d=2",
           "-shortest", "-c:v", "mpeg4", "-c:a", "aac", str(d / "noface.mp4"))
    (d / "notes.mp4").write_text("not a video\n")
    return d


# --- no model needed ------------------------------------------------------------------------------
def test_fill_faceless_interpolates_and_holds_edges():
    values = np.array([[0.0], [0.0], [1.0], [0.0], [3.0], [0.0]], np.float32)
    found = np.array([False, True, True, False, True, False])
    out = fill_faceless(values, found)
    np.testing.assert_allclose(out[:, 0], [0.0, 0.0, 1.0, 2.0, 3.0, 3.0])


def test_to_take_converts_25fps_to_30fps_on_the_audio_clock():
    info = video.VideoInfo(path="x", width=1, height=1, fps=25.0, fps_text="25/1", frames=75, duration=3.0,
                           start=0.0, has_audio=True)
    ramp = np.repeat((np.arange(75) / 25.0)[:, None], 52, axis=1).astype(np.float32) / 3.0  # value = time / 3 s
    audio = np.zeros(47_000, np.float32)
    take = to_take(ramp, info, audio, smooth=False)
    assert take.shape == (frames_for_samples(len(audio)), 52)
    t = np.arange(len(take)) / 30.0
    inside = t <= 74 / 25
    np.testing.assert_allclose(take[inside, 0], t[inside] / 3.0, atol=1e-6)
    assert np.all(take[~inside, 0] == pytest.approx(74 / 25 / 3.0))  # past the last frame: held


def test_probe_reads_rate_length_and_audio():
    info = video.probe(GRID[0])
    assert (info.width, info.height, info.fps, info.frames, info.has_audio) == (360, 288, 25.0, 75, True)
    frames = list(video.frames(info))
    assert len(frames) == 75 and frames[0].shape == (288, 360, 3) and frames[0].dtype == np.uint8
    audio = video.read_audio(info)
    assert audio.dtype == np.float32 and abs(len(audio) / 16000 - 2.95) < 0.03


def test_parse_crop():
    assert parse_crop("10,20,100,120") == (10, 20, 100, 120)
    assert parse_crop("") is None
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,5"):
        with pytest.raises(ValueError):
            parse_crop(bad)


# --- real faces, real MediaPipe ------------------------------------------------------------------
@needs_mediapipe
@needs_grid
@pytest.mark.parametrize("clip", GRID, ids=lambda p: p.stem)
def test_jaw_follows_the_syllables_and_length_is_the_audios(clip):
    cap = captured(clip)
    assert cap.audio is not None
    assert cap.weights.shape == (frames_for_samples(len(cap.audio)), 52)  # T = ceil(N / 16000 * 30)
    assert cap.faceless == 0 and cap.video_frames == 75
    r = np.corrcoef(cap.weights[:, JAW], loudness_envelope(cap.audio, len(cap.weights)))[0, 1]
    print(f"{clip.stem}: corr(jawOpen, loudness) = {r:.3f}")
    assert r > 0.5  # measured 0.69 (lwbsza) and 0.66 (pwij3p)
    # 51 channels come from MediaPipe; tongueOut is not among them and stays 0
    assert np.all(cap.weights[:, INDEX["tongueOut"]] == 0) and cap.missing_channels == ("tongueOut",)
    moving = [n for n in ARKIT_NAMES if cap.weights[:, INDEX[n]].max() > 0]
    assert len(moving) >= 45
    assert cap.weights.min() >= 0 and cap.weights.max() <= 1


@needs_mediapipe
@needs_grid
def test_smoothing_is_the_savgol_step_and_switchable():
    raw, smoothed = captured(GRID[0], False), captured(GRID[0], True)
    np.testing.assert_allclose(smoothed.weights, np.clip(smooth(raw.weights), 0, 1), atol=1e-6)
    assert not np.allclose(raw.weights, smoothed.weights)


@needs_mediapipe
@needs_grid
def test_frames_without_a_face_are_filled_and_counted(faceless_gap):
    cap = captured(faceless_gap, False)
    assert 9 <= cap.faceless <= 11
    assert "without a face" in cap.report()
    # between the last face before the box (0.96 s) and the first after it (1.40 s) the take is one
    # straight line: 30 fps frames 29..42, whose second differences vanish
    jaw = cap.weights[29:43, JAW]
    assert np.abs(np.diff(jaw, 2)).max() < 1e-5
    assert np.abs(np.diff(cap.weights[:29, JAW], 2)).max() > 1e-3  # elsewhere it moves


@needs_mediapipe
@needs_grid
def test_cli_writes_npy_csv_and_folders(tmp_path, capsys):
    one = tmp_path / "one.npy"
    assert main(["capture", str(GRID[0]), "-o", str(one), "--capture-model", str(MODEL)]) == 0
    np.testing.assert_allclose(np.load(one), captured(GRID[0]).weights, atol=1e-6)
    err = capsys.readouterr().err
    assert "0 without a face" in err and "tongueOut not captured" in err
    csv = tmp_path / "one.csv"
    assert main(["capture", str(GRID[0]), "-o", str(csv), "--capture-model", str(MODEL), "--no-smooth"]) == 0
    np.testing.assert_allclose(livelinkface.read_csv(csv), captured(GRID[0], False).weights, atol=1e-3)
    out = tmp_path / "many"
    assert main(["capture", *map(str, GRID), "-o", str(out), "--capture-model", str(MODEL)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{c.stem}.npy" for c in GRID)


# --- bad input: one line each, nothing written ---------------------------------------------------
def _fails(capsys, tmp_path, *args) -> str:
    out = tmp_path / "out"
    code = main(["capture", *map(str, args), "-o", str(out / "take.npy")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1, err
    assert not out.exists() or not any(out.iterdir())  # nothing left behind
    return err


@needs_mediapipe
@needs_grid
def test_video_without_a_face(bad_videos, tmp_path, capsys):
    err = _fails(capsys, tmp_path, bad_videos / "noface.mp4", "--capture-model", MODEL)
    assert "noface.mp4: no face found in any of its 50 frames" in err


@needs_mediapipe
@needs_grid
def test_video_without_audio_still_captures(bad_videos, tmp_path, capsys):
    out = tmp_path / "silent.npy"
    assert main(["capture", str(bad_videos / "silent.mpg"), "-o", str(out), "--capture-model", str(MODEL)]) == 0
    assert "no audio track" in capsys.readouterr().err
    assert np.load(out).shape == (90, 52)  # 75 frames at 25 fps = 3 s = 90 frames at 30 fps


def test_unreadable_and_missing_video(bad_videos, tmp_path, capsys):
    err = _fails(capsys, tmp_path, bad_videos / "notes.mp4", "--capture-model", MODEL)
    assert "notes.mp4: not a readable video" in err
    err = _fails(capsys, tmp_path, tmp_path / "nope.mp4", "--capture-model", MODEL)
    assert "nope.mp4: no such video file" in err


def test_batch_outputs_that_collide_are_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "takes"
    assert main(["capture", str(tmp_path / "a" / "x.mp4"), str(tmp_path / "b" / "x.mp4"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "would both write" in err and "x.npy" in err and not out.exists()


@needs_grid
def test_missing_model_file(tmp_path, capsys):
    err = _fails(capsys, tmp_path, GRID[0], "--capture-model", tmp_path / "face_landmarker.task")
    assert "face_landmarker.task: no such MediaPipe model file" in err
    err = _fails(capsys, tmp_path, GRID[0])
    assert "no MediaPipe model file given" in err


@needs_grid
def test_mediapipe_not_installed_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['mediapipe'] = None\n"  # as in a Python without the package
            "from emotalk_blender.engine.cli.main import main\n"
            f"sys.exit(main(['capture', {str(GRID[0])!r}, '-o', {str(tmp_path / 'x.npy')!r}, "
            f"'--capture-model', {str(MODEL)!r}]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0
    assert "mediapipe package is not installed" in run.stderr and "Install MediaPipe" in run.stderr
    assert not (tmp_path / "x.npy").exists()


def test_capture_error_is_an_emotalk_error():
    from emotalk_blender.engine.errors import EmoTalkError

    assert issubclass(CaptureError, EmoTalkError)


def test_install_mediapipe_keeps_the_hosts_numpy():
    from emotalk_blender.engine.capture.install import mediapipe_requirements

    assert mediapipe_requirements("1.26.4") == ["mediapipe==1.2.3", "numpy==1.26.4", "opencv-contrib-python==4.11.0.86"]
    assert mediapipe_requirements("2.3.1") == ["mediapipe==1.2.3", "numpy==2.3.1"]


@needs_mediapipe
@needs_grid
def test_resnet_backend_crops_to_the_face_mediapipe_finds():
    """--face-model: the resnet backend sees the detected face (a box inside the frame), not the centre square."""
    pytest.importorskip("torch")
    backend = load_capture_backend("resnet", None, face_model=MODEL)
    try:
        rgb = next(video.frames(video.probe(GRID[0])))
        h, w = rgb.shape[:2]
        x, y, bw, bh = backend.box(rgb)
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h and bw < w  # a face box, not the frame
        assert backend.box(np.zeros_like(rgb)) is None  # no face: no crop, the frame counts as faceless
        assert backend.weights(np.zeros_like(rgb)) is None
    finally:
        backend.close()
