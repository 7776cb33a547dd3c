"""The NumPy polyphase resampler against scipy.signal.resample_poly, one-shot and streamed."""
from math import gcd

import numpy as np
import pytest
from scipy.signal import resample_poly as scipy_resample_poly

from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.audio.resample import Resampler, lowpass, resample_poly


def factors(rate: int, target: int = 16000) -> tuple[int, int]:
    g = gcd(rate, target)
    return target // g, rate // g


@pytest.mark.parametrize("rate", [22050, 44100, 48000, 8000, 11025, 16000])
@pytest.mark.parametrize("n", [1, 2, 7, 333, 4001, 66_151])
def test_equals_scipy(rate, n):
    up, down = factors(rate)
    x = np.random.default_rng(n + rate).standard_normal(n).astype(np.float32)
    got = resample_poly(x, up, down)
    assert got.dtype == np.float32 and got.shape == scipy_resample_poly(x, up, down).shape
    # scipy in float64 is the exact reference; its float32 path rounds the filter and the sums
    assert np.abs(got - scipy_resample_poly(x.astype(np.float64), up, down)).max() <= 1e-6
    assert np.abs(got - scipy_resample_poly(x, up, down)).max() <= 1e-5


def test_filter_is_scipys_firwin():
    from scipy.signal import firwin

    for up, down in ((320, 441), (160, 441), (1, 3), (2, 1)):
        m = max(up, down)
        assert np.abs(lowpass(up, down) - up * firwin(20 * m + 1, 1 / m, window=("kaiser", 5.0))).max() < 1e-15


def test_streamed_blocks_join_to_the_one_shot_result():
    x = np.random.default_rng(0).standard_normal(50_013).astype(np.float32)
    for rate in (22050, 44100, 48000, 8000):
        up, down = factors(rate)
        whole = resample_poly(x, up, down)
        for block in (1, 97, 4096, 100_000):
            if block == 1 and rate != 48000:
                continue  # sample by sample is slow; one rate covers it
            r = Resampler(up, down)
            pieces = [r.feed(x[i:i + block]) for i in range(0, x.size, block)] + [r.finish()]
            assert np.array_equal(np.concatenate(pieces), whole), (rate, block)
            assert r.buffer.size <= r.taps_per_phase + block  # memory bounded by the filter and one block


def test_real_speech_at_22050_equals_scipy(speech_wav):
    import soundfile as sf

    x, rate = sf.read(speech_wav, dtype="float32")
    assert rate == 22050
    assert np.abs(load_audio(speech_wav) - scipy_resample_poly(x, 320, 441)).max() <= 1e-5
