"""Procedural gaze: in range, both eyes together, reproducible from its seed, still during blinks."""
from __future__ import annotations

import numpy as np
import pytest

from emotalk_blender.engine.arkit import BLINK_CHANNELS, INDEX
from emotalk_blender.engine.constants import FPS
from emotalk_blender.engine.direction.face_parts import FaceControls, finish
from emotalk_blender.engine.direction.gaze import EYE_LOOK, GazeError, add_gaze, gaze_path, held_frames
from emotalk_blender.engine.motion.postprocess import insert_blinks


@pytest.fixture(scope="module")
def take() -> np.ndarray:
    """60 s of network-like output with the demo's blinks in it."""
    rng = np.random.default_rng(1)
    x = (0.2 + 0.1 * np.tanh(np.cumsum(rng.normal(0, 0.03, (60 * FPS, 52)), axis=0))).astype(np.float32)
    x[:, EYE_LOOK] *= 0.05  # the network leaves eyeLook near zero
    return insert_blinks(x, 3)


def _look(w: np.ndarray, name: str) -> np.ndarray:
    return w[:, INDEX[name]]


def test_gaze_is_within_range_and_only_on_eye_look(take):
    out = add_gaze(take, 1.0, seed=0)
    look = out[:, EYE_LOOK]
    assert look.min() >= 0.0 and look.max() <= 1.0
    rest = [i for i in range(52) if i not in EYE_LOOK]
    np.testing.assert_array_equal(out[:, rest], take[:, rest])
    assert look.std(axis=0).max() > 0.05  # it does move


def test_both_eyes_look_the_same_way():
    out = add_gaze(np.zeros((30 * FPS, 52), np.float32), 1.0, seed=5)
    np.testing.assert_array_equal(_look(out, "eyeLookOutLeft"), _look(out, "eyeLookInRight"))
    np.testing.assert_array_equal(_look(out, "eyeLookInLeft"), _look(out, "eyeLookOutRight"))
    np.testing.assert_array_equal(_look(out, "eyeLookUpLeft"), _look(out, "eyeLookUpRight"))
    np.testing.assert_array_equal(_look(out, "eyeLookDownLeft"), _look(out, "eyeLookDownRight"))
    assert not (_look(out, "eyeLookOutLeft") * _look(out, "eyeLookInLeft")).any()  # never left and right at once
    assert not (_look(out, "eyeLookUpLeft") * _look(out, "eyeLookDownLeft")).any()
    assert _look(out, "eyeLookOutLeft").max() > 0 and _look(out, "eyeLookInLeft").max() > 0


def test_reproducible_from_its_seed(take):
    a, b, c = add_gaze(take, 0.8, seed=42), add_gaze(take, 0.8, seed=42), add_gaze(take, 0.8, seed=43)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.05


def test_never_moves_during_a_blink(take):
    held = held_frames(take)
    assert held.sum() > 20  # the take has blinks
    out = add_gaze(take, 1.0, seed=9)[:, EYE_LOOK]
    step = np.abs(np.diff(out, axis=0)).max(axis=1)
    assert not step[held[1:]].any()  # frame t held: no change from t - 1
    assert step[~held[1:]].max() > 0.01


def test_saccades_are_quick_jumps_between_fixations():
    path = gaze_path(120 * FPS, seed=3)
    speed = np.hypot(*np.diff(path, axis=0).T) * FPS  # degrees per second
    fast = speed > 30
    assert 0.01 < fast.mean() < 0.2  # most of the time the eyes fixate (with slow drift)
    starts = np.flatnonzero(fast[1:] & ~fast[:-1])
    assert 60 < len(starts) < 300  # fixations last 0.2 s to a few seconds (mean about 0.9 s)
    assert np.abs(path).max() < 20


def test_off_by_default_and_strength_checked(take):
    np.testing.assert_array_equal(finish(take, FaceControls(), blinks=False, smoothing=False), take)
    np.testing.assert_array_equal(add_gaze(take, 0.0, seed=1), take)
    weak, strong = add_gaze(np.zeros_like(take), 0.3, 0), add_gaze(np.zeros_like(take), 0.9, 0)
    np.testing.assert_allclose(weak[:, EYE_LOOK] * 3, strong[:, EYE_LOOK], atol=1e-6)
    with pytest.raises(GazeError, match="gaze must lie in 0..1"):
        add_gaze(take, 1.5, 0)


def test_finish_adds_gaze_after_the_blinks(take):
    out = finish(take, FaceControls(), smoothing=False, blinks=True, seed=3, gaze_strength=0.7, gaze_seed=8)
    np.testing.assert_array_equal(out, add_gaze(insert_blinks(take, 3), 0.7, 8))
    assert held_frames(out).sum() == held_frames(take).sum()
    assert out[:, BLINK_CHANNELS].max() > 0.9
