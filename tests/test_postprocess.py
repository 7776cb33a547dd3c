"""Post-processing: the released demo's Savitzky-Golay smoothing and seeded blinks."""
import numpy as np
from scipy.signal import savgol_filter

from emotalk_blender.engine.motion import postprocess as pp
from emotalk_blender.engine.arkit import BLINK_CHANNELS, INDEX


def test_smoothing_is_savgol_5_2():
    x = np.random.default_rng(1).random((100, 52)).astype(np.float32)
    assert np.allclose(pp.smooth(x), savgol_filter(x, 5, 2, axis=0), atol=1e-6)
    assert pp.smooth(x[:2]).shape == (2, 52)  # too short to filter: unchanged, no crash


def test_blinks_follow_the_demo_and_the_seed():
    x = np.full((900, 52), 0.3, np.float32)
    a, b, c = pp.insert_blinks(x, 7), pp.insert_blinks(x, 7), pp.insert_blinks(x, 8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    starts = pp.blink_starts(900, 7)
    assert 0 <= starts[0][0] <= 60
    assert all(60 <= s2 - s1 <= 180 for (s1, _), (s2, _) in zip(starts, starts[1:]))
    assert starts[-1][0] < 900 - 7
    for s, curve in starts:
        assert np.array_equal(a[s:s + 7, INDEX["eyeBlinkLeft"]], pp.BLINK_CURVES[curve])
        assert np.array_equal(a[s:s + 7, INDEX["eyeBlinkRight"]], pp.BLINK_CURVES[curve])
    mask = np.ones(900, bool)
    for s, _ in starts:
        mask[s:s + 7] = False
    assert np.all(a[mask][:, list(BLINK_CHANNELS)] == 0)
    others = [i for i in range(52) if i not in BLINK_CHANNELS]
    assert np.array_equal(a[:, others], x[:, others])
