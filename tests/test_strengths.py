"""Face-part controls: identity at the defaults, each strength scales exactly the channels it names."""
from __future__ import annotations

import numpy as np
import pytest

from emotalk_blender.engine.arkit import ARKIT_NAMES, BLINK_CHANNELS, INDEX
from emotalk_blender.engine.direction.face_parts import (
    LOWER_FACE, UPPER_FACE, FaceControlError, FaceControls, finish, offset_eyelids, open_lips, scale_parts,
    smooth_parts,
)
from emotalk_blender.engine.motion.postprocess import blink_starts, insert_blinks, smooth
from released_demo import postprocess


@pytest.fixture(scope="module")
def raw() -> np.ndarray:
    """A network-like take: slow random curves in 0..0.6 on every channel, 400 frames."""
    rng = np.random.default_rng(7)
    x = np.cumsum(rng.normal(0, 0.03, (400, 52)), axis=0)
    return (0.3 + 0.3 * np.tanh(x)).astype(np.float32)


def test_groups_are_apples_and_cover_every_channel_once():
    upper = {ARKIT_NAMES[i] for i in UPPER_FACE}
    lower = {ARKIT_NAMES[i] for i in LOWER_FACE}
    assert not upper & lower and len(upper | lower) == 52
    assert {"browInnerUp", "eyeBlinkLeft", "eyeSquintRight", "cheekPuff", "cheekSquintLeft", "noseSneerLeft"} <= upper
    assert {"jawOpen", "mouthClose", "mouthSmileLeft", "mouthFunnel", "tongueOut"} <= lower
    assert len(upper) == 24 and len(lower) == 28


@pytest.mark.parametrize("smoothing,blinks,seed", [(True, True, 0), (True, False, 3), (False, True, 11),
                                                   (False, False, 0)])
def test_defaults_are_bit_identical_to_the_demo_post_processing(raw, smoothing, blinks, seed):
    got = finish(raw, FaceControls(), smoothing=smoothing, blinks=blinks, seed=seed)
    want = postprocess(raw, smoothing=smoothing, blinks=blinks, seed=seed)
    assert got.dtype == want.dtype and np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("upper,lower", [(0.5, 1.0), (1.0, 0.25), (1.7, 0.6), (0.0, 1.0), (1.0, 0.0), (0.0, 0.0)])
def test_strengths_scale_exactly_their_channels(raw, upper, lower):
    out = scale_parts(raw, upper, lower)
    np.testing.assert_array_equal(out[:, UPPER_FACE], raw[:, UPPER_FACE] * np.float32(upper))
    np.testing.assert_array_equal(out[:, LOWER_FACE], raw[:, LOWER_FACE] * np.float32(lower))
    if upper == 0:
        assert not out[:, UPPER_FACE].any()
    if lower == 0:
        assert not out[:, LOWER_FACE].any()


def test_zero_switches_a_part_off_in_the_whole_chain(raw):
    out = finish(raw, FaceControls(upper_face=0.0), blinks=False)
    assert not out[:, UPPER_FACE].any()
    np.testing.assert_array_equal(out[:, LOWER_FACE], smooth(raw)[:, LOWER_FACE])
    out = finish(raw, FaceControls(lower_face=0.0), blinks=True, seed=2)
    assert not out[:, LOWER_FACE].any()
    assert out[:, BLINK_CHANNELS].max() > 0.9  # blinks have their own strength


def test_lip_open_opens_the_jaw_but_keeps_closures(raw):
    y = raw.copy()
    jaw, close = INDEX["jawOpen"], INDEX["mouthClose"]
    y[:, close] = 0.0
    sealed = np.arange(0, 400, 10)
    y[sealed, close] = y[sealed, jaw]  # p/b/m: mouthClose cancels the jaw
    out = open_lips(y, 0.2)
    others = [i for i in range(52) if i != jaw]
    np.testing.assert_array_equal(out[:, others], y[:, others])
    np.testing.assert_allclose(out[sealed, jaw], y[sealed, jaw])
    free = np.setdiff1d(np.arange(400), sealed)
    np.testing.assert_allclose(out[free, jaw], np.clip(y[free, jaw] + 0.2, 0, 1), atol=1e-6)
    closed = open_lips(y, -1.0)
    assert (closed[:, jaw] >= np.minimum(y[:, close], y[:, jaw])).all() and closed[:, jaw].min() >= 0
    assert not closed[free, jaw].any()


def test_eyelid_offset_widens_or_lowers_the_lids_after_the_blinks(raw):
    blinked = insert_blinks(raw, 4)
    wide = offset_eyelids(blinked, 0.3)
    ew = [INDEX["eyeWideLeft"], INDEX["eyeWideRight"]]
    np.testing.assert_allclose(wide[:, ew], np.clip(blinked[:, ew] + 0.3, 0, 1))
    low = offset_eyelids(blinked, -0.2)
    np.testing.assert_allclose(low[:, BLINK_CHANNELS], np.clip(blinked[:, BLINK_CHANNELS] + 0.2, 0, 1))
    touched = set(ew) | set(BLINK_CHANNELS)
    rest = [i for i in range(52) if i not in touched]
    np.testing.assert_array_equal(low[:, rest], blinked[:, rest])
    assert low[:, BLINK_CHANNELS].max() > 0.95  # a blink still closes the eye
    out = finish(raw, FaceControls(eyelid=-0.2), seed=4)
    np.testing.assert_allclose(out[:, BLINK_CHANNELS], low[:, BLINK_CHANNELS])


def test_blink_strength_scales_the_curves_and_zero_removes_them(raw):
    full = finish(raw, FaceControls(), seed=5)
    half = finish(raw, FaceControls(blink_strength=0.5), seed=5)
    off = finish(raw, FaceControls(blink_strength=0.0), seed=5)
    np.testing.assert_allclose(half[:, BLINK_CHANNELS], 0.5 * full[:, BLINK_CHANNELS])
    assert not off[:, BLINK_CHANNELS].any()
    rest = [i for i in range(52) if i not in BLINK_CHANNELS]
    np.testing.assert_array_equal(half[:, rest], full[:, rest])


def test_smoothing_per_part(raw):
    up_off = smooth_parts(raw, 1, 5)
    np.testing.assert_array_equal(up_off[:, UPPER_FACE], raw[:, UPPER_FACE])
    np.testing.assert_allclose(up_off[:, LOWER_FACE], smooth(raw)[:, LOWER_FACE], atol=1e-7)
    low_off = smooth_parts(raw, 5, 1)
    np.testing.assert_array_equal(low_off[:, LOWER_FACE], raw[:, LOWER_FACE])
    np.testing.assert_allclose(low_off[:, UPPER_FACE], smooth(raw)[:, UPPER_FACE], atol=1e-7)
    np.testing.assert_array_equal(finish(raw, FaceControls(upper_smooth=1, lower_smooth=1), blinks=False), raw)


@pytest.mark.parametrize("kwargs,message", [
    ({"upper_face": -0.1}, "upper_face must lie in 0..2"),
    ({"lower_face": float("nan")}, "lower_face must lie in 0..2"),
    ({"lip_open": 1.5}, "lip_open must lie in -1..1"),
    ({"eyelid": -2}, "eyelid must lie in -1..1"),
    ({"blink_strength": 1.2}, "blink_strength must lie in 0..1"),
    ({"blink_rate": 0}, "blink_rate must lie in 0.1..4"),
    ({"upper_smooth": 4}, "upper_smooth must be an odd window"),
    ({"lower_smooth": 0}, "lower_smooth must be an odd window"),
    ({"lower_smooth": 2.0}, "lower_smooth must be an odd window"),
])
def test_bad_controls_are_one_line_errors(kwargs, message):
    with pytest.raises(FaceControlError, match=message) as err:
        FaceControls(**kwargs).validated()
    assert "\n" not in str(err.value)
    assert FaceControls().validated() == FaceControls()


def test_blink_rate_scales_the_gaps():
    frames = 30 * 60 * 10  # ten minutes: counts settle
    demo = blink_starts(frames, 1)
    assert blink_starts(frames, 1, 1.0) == demo
    for rate in (0.5, 2.0, 3.0):
        n = len(blink_starts(frames, 1, rate))
        assert 0.85 * rate < n / len(demo) < 1.15 * rate
    twice = finish(np.zeros((frames, 52), np.float32), FaceControls(blink_rate=2.0), seed=1, smoothing=False)
    starts = np.flatnonzero(np.diff((twice[:, BLINK_CHANNELS[0]] > 0).astype(int)) == 1)
    assert len(starts) == pytest.approx(len(blink_starts(frames, 1, 2.0)), abs=1)


def test_smoothing_window_per_part(raw):
    from emotalk_blender.engine.motion.postprocess import savgol

    out = smooth_parts(raw, 9, 3)
    np.testing.assert_allclose(out[:, UPPER_FACE], savgol(raw[:, UPPER_FACE], 9, 2), atol=1e-6)
    np.testing.assert_allclose(out[:, LOWER_FACE], savgol(raw[:, LOWER_FACE], 3, 2), atol=1e-6)
    wide = np.abs(np.diff(out[:, UPPER_FACE], axis=0)).mean()
    assert wide < np.abs(np.diff(smooth(raw)[:, UPPER_FACE], axis=0)).mean()  # a wider window is smoother
