"""MediaPipe -> rig calibration (training/calibrate.py): quantile maps fitted against rule targets."""
from __future__ import annotations

import numpy as np
import pytest

from capture_support import GRID, MODEL, needs_grid, needs_mediapipe
from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.training import calibrate


def _rules_and_capture(seed=0, n=4000):
    """Rule-like targets and a compressed, noisy 'capture' of them (a MediaPipe-like score)."""
    rng = np.random.default_rng(seed)
    rules = np.zeros((n, 52))
    jaw = np.clip(rng.gamma(2.0, 0.1, n), 0, 0.6)
    rules[:, INDEX["jawOpen"]] = jaw
    rules[:, INDEX["mouthFunnel"]] = np.clip(rng.normal(0.1, 0.1, n), 0, 0.5)
    rules[:, INDEX["mouthPressLeft"]] = rules[:, INDEX["mouthPressRight"]] = (rng.random(n) < 0.1) * 0.35
    cap = np.zeros_like(rules)
    cap[:, INDEX["jawOpen"]] = 0.35 * np.sqrt(jaw / 0.6)  # compressed, same order
    cap[:, INDEX["mouthFunnel"]] = 0.05 * rules[:, INDEX["mouthFunnel"]]
    cap[:, INDEX["mouthPressLeft"]] = cap[:, INDEX["mouthPressRight"]] = rng.random(n) * 0.2  # unrelated
    cap[:, INDEX["browInnerUp"]] = rng.random(n) * 0.8
    cap[:, INDEX["tongueOut"]] = 0.3
    return rules, cap


def test_a_compressed_channel_gets_the_rules_range_back():
    rules, cap = _rules_and_capture()
    table = calibrate.fit(cap, rules)
    out = calibrate.apply(cap, table)
    for name in ("jawOpen", "mouthFunnel"):
        k = INDEX[name]
        assert name in table
        assert np.quantile(out[:, k], 0.99) == pytest.approx(np.quantile(rules[:, k], 0.99), abs=0.02)
        assert np.corrcoef(out[:, k], rules[:, k])[0, 1] > 0.95
        # monotone: the capture's order of frames is kept
        order = np.argsort(cap[:, k], kind="stable")
        assert np.all(np.diff(out[order, k]) >= -1e-6)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_unrelated_brow_and_missing_channels():
    rules, cap = _rules_and_capture()
    table = calibrate.fit(cap, rules)
    out = calibrate.apply(cap, table)
    assert "mouthPressLeft" not in table and "mouthPressRight" not in table  # capture does not follow the rules
    assert np.allclose(out[:, INDEX["mouthPressLeft"]], cap[:, INDEX["mouthPressLeft"]])
    assert np.allclose(out[:, INDEX["browInnerUp"]], cap[:, INDEX["browInnerUp"]])  # outside the mouth: kept
    assert np.all(out[:, INDEX["tongueOut"]] == 0)  # MediaPipe has no tongue: never a made-up value


def test_word_phones_spread_over_grid_words():
    lookup = {"bin": "B IH N", "blue": "B L UW"}.get
    words = [(0.0, 0.5, "sil"), (0.5, 0.8, "bin"), (0.8, 1.2, "blue"), (1.2, 2.0, "sil")]
    phones = calibrate.word_phones(words, lookup)
    assert [p.symbol for p in phones] == ["SIL", "B", "IH", "N", "B", "L", "UW", "SIL"]
    assert phones[1].start == 0.5 and phones[3].end == pytest.approx(0.8)
    track = calibrate.rule_track(words, 60, lookup)
    assert track[int(0.52 * 30), INDEX["jawOpen"]] < 0.12  # the /b/ of "bin" is sealed
    assert track[int(1.1 * 30), INDEX["mouthPucker"]] > 0.3  # "blue" rounds


@needs_mediapipe
@needs_grid
def test_shipped_table_opens_a_real_capture_to_the_rules_range():
    from emotalk_blender.engine.capture.base import load_capture_backend
    from emotalk_blender.engine.capture.capture import capture_video

    table = calibrate.load_table()
    assert {"jawOpen", "mouthFunnel", "mouthPucker"} <= set(table)
    backend = load_capture_backend("mediapipe", MODEL)
    try:
        cap = capture_video(str(GRID[0]), backend).weights
    finally:
        backend.close()
    out = calibrate.apply(cap, table)
    f = INDEX["mouthFunnel"]
    # MediaPipe's funnel barely moves (p99 about 0.02 on GRID); calibrated it reaches the rules' rounding
    assert cap[:, f].max() < 0.1 and out[:, f].max() > 0.2
    j = INDEX["jawOpen"]
    assert np.corrcoef(out[:, j], cap[:, j])[0, 1] > 0.95
