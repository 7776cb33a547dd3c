"""Directing the emotion features: sources, mix, tracks and markers, cross-fades, presets, errors."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emotalk_blender.engine.constants import EMOTIONS, FPS, SAMPLE_RATE
from emotalk_blender.engine.direction.emotion import (
    COLUMNS, base_entry, clip_features, direct, make_direction, make_preset, make_presets, reference_features,
    track_weights,
)
from emotalk_blender.engine.direction.emotion_parsing import (
    EmotionError, TrackEntry, marker_track, parse_emotion_arg, parse_marker, parse_reference_arg, parse_track,
)
from emotalk_blender.engine.direction.presets_file import Presets, load_presets, presets_path, save_presets
from emotalk_blender.engine.errors import AudioError
from emotalk_blender.engine.network.numpy_backend import interpolate_frames

D = 16  # emotion_dim of these tests


def _onehot(label: str, strength: float = 1.0) -> np.ndarray:
    v = np.zeros(len(COLUMNS), np.float32)
    v[COLUMNS.index(label)] = strength
    return v


# --- parsing --------------------------------------------------------------------------------------
def test_emotion_and_reference_arguments():
    assert parse_emotion_arg("happy") == ("happy", 1.0)
    assert parse_emotion_arg("Angry:0.4") == ("angry", 0.4)
    assert parse_reference_arg("takes/angry.wav") == ("takes/angry.wav", 1.0)
    assert parse_reference_arg("takes/angry.wav:0.5") == ("takes/angry.wav", 0.5)
    assert parse_reference_arg(r"C:\takes\angry.wav") == (r"C:\takes\angry.wav", 1.0)
    with pytest.raises(EmotionError, match=r"--emotion-ref a.wav:1.5: emotion mix must lie in 0..1, got 1.5"):
        parse_reference_arg("a.wav:1.5")


@pytest.mark.parametrize("text,message", [
    ("happyy", "'happyy' is not an emotion; expected one of angry, disgust, fear, happy, neutral, sad, surprise"),
    ("happy:1.2", "emotion mix must lie in 0..1, got 1.2"),
    ("happy:-0.1", "emotion mix must lie in 0..1"),
    ("happy:lots", "mix 'lots' is not a number"),
])
def test_emotion_argument_errors(text, message):
    with pytest.raises(EmotionError, match=message) as err:
        parse_emotion_arg(text)
    assert str(err.value).startswith(f"--emotion {text}: ") and "\n" not in str(err.value)


def test_track_parsing():
    assert parse_track("0:neutral,2.5:angry:0.8") == [TrackEntry(0, "neutral", 1.0), TrackEntry(75, "angry", 0.8)]
    assert parse_track(" 1 : Happy , 1.01:voice ") == [TrackEntry(30, "happy", 1.0), TrackEntry(30, "voice", 1.0)]


@pytest.mark.parametrize("text,message", [
    ("0:neutral,,2:angry", "an empty entry"),
    ("0:neutral;2:angry", "emotion 'neutral;2' is not an emotion"),
    ("0:neutral:0.5:1", "expected SECONDS:EMOTION"),
    ("2.5", "expected SECONDS:EMOTION"),
    ("x:happy", "time 'x' is not a number"),
    ("-1:happy", "must be a number of seconds >= 0"),
    ("0:glad", "'glad' is not an emotion; expected one of angry, "),
    ("0:happy:2", "strength must lie in 0..1, got 2.0"),
    ("3:happy,1:sad", "the times must not decrease"),
])
def test_track_errors(text, message):
    with pytest.raises(EmotionError, match=message) as err:
        parse_track(text)
    assert str(err.value).startswith("--emotion-track ") and "\n" not in str(err.value)


def test_marker_names():
    assert parse_marker("happy") == ("happy", 1.0)
    assert parse_marker("angry 0.6") == ("angry", 0.6)
    assert parse_marker(" Sad:0.3 ") == ("sad", 0.3)
    assert parse_marker("voice") == ("voice", 1.0)
    assert parse_marker("F_01") is None and parse_marker("shot 2 start") is None and parse_marker("happyish") is None
    with pytest.raises(EmotionError, match="marker 'angry 1.5': strength must lie in 0..1"):
        parse_marker("angry 1.5")


def test_marker_track_converts_scene_frames_to_take_frames():
    markers = [(49, "angry 0.5"), (1, "happy"), (30, "camera cut")]
    entries, ignored = marker_track(markers, start_frame=1, scene_fps=24)
    assert entries == [TrackEntry(0, "happy", 1.0), TrackEntry(60, "angry", 0.5)]  # (49 - 1) / 24 s = 60 frames
    assert ignored == ["camera cut"]
    assert marker_track([(101, "sad")], start_frame=101)[0] == [TrackEntry(0, "sad", 1.0)]


# --- weights over time ----------------------------------------------------------------------------
@pytest.mark.parametrize("crossfade", [0, 1, 4, 15])
def test_switch_at_the_right_frame_with_the_right_length(crossfade):
    w = track_weights([TrackEntry(0, "neutral"), TrackEntry(40, "angry", 0.8)], 120, crossfade)
    neutral, angry = _onehot("neutral"), _onehot("angry", 0.8)
    np.testing.assert_array_equal(w[:40], np.tile(neutral, (40, 1)))
    for i in range(crossfade):  # frame 40 + i is (i + 1) / (crossfade + 1) of the way
        a = (i + 1) / (crossfade + 1)
        np.testing.assert_allclose(w[40 + i], (1 - a) * neutral + a * angry, atol=1e-6)
    np.testing.assert_array_equal(w[40 + crossfade:], np.tile(angry, (120 - 40 - crossfade, 1)))
    changed = np.flatnonzero(np.abs(np.diff(w, axis=0)).sum(axis=1) > 0) + 1
    assert changed[0] == 40 and changed[-1] == 40 + crossfade  # exactly crossfade + 1 frames move


def test_no_track_equals_one_entry_at_zero_and_fades_chain():
    base = base_entry("named", "happy", 0.7)
    np.testing.assert_array_equal(track_weights([], 50, 8, base), track_weights([TrackEntry(0, "happy", 0.7)], 50, 8))
    assert not track_weights([], 50, 8).any()  # the voice: nothing to direct
    # a switch in the middle of a fade starts from where the fade had got to: no step
    w = track_weights([TrackEntry(10, "sad"), TrackEntry(14, "fear")], 60, 10)
    assert np.abs(np.diff(w, axis=0)).max() <= 1 / 11 + 1e-6
    np.testing.assert_array_equal(w[-1], _onehot("fear"))
    assert w.sum(axis=1).max() <= 1 + 1e-6


# --- features -------------------------------------------------------------------------------------
def test_interpolate_frames_matches_the_released_resampling():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(37, D)).astype(np.float32)
    for frames in (37, 90, 12, 1):
        want = torch.nn.functional.interpolate(torch.from_numpy(x).T[None], size=frames, mode="linear",
                                               align_corners=True)[0].T.numpy()
        np.testing.assert_allclose(interpolate_frames(x, frames), want, atol=3e-5)  # torch: float32 positions


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(3)
    voice = rng.normal(size=(90, D)).astype(np.float32)
    presets = rng.normal(size=(len(EMOTIONS), D)).astype(np.float32)
    reference = rng.normal(size=(90, D)).astype(np.float32)
    return voice, presets, reference


def test_voice_is_left_untouched(features):
    voice, presets, _ = features
    assert make_direction(90, base_entry()) is None
    assert direct(voice, 0, 90, None) is voice
    assert make_direction(90, base_entry("named", "sad", 0.0), presets=presets) is None  # mix 0 = the voice


def test_named_emotion_and_mix(features):
    voice, presets, _ = features
    happy = presets[EMOTIONS.index("happy")]
    full = direct(voice, 0, 90, make_direction(90, base_entry("named", "happy", 1.0), presets=presets))
    np.testing.assert_allclose(full, np.tile(happy, (90, 1)), atol=1e-6)
    part = direct(voice, 0, 90, make_direction(90, base_entry("named", "happy", 0.3), presets=presets))
    np.testing.assert_allclose(part, 0.7 * voice + 0.3 * happy, atol=1e-6)


def test_reference_track_and_windows(features):
    voice, presets, reference = features
    d = make_direction(90, base_entry("reference", mix=0.5), parse_track("1:angry"), crossfade=0,
                       presets=presets, reference=reference)
    got = direct(voice, 0, 90, d)
    np.testing.assert_allclose(got[:30], 0.5 * voice[:30] + 0.5 * reference[:30], atol=1e-6)
    np.testing.assert_allclose(got[30:], np.tile(presets[0], (60, 1)), atol=1e-6)
    # a window of the take gets exactly its slice of the direction
    np.testing.assert_allclose(direct(voice[20:70], 20, 70, d), got[20:70], atol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        direct(voice[20:70], 20, 80, d)


def test_direction_errors(features):
    _, presets, _ = features
    with pytest.raises(EmotionError, match="emotion source must be one of voice, reference, named"):
        base_entry("file")
    with pytest.raises(EmotionError, match="needs an emotion; expected one of angry"):
        base_entry("named")
    with pytest.raises(EmotionError, match="'joy' is not an emotion"):
        base_entry("named", "joy")
    with pytest.raises(EmotionError, match="emotion mix must lie in 0..1"):
        base_entry("named", "sad", 1.01)
    with pytest.raises(EmotionError, match="crossfade must be a whole number of frames"):
        make_direction(90, base_entry("named", "sad"), crossfade=-1, presets=presets)
    partial = Presets({"sad": presets[5]}, {}).matrix(D)
    with pytest.raises(EmotionError, match="no preset for happy with this model"):
        make_direction(90, base_entry("named", "happy"), presets=partial)
    with pytest.raises(EmotionError, match="names a reference clip but none was given"):
        make_direction(90, base_entry("reference"))


# --- presets --------------------------------------------------------------------------------------
def test_presets_round_trip_and_path(tmp_path, features):
    _, presets, _ = features
    p = Presets({e: presets[i] for i, e in enumerate(EMOTIONS)}, {"how": "test"})
    path = tmp_path / "m.presets.npz"
    save_presets(path, p)
    back = load_presets(path)
    assert back.meta["how"] == "test"
    np.testing.assert_array_equal(back.matrix(D), presets)
    assert presets_path("models/emotalk_default.pt").as_posix() == "models/emotalk_default.presets.npz"
    assert presets_path("/x/EmoTalk.pth").name == "EmoTalk.presets.npz"
    assert presets_path("models/emotalk_default.safetensors").name == "emotalk_default.presets.npz"


def test_preset_file_errors(tmp_path):
    with pytest.raises(EmotionError, match=r"missing.presets.npz: no emotion presets for this model"):
        load_presets(tmp_path / "missing.presets.npz")
    bad = tmp_path / "bad.presets.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(EmotionError, match=r"bad.presets.npz: not an emotion presets file"):
        load_presets(bad)
    odd = tmp_path / "odd.presets.npz"
    np.savez(odd, emotions=np.array(["glee"]), features=np.zeros((1, D), np.float32), meta=np.array("{}"))
    with pytest.raises(EmotionError, match=r"odd.presets.npz: unknown emotion 'glee'"):
        load_presets(odd)
    with pytest.raises(EmotionError, match="preset 'sad' has 8 features, the model 16"):
        Presets({"sad": np.zeros(8, np.float32)}, {}).matrix(D)


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """The real torch backend on a small random-weight model."""
    from helpers import random_small_model

    from emotalk_blender.engine.network.torch_backend import TorchBackend

    pytest.importorskip("torch")
    return TorchBackend(random_small_model())


def _speech(tmp_path, text: str, voice: str = "en-us") -> np.ndarray:
    from helpers import espeak

    from emotalk_blender.engine.audio.decoding import load_audio

    return load_audio(espeak(text, tmp_path / f"{abs(hash(text))}.wav", voice=voice))


def test_make_preset_is_the_frame_mean_of_the_clips_features(tmp_path, backend):
    a = _speech(tmp_path, "Peter picked a basket of fresh apples.")
    b = _speech(tmp_path, "My mother baked a big plum pie.", voice="en-gb")
    fa, fb = clip_features(backend, a), clip_features(backend, b)
    assert fa.shape[1] == backend.config.emotion_dim
    want = np.concatenate([fa, fb]).mean(axis=0)
    np.testing.assert_allclose(make_preset(backend, [a, b]), want, rtol=1e-5, atol=1e-6)
    made = make_presets(backend, {"angry": [a], "Sad": [b]}, {"how": "test"})
    assert set(made.features) == {"angry", "sad"} and made.meta["emotion_dim"] == backend.config.emotion_dim
    with pytest.raises(EmotionError, match="'glum' is not an emotion"):
        make_presets(backend, {"glum": [a]})
    with pytest.raises(EmotionError, match="a preset needs at least one clip"):
        make_preset(backend, [])


def test_long_clip_features_in_windows(tmp_path, backend):
    line = _speech(tmp_path, "The quick brown fox jumps over the lazy dog near the river bank.")
    long = np.concatenate([line] * int(np.ceil(26 * SAMPLE_RATE / len(line))))[:26 * SAMPLE_RATE]
    f = clip_features(backend, long)
    assert f.shape == (26 * FPS, backend.config.emotion_dim) and np.isfinite(f).all()
    head = clip_features(backend, long[:18 * SAMPLE_RATE])
    # the first window covers the first 18 s by itself: same features there, up to the window's edge effects
    assert np.corrcoef(f[:15 * FPS].ravel(), head[:15 * FPS].ravel())[0, 1] > 0.99


def test_reference_file_problems_name_the_file(tmp_path, backend):
    with pytest.raises(AudioError, match=r"emotion reference: .*nothere.wav"):
        reference_features(backend, tmp_path / "nothere.wav", 30)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"emotion reference: .*empty.wav"):
        reference_features(backend, empty, 30)
    ok = _speech(tmp_path, "Look at the sky.")
    sf.write(tmp_path / "ok.wav", ok, 16000)
    assert reference_features(backend, tmp_path / "ok.wav", 77).shape == (77, backend.config.emotion_dim)
