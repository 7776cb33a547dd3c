"""Audio in: formats, rates, channels, and clear errors naming the file."""
import numpy as np
import pytest
import soundfile as sf

from emotalk_blender.engine.audio.decoding import available_decoders, decode, load_audio
from emotalk_blender.engine.network.interface import normalise_audio
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


# --- the three decoders: soundfile, the standard library's wave, Blender's aud -------------------
def blenders_aud():
    """Blender's audio module (importable once bpy is); the bpy 4.2 wheel has none."""
    pytest.importorskip("bpy")
    try:
        import aud
    except ImportError:
        pytest.skip("this bpy build has no aud module")
    return aud


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32"])
def test_wave_reads_the_same_samples_as_soundfile(tmp_path, speech_wav, subtype):
    x, rate = sf.read(speech_wav, dtype="float32", always_2d=True)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, np.concatenate([x, -0.5 * x], axis=1), rate, subtype=subtype)
    want, _ = decode(str(path), "soundfile")
    got, got_rate = decode(str(path), "wave")
    assert got_rate == rate and got.shape == want.shape == (x.shape[0], 2) and got.dtype == np.float32
    assert np.array_equal(got, want)
    assert np.array_equal(load_audio(path, decoder="wave"), load_audio(path, decoder="soundfile"))


def test_espeak_speech_is_the_same_with_every_decoder(tmp_path, speech_wav):
    """Every decoder on the same 16-bit espeak WAV (and a FLAC of it for aud): the same take's input."""
    aud = blenders_aud()
    assert aud is not None and "aud" in available_decoders()
    ref = load_audio(speech_wav, decoder="soundfile")
    assert np.array_equal(load_audio(speech_wav, decoder="wave"), ref)
    raw_sf, _ = decode(str(speech_wav), "soundfile")
    raw_aud, rate = decode(str(speech_wav), "aud")
    assert rate == 22050 and raw_aud.shape == raw_sf.shape
    assert np.abs(raw_aud - raw_sf * (32768 / 32767)).max() < 1e-7  # aud scales 16 bits by 1/32767
    flac = tmp_path / "speech.flac"
    sf.write(flac, raw_sf, 22050, subtype="PCM_16")
    for path in (speech_wav, flac):
        got = load_audio(path, decoder="aud")
        assert got.shape == ref.shape
        assert np.abs(normalise_audio(got) - normalise_audio(ref)).max() < 2e-6  # the network's input


@pytest.mark.parametrize("decoder", ["soundfile", "wave", "aud"])
def test_each_decoder_gives_the_same_errors(tmp_path, decoder):
    if decoder == "aud":
        blenders_aud()
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    empty, short = tmp_path / "empty.wav", tmp_path / "short.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    sf.write(short, np.zeros(400, np.float32), 16000, subtype="PCM_16")
    cases = {"no such audio file": tmp_path / "missing.wav", "is a folder": tmp_path,
             "not a readable audio file": text, "zero length": empty, "shorter than one frame": short}
    if decoder != "wave":  # PCM WAV, all the wave module reads, cannot hold NaN
        nan = tmp_path / "nan.wav"
        x = tone(0.5, 16000)
        x[100] = np.nan
        sf.write(nan, x, 16000, subtype="FLOAT")
        cases["NaN or infinite"] = nan
    for problem, path in cases.items():
        with pytest.raises(AudioError) as err:
            load_audio(path, decoder=decoder)
        msg = str(err.value)
        assert str(path) in msg and problem in msg and "\n" not in msg, msg


def test_auto_falls_through_to_a_decoder_that_reads_the_file(tmp_path):
    assert available_decoders()[:2] == ["soundfile", "wave"]
    path = tmp_path / "t.wav"
    sf.write(path, tone(0.5, 16000), 16000, subtype="PCM_16")
    assert np.array_equal(load_audio(path), load_audio(path, decoder="wave"))
    with pytest.raises(ValueError, match="decoder must be"):
        load_audio(path, decoder="ffmpeg")
