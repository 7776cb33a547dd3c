"""Savitzky-Golay in NumPy against scipy.signal.savgol_filter, edges ("interp") and short takes included."""
import numpy as np
import pytest
from scipy.signal import savgol_filter

from emotalk_blender.engine.motion import postprocess as pp


@pytest.mark.parametrize("frames", [3, 4, 5, 6, 7, 8, 31, 600])
def test_smooth_equals_scipy_at_every_take_length(frames):
    x = np.random.default_rng(frames).random((frames, 52)).astype(np.float32)
    window = min(5, frames if frames % 2 else frames - 1)  # the widest odd window that fits, as smooth() picks
    exact = savgol_filter(x.astype(np.float64), window, 2, axis=0)
    got = pp.smooth(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.abs(got - exact).max() <= 1e-6  # float32 rounding only
    # scipy's own float32 path fits the edges in float32 (about 1e-6 off); the interior is a convolution
    assert np.abs(got - savgol_filter(x, window, 2, axis=0)).max() <= 2e-6
    assert np.abs(pp.savgol(x.astype(np.float64), window, 2) - exact).max() <= 1e-12


@pytest.mark.parametrize("window,order", [(5, 2), (7, 3), (9, 2), (3, 1)])
def test_other_windows_and_orders(window, order):
    x = np.random.default_rng(window).standard_normal((40, 3))
    assert np.abs(pp.savgol(x, window, order) - savgol_filter(x, window, order, axis=0)).max() <= 1e-12


def test_too_short_to_filter_is_unchanged():
    x = np.random.default_rng(0).random((2, 52)).astype(np.float32)
    assert np.array_equal(pp.smooth(x), x) and np.array_equal(pp.smooth(x[:1]), x[:1])


def test_a_quadratic_passes_through_unchanged():
    t = np.arange(20, dtype=np.float64)[:, None]
    x = 0.3 + 0.1 * t - 0.02 * t ** 2
    assert np.abs(pp.savgol(x, 5, 2) - x).max() < 1e-12  # edges too: the fit is exact
