"""Audio in: formats, rates, channels, and clear errors naming the file."""
import numpy as np
import pytest
import soundfile as sf

from emotalk_blender.engine.audio import load_audio
from emotalk_blender.engine.errors import AudioError


def tone(seconds=1.0, rate=44100, freq=440.0, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def dominant_hz(x, rate=16000):
    spec = np.abs(np.fft.rfft(x))
    return np.argmax(spec) * rate / len(x)


@pytest.mark.parametrize("fmt,ext", [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg"), ("MP3", "mp3")])
def test_formats_rates_and_channels(tmp_path, fmt, ext):
    path = tmp_path / f"tone.{ext}"
    sf.write(path, tone(1.0, 44100, 440.0, channels=2), 44100, format=fmt)
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 16000) < 2000  # lossy codecs pad a little
    assert dominant_hz(x[:16000] if len(x) >= 16000 else x) == pytest.approx(440, abs=3)


def test_resampling_is_exact_in_length_and_pitch(tmp_path):
    for rate in (8000, 22050, 48000):
        path = tmp_path / f"t{rate}.wav"
        sf.write(path, tone(2.0, rate, 300.0), rate, subtype="FLOAT")
        x = load_audio(path)
        assert len(x) == 32000
        assert dominant_hz(x) == pytest.approx(300, abs=1)


def test_stereo_is_mixed_to_mono(tmp_path):
    left = tone(1.0, 16000, 200.0)
    right = -left
    path = tmp_path / "cancel.wav"
    sf.write(path, np.stack([left, right], 1), 16000, subtype="FLOAT")
    assert np.abs(load_audio(path)).max() < 1e-6


def test_silence_is_valid(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)
    assert np.all(load_audio(path) == 0)


def test_errors_name_the_file_and_the_problem(tmp_path):
    cases = {}
    cases["no such audio file"] = tmp_path / "missing.wav"
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    cases["not a readable audio file"] = text
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    cases["zero length"] = empty
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(400, np.float32), 16000)  # 25 ms < 1/30 s
    cases["shorter than one frame"] = short
    nan = tmp_path / "nan.wav"
    x = tone(0.5, 16000)
    x[100] = np.nan
    sf.write(nan, x, 16000, subtype="FLOAT")
    cases["NaN or infinite"] = nan
    cases["is a folder"] = tmp_path
    for problem, path in cases.items():
        with pytest.raises(AudioError) as err:
            load_audio(path)
        assert str(path) in str(err.value) and problem in str(err.value), str(err.value)


def test_real_speech(speech_wav):
    x = load_audio(speech_wav)
    assert 1.5 * 16000 < len(x) < 6 * 16000
    assert np.abs(x).max() > 0.05
