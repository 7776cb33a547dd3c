"""Re-takes reuse the encoders' outputs (engine/network/encodings.py), and ``--precision auto`` keeps small
networks in fp32 so the torch CLI, the NumPy backend and a stock Blender give the same take."""
from __future__ import annotations

import numpy as np
import pytest

from emotalk_blender.engine.network import loading as backends, encodings, precision
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.direction import emotion_reading
from emotalk_blender.engine.pipeline import generate
from emotalk_blender.engine.settings import GenerateSettings


def count_encoder_calls(monkeypatch, backend) -> dict:
    """Count the real backend's encoder calls (its methods still run): the emotion encoder is its
    transformer's output (``emotion_hidden``), which both the take and the voice's reading use."""
    calls = {"emotion": 0, "content": 0}
    for which, method in (("emotion", "emotion_hidden"), ("content", "encode_content")):
        real = getattr(backend, method)

        def counted(*args, _real=real, _which=which):
            calls[_which] += 1
            return _real(*args)

        monkeypatch.setattr(backend, method, counted)
    return calls


@pytest.mark.parametrize("backend_name", ["numpy", "torch"])
def test_a_retake_that_changes_only_direction_runs_no_encoder(monkeypatch, speech_wav, backend_name):
    first = GenerateSettings(backend=backend_name, precision="fp32")
    backend = backends.load_backend(None, "cpu", backend_name, precision="fp32")
    encodings.clear()
    calls = count_encoder_calls(monkeypatch, backend)
    generate(speech_wav, first)
    # the default take reads the voice (neutral lean) and animates it: one emotion encoder pass
    assert emotion_reading.LAST.get("reading") is not None
    assert calls == {"emotion": 1, "content": 1}
    hits = encodings.stats["hits"]
    retake = GenerateSettings(backend=backend_name, precision="fp32", level=0.3, person=7, emotion_source="named",
                              emotion="happy", emotion_mix=0.8, smooth=False, blinks=False, gaze=0.0, seed=3)
    got = generate(speech_wav, retake)
    assert calls == {"emotion": 1, "content": 1}, "a re-take re-ran an encoder"
    assert encodings.stats["hits"] >= hits + 2  # the encoders and the voice's emotion reading, if any
    monkeypatch.setattr(encodings, "MAX_BYTES", 0)  # nothing kept: the full computation
    want = generate(speech_wav, retake)
    assert calls == {"emotion": 3, "content": 2}  # nothing kept: the reading and the take each run it
    assert np.array_equal(got, want)


def test_new_audio_or_a_new_model_is_encoded_anew(monkeypatch, speech_wav, long_speech_wav, tiny_checkpoint):
    backend = backends.load_backend(None, "cpu", "numpy")
    encodings.clear()
    calls = count_encoder_calls(monkeypatch, backend)
    generate(speech_wav, GenerateSettings(backend="numpy"))
    generate(long_speech_wav, GenerateSettings(backend="numpy"))  # other samples: other keys
    assert calls["content"] >= 2
    assert encodings.kept_bytes() > 0
    backends.load_backend(tiny_checkpoint, "cpu", "numpy")  # another model: the kept outputs go
    assert encodings.kept_bytes() == 0


def test_memory_is_bounded_least_recently_used_first(monkeypatch):
    class Marked:
        pass

    backend = Marked()
    encodings.keep_for(backend)
    encodings.clear()
    monkeypatch.setattr(encodings, "MAX_BYTES", 3 * 400)  # three (100,) float32 arrays
    wavs = [np.full(160, i, np.float32) for i in range(5)]
    for i, w in enumerate(wavs):
        encodings.encode(backend, "content", w, 100, lambda i=i: np.full(100, i, np.float32))
    assert encodings.kept_bytes() <= encodings.MAX_BYTES
    fresh = []
    for i in (4, 3, 2, 0):  # the last three are kept; the first was the least recently used
        encodings.encode(backend, "content", wavs[i], 100, lambda i=i: fresh.append(i) or np.full(100, i, np.float32))
    assert fresh == [0]


def test_a_backend_made_by_hand_is_never_cached():
    class Plain:
        pass

    made = []
    for _ in range(2):
        encodings.encode(Plain(), "emotion", np.zeros(16, np.float32), 1, lambda: made.append(1) or np.zeros(1))
    assert len(made) == 2


def test_auto_precision_keeps_the_default_model_fp32_and_equal_to_numpy(monkeypatch, speech_wav):
    # Behave as a CPU with native bf16 (this machine's Xeon has it; elsewhere the rule is still exercised).
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    backends._CACHE.clear()
    net = backends.load_backend(None, "cpu", "torch", precision="auto")
    assert net.precision == "fp32"
    torch_take = generate(speech_wav, GenerateSettings(backend="torch", precision="auto"))
    numpy_take = generate(speech_wav, GenerateSettings(backend="numpy"))
    assert np.abs(torch_take - numpy_take).max() <= 1e-5
    backends._CACHE.clear()


def test_the_voice_reading_of_a_retake_is_not_computed_again(speech_wav):

    backend = backends.load_backend(None, "cpu", "numpy")
    encodings.clear()
    audio = load_audio(speech_wav)
    first = emotion_reading.hidden_states(backend, audio)
    misses = encodings.stats["misses"]
    again = emotion_reading.hidden_states(backend, audio)
    assert encodings.stats["misses"] == misses and np.array_equal(first, again)


@pytest.mark.parametrize("backend_name", ["numpy", "torch"])
def test_the_two_stage_emotion_encoder_is_encode_emotion(speech_wav, backend_name):
    from emotalk_blender.engine.constants import frames_for_samples
    from emotalk_blender.engine.network.interface import normalise_audio

    backend = backends.load_backend(None, "cpu", backend_name, precision="fp32")
    wav = normalise_audio(load_audio(speech_wav))
    frames = frames_for_samples(len(wav))
    two = backend.emotion_features(backend.emotion_hidden(wav), frames)
    assert np.array_equal(two, backend.encode_emotion(wav, frames))
