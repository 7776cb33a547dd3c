"""Inference over any length: windows, chunking, the cross-fade, progress and cancel, the backend seam."""
import threading

import numpy as np
import pytest
import torch

from emotalk_blender.engine.network import interface as seam
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.constants import SAMPLE_RATE, frames_for_samples
from emotalk_blender.engine.errors import Cancelled
from emotalk_blender.engine.network.inference import cross_fade, predict, windows
from emotalk_blender.engine.network.model import normalise_audio
from emotalk_blender.engine.network.torch_backend import TorchBackend
from helpers import random_small_model


@pytest.fixture(scope="module")
def model():
    return random_small_model()


def test_frames_for_samples_is_exact_ceil():
    assert SAMPLE_RATE == 16_000
    assert frames_for_samples(16_000) == 30 and frames_for_samples(1) == 1
    for n in (533, 534, 16_001, 48_007, 9_600_017):
        assert frames_for_samples(n) == -(-n * 30 // 16_000) == int(np.ceil(n / 16000 * 30))


def test_short_clip_identical_to_unchunked(model, speech_wav):
    audio = load_audio(speech_wav)
    with torch.no_grad():
        want = model(torch.from_numpy(audio)[None])[0].numpy()
    got = predict(model, audio, chunk_seconds=20)
    assert got.shape == (frames_for_samples(len(audio)), 52)
    assert np.array_equal(got, want)
    assert np.array_equal(predict(TorchBackend(model), audio), want)  # the module or its backend: the same


def test_normalisation_is_the_same_bits_in_numpy_and_torch():
    """Inference normalises in NumPy, the model's own forward in torch: the two must agree to the last bits.

    Same statistics (float64 sums, rounded to float32) and the same float32 steps; but the float32 square
    root of the same value can differ by one ulp between NumPy and torch on some CPUs (seen on an AMD EPYC:
    sqrt(1.0016965) = 1.0008478 in NumPy, 1.0008479 in torch), so the results may differ by 2 ulp there."""
    rng = np.random.default_rng(0)
    for n, scale, offset in ((1000, 0.01, 0.0), (48000, 0.3, 0.01), (321_600, 1.0, -0.2), (77_777, 0.05, 0.3)):
        x = (rng.standard_normal(n) * scale + offset).astype(np.float32)
        got = seam.normalise_audio(x)
        assert got.dtype == np.float32
        np.testing.assert_array_max_ulp(got, normalise_audio(torch.from_numpy(x)[None])[0].numpy(), maxulp=2)
        var = x.astype(np.float64).var()
        assert abs(float(got.mean())) < 1e-5
        assert float(got.std()) == pytest.approx(np.sqrt(var / (var + 1e-7)), rel=1e-4)


def test_torch_backend_is_a_backend(model):
    b = TorchBackend(model)
    assert isinstance(b, seam.Backend) and b.name == "torch" and b.device == "cpu"
    assert b.num_parameters() == model.num_parameters()
    wav = seam.normalise_audio(np.random.default_rng(1).standard_normal(16000).astype(np.float32))
    emotion, content = b.encode_emotion(wav, 30), b.encode_content(wav, 30)
    assert emotion.shape == (30, model.config.emotion_dim) and content.shape == (30, model.config.content_dim)
    out = b.decode(content, emotion, 0.5, 3)
    assert out.shape == (30, 52) and out.dtype == np.float32


def test_windows_cover_the_clip_with_overlap():
    for n in (320000 + 1600, 640000, 9_600_017):
        w = windows(n, 320000, 32000)
        assert w[0][0] == 0 and w[-1][1] == n
        assert all(s % 1600 == 0 for s, _ in w)  # starts on whole frames
        assert all(b[0] < a[1] and a[1] - b[0] >= 32000 for a, b in zip(w, w[1:]))
        assert all(e - s < 320000 + 1600 for s, e in w)  # the last may run up to 0.1 s long


def test_cross_fade_is_linear_in_the_overlap():
    out = np.zeros((10, 2), np.float32)
    assert cross_fade(out, np.ones((6, 2), np.float32), 0, 0) == 6
    assert cross_fade(out, np.full((6, 2), 3.0, np.float32), 4, 6) == 10  # frames 4, 5 shared
    assert np.allclose(out[:4], 1) and np.allclose(out[6:], 3)
    assert np.allclose(out[4:6, 0], [1 + 2 / 3, 1 + 4 / 3])  # weights 1/3, 2/3 on the later window


def test_chunked_agrees_with_unchunked_on_long_speech(model, long_speech_wav):
    """Chunking changes each window's context; on real speech the cross-faded result stays close.

    Tolerance (documented in the README), for the default 20 s windows with 2 s overlap and a
    random-weight model (whose context dependence is arbitrary, so a worst case): mean absolute
    difference under 12 % of the output's spread (std over time), every channel correlated above
    0.97 with the unchunked output, and no step at the joins. Measured: 9.8 %, 0.989.
    """
    audio = load_audio(long_speech_wav)
    assert len(audio) > 40 * 16000  # three windows
    whole = predict(model, audio, chunk_seconds=1000)
    chunked = predict(model, audio)
    assert chunked.shape == whole.shape
    spread = whole.std(axis=0).mean()
    assert np.abs(chunked - whole).mean() < 0.12 * spread
    assert min(np.corrcoef(chunked[:, i], whole[:, i])[0, 1] for i in range(52)) > 0.97
    step = np.abs(np.diff(chunked, axis=0)).mean(axis=1)
    assert step.max() < 3 * np.median(step)


def test_memory_is_bounded_by_the_window(model):
    """Each pass sees at most one window of audio, whatever the clip length."""
    seen = []
    hook = model.audio_encoder_cont.feature_extractor.register_forward_pre_hook(
        lambda m, a: seen.append(a[0].shape[-1]))
    try:
        audio = np.random.default_rng(0).standard_normal(16000 * 95).astype(np.float32)
        predict(model, audio, chunk_seconds=20, overlap_seconds=2)
    finally:
        hook.remove()
    assert len(seen) == 6 and max(seen) < 20 * 16000 + 1600


def test_cancel_and_progress(model):
    audio = np.random.default_rng(0).standard_normal(16000 * 45).astype(np.float32)
    calls = []
    predict(model, audio, chunk_seconds=10, progress=lambda f, m: calls.append(f))
    n = len(windows(len(audio), 160000, 32000))
    assert calls[-1] == 1.0 and calls == sorted(calls) and len(calls) == 3 * n  # three stages a window
    assert calls[0] < 1 / n  # the first report comes inside the first window
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        predict(model, audio, chunk_seconds=10, cancel=stop)
