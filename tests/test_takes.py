"""Takes as data (no bpy): resampling onto another frame rate or time grid, and the gain mix."""
from __future__ import annotations

import numpy as np
import pytest

from emotalk_blender.engine.motion import takes
from emotalk_blender.engine.arkit import ARKIT_NAMES, INDEX


def _take(t=61, seed=0):
    return np.random.default_rng(seed).random((t, len(ARKIT_NAMES)), dtype=np.float32)


def test_same_rate_is_the_identity():
    weights = _take()
    assert takes.resample_to_fps(weights, 30.0) is weights
    assert takes.resampled_length(len(weights), 30.0) == len(weights)


@pytest.mark.parametrize("fps", [24.0, 60.0, 25.0, 30000 / 1001])
def test_other_rates_match_np_interp_on_the_audio_clock(fps):
    weights = _take()
    out = takes.resample_to_fps(weights, fps)
    duration = (len(weights) - 1) / 30
    # The last frame reaches the take's end (or just passes it, holding the last value).
    assert (len(out) - 1) / fps >= duration - 1e-9 and (len(out) - 2) / fps < duration
    assert len(out) == takes.resampled_length(len(weights), fps)
    t = np.arange(len(out)) / fps
    for c in (0, INDEX["jawOpen"], len(ARKIT_NAMES) - 1):
        np.testing.assert_allclose(out[:, c], np.interp(t, np.arange(len(weights)) / 30, weights[:, c]),
                                   atol=1e-6)
    assert out.dtype == np.float32 and out.shape[1] == len(ARKIT_NAMES)


def test_60fps_keeps_every_source_frame_and_halves_between():
    weights = _take(11)
    out = takes.resample_to_fps(weights, 60.0)
    assert len(out) == 21
    np.testing.assert_array_equal(out[0::2], weights)
    np.testing.assert_allclose(out[1::2], (weights[:-1] + weights[1:]) / 2, atol=1e-7)


def test_video_rate_to_30fps():
    # A 24 fps capture onto the engine's 30 fps grid: the same function, another source rate.
    capture = _take(25)
    out = takes.resample_to_fps(capture, 30.0, source_fps=24.0)
    assert len(out) == 31
    np.testing.assert_allclose(out[-1], capture[-1], atol=1e-6)
    np.testing.assert_allclose(out[5], capture[4], atol=1e-6)  # 5/30 s == 4/24 s


def test_resample_onto_irregular_times_holds_the_ends():
    values = np.array([[0.0, 1.0], [1.0, 3.0], [3.0, 3.0]])
    out = takes.resample(values, np.array([0.0, 0.1, 0.3]), np.array([-1.0, 0.05, 0.2, 0.3, 9.0]))
    np.testing.assert_allclose(out, [[0, 1], [0.5, 2], [2, 3], [3, 3], [3, 3]], atol=1e-7)


def test_source_frames_place_30fps_frames_on_the_scene_timeline():
    np.testing.assert_allclose(takes.source_frames(4, 24.0, start=10.0), [10, 10.8, 11.6, 12.4])


def test_gain_mix_onto_target_channels():
    weights = _take()
    channels = {"jawOpen": ("Jaw", 0.5), "mouthSmileLeft": ("Smile", 1.0),
                "mouthSmileRight": ("Smile", 2.0), "browInnerUp": ("Brow", 1.0)}
    mixed = takes.mix_to_targets(weights, channels)
    assert list(mixed) == ["Jaw", "Smile", "Brow"]
    np.testing.assert_allclose(mixed["Jaw"], 0.5 * weights[:, INDEX["jawOpen"]], rtol=1e-6)
    np.testing.assert_allclose(mixed["Smile"], weights[:, INDEX["mouthSmileLeft"]]
                               + 2.0 * weights[:, INDEX["mouthSmileRight"]], rtol=1e-6)
    np.testing.assert_array_equal(mixed["Brow"], weights[:, INDEX["browInnerUp"]])
    assert all(curve.dtype == np.float32 for curve in mixed.values())
    assert takes.mix_to_targets(weights, {}) == {}
