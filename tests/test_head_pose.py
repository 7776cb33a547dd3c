"""Head pose from MediaPipe's facial transformation matrix (engine/capture/head_pose.py) and the
GRID capture's pose files (training/grid.py, from_video --pose-dir)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture_support import GRID, MODEL, needs_grid, needs_mediapipe
from emotalk_blender.engine.capture import head_pose


@settings(max_examples=200, deadline=None)
@given(st.floats(-80, 80), st.floats(-170, 170), st.floats(-170, 170))
def test_angles_invert_matrix(pitch, yaw, roll):
    m = np.eye(4)
    m[:3, :3] = head_pose.matrix(pitch, yaw, roll) * 1.07  # a little scale, as a similarity fit has
    assert np.allclose(head_pose.angles(m), [pitch, yaw, roll], atol=1e-6)


def test_signs_read_as_an_animator_expects():
    # camera axes: x image right (= the subject's left), y up, z toward the camera
    forward, up = 2, 1
    assert head_pose.matrix(20, 0, 0)[1, forward] > 0.3  # chin up: the face looks up
    assert head_pose.matrix(0, 20, 0)[0, forward] > 0.3  # yaw > 0: looks to the subject's left
    assert head_pose.matrix(0, 0, 20)[0, up] > 0.3  # roll > 0: the top of the head goes to the subject's left


def _frame(path, index=20):
    from emotalk_blender.engine.capture import video

    info = video.probe(path)
    for k, rgb in enumerate(video.frames(info)):
        if k == index:
            return rgb.copy()
    raise AssertionError("short video")


def _pose_of(rgb):
    from emotalk_blender.engine.capture.mediapipe_backend import load

    backend = load(MODEL, head_pose=True)
    try:
        assert backend.weights(rgb) is not None
        return head_pose.angles(backend.last_matrix)
    finally:
        backend.close()


def _rotate_clockwise(rgb, degrees):
    """The image turned clockwise as seen on screen (rows down, columns right), about its centre."""
    from scipy.ndimage import affine_transform

    h, w = rgb.shape[:2]
    a = np.radians(degrees)
    # clockwise on screen (rows down) takes (row, col) offsets p to [[c, s], [-s, c]] p; the output
    # samples the input at the inverse (transposed) map
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centre = np.array([h / 2, w / 2])
    out = np.empty_like(rgb)
    for c in range(3):
        out[..., c] = affine_transform(rgb[..., c], rot, offset=centre - rot @ centre, order=1)
    return out


def test_rotate_helper_turns_clockwise():
    img = np.zeros((101, 101, 3), np.uint8)
    img[10, 50] = 255  # a dot above the centre
    out = _rotate_clockwise(img, 90)
    r, c = np.unravel_index(out[..., 0].argmax(), out.shape[:2])
    assert abs(r - 50) <= 1 and c > 80  # clockwise: top goes right


@needs_mediapipe
@needs_grid
def test_roll_follows_an_image_turned_in_its_plane():
    rgb = _frame(GRID[0])
    base = _pose_of(rgb)
    # turned clockwise on screen, the top of the head goes to the image's right: the subject's left
    turned = _pose_of(_rotate_clockwise(rgb, 15))
    assert turned[2] - base[2] == pytest.approx(15, abs=3)
    assert abs(turned[0] - base[0]) < 4 and abs(turned[1] - base[1]) < 4
    back = _pose_of(_rotate_clockwise(rgb, -15))
    assert back[2] - base[2] == pytest.approx(-15, abs=3)


@needs_mediapipe
@needs_grid
def test_a_mirrored_face_has_yaw_and_roll_negated():
    rgb = _frame(GRID[1])
    base, mirrored = _pose_of(rgb), _pose_of(rgb[:, ::-1])
    assert mirrored[0] == pytest.approx(base[0], abs=2)
    assert mirrored[1] == pytest.approx(-base[1], abs=2)
    assert mirrored[2] == pytest.approx(-base[2], abs=2)


@needs_mediapipe
@needs_grid
def test_grid_capture_writes_pose_wav_and_corpus(tmp_path):
    import wave

    from emotalk_blender.training import grid
    from emotalk_blender.training.corpus import load_manifest

    root = tmp_path / "grid"
    (root / "data" / "s1").mkdir(parents=True)
    (root / "data" / "alignments" / "s1").mkdir(parents=True)
    for v in GRID:  # the fixtures as a stand-in speaker folder (a test of the tool, not training data)
        (root / "data" / "s1" / v.name).symlink_to(v)
        (root / "data" / "alignments" / "s1" / f"{v.stem}.align").write_text(
            "0 20000 sil\n20000 30000 bin\n30000 40000 blue\n40000 75000 sil\n")
    out = tmp_path / "out"
    grid.capture(root, out, MODEL, log=None)
    assert (out / "pose" / "DONE").exists()
    manifest = load_manifest(out / "corpus")
    for v in GRID:
        pose = np.load(out / "pose" / f"{v.stem}.npy")
        assert pose.dtype == np.float32 and pose.shape == (75, 3)  # 3 s at GRID's 25 fps
        assert np.all(np.abs(pose) < 45) and pose.std(axis=0).max() > 0.05  # a real head moves a little
        with wave.open(str(out / "wav" / f"{v.stem}.wav")) as w:
            assert (w.getframerate(), w.getnchannels()) == (16000, 1)
    assert {r["text"] for r in manifest["clips"]} == {"bin blue"}


def test_grid_alignment_units_and_held_out_split(tmp_path):
    from emotalk_blender.training import grid

    p = tmp_path / "x.align"
    p.write_text("0 23750 sil\n23750 29500 bin\n29500 34000 blue\n53000 74500 sil\n")
    words = grid.read_align(p)
    assert words[1] == (0.95, 1.18, "bin") and grid.sentence(words) == "bin blue"
    texts = [f"bin blue at {c} {d} now" for c in "abcdefghijklmnopqrstuvxyz" for d in range(10)]
    share = np.mean([grid.held_out(t) for t in texts])
    assert 0.06 < share < 0.2  # about HELD_OUT_FRACTION, decided by the text alone
    assert [grid.held_out(t) for t in texts] == [grid.held_out(t) for t in texts]
