"""Head motion from the voice (engine/direction/head_motion.py): the targets on real speech, direction, the
gaze's counter-rotation, NAME.head.npy from the command line, and strength 0 changing nothing."""
import glob
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotalk_blender.engine.direction import head_motion as hm
from emotalk_blender.engine.direction import head_stats as hs
from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.constants import FPS, frames_for_samples
from emotalk_blender.engine.direction.gaze import LOOK_RANGE_DEG, add_gaze, counter_rotation
from emotalk_blender.engine.pipeline import GenerateSettings, generate
from emotalk_blender.engine.errors import EmoTalkError

REPO = Path(__file__).resolve().parent.parent
ASTERISK = sorted(glob.glob("/usr/share/asterisk/sounds/en/*.wav"))
needs_asterisk = pytest.mark.skipif(len(ASTERISK) < 50, reason="asterisk-core-sounds-en-wav not installed")


@pytest.fixture(scope="module")
def prompts():
    """The 60 longest asterisk prompts (real recorded speech), 16 kHz mono."""
    clips = [load_audio(p) for p in ASTERISK]
    return sorted(clips, key=len)[-60:]


@needs_asterisk
def test_targets_on_real_speech(prompts):
    stats = hs.summary([(hm.head_motion(a, seed=i), a) for i, a in enumerate(prompts)], FPS)
    assert np.all((stats["sd"] >= 1.0) & (stats["sd"] <= 8.0)), stats
    assert 5.0 <= stats["p95_speed"] <= 60.0, stats
    assert stats["r"] >= 0.2, stats


@needs_asterisk
def test_no_periodic_motion(prompts):
    """The motion's spectral peaks stand out no more than those of noise of the same length do."""
    rng = np.random.default_rng(0)
    ours = [hs.peak_ratio(hm.head_motion(a, seed=i), FPS) for i, a in enumerate(prompts)]
    noise = [hs.peak_ratio(np.cumsum(rng.standard_normal((frames_for_samples(len(a)), 3)), axis=0), FPS)
             for a in prompts]
    assert np.median(ours) <= 1.5 * np.median(noise)
    # A 2 Hz wobble added to the same motion is caught by the same figure.
    motion = hm.head_motion(prompts[-1])
    wobble = motion + 3 * np.sin(2 * np.pi * 2 * np.arange(len(motion)) / FPS)[:, None]
    assert hs.peak_ratio(wobble, FPS) > 3 * np.median(noise)


def test_strength_zero_is_zeros_and_the_take_is_unchanged(speech_wav, tiny_checkpoint):
    audio = load_audio(speech_wav)
    frames = frames_for_samples(len(audio))
    assert not hm.head_motion(audio, strength=0.0).any() and hm.head_motion(audio, strength=0.0).shape == (frames, 3)
    assert not hm.head_motion(audio, strength=np.zeros(frames)).any()
    base = GenerateSettings(checkpoint=str(tiny_checkpoint), backend="numpy", gaze=0.5)
    today = generate(speech_wav, base)
    off = generate(speech_wav, GenerateSettings(checkpoint=str(tiny_checkpoint), backend="numpy", gaze=0.5,
                                                head_motion=0.0, head_style="lively", head_seed=7))
    assert np.array_equal(today, off)
    # Head motion on: the eyes counter-rotate (gaze on), nothing else of the face moves.
    on = generate(speech_wav, GenerateSettings(checkpoint=str(tiny_checkpoint), backend="numpy", gaze=0.5,
                                               head_motion=1.0))
    others = [i for i in range(52) if not list(INDEX)[i].startswith("eyeLook")]
    assert np.array_equal(today[:, others], on[:, others]) and not np.array_equal(today, on)


def test_seed_style_emotion_and_strength(speech_wav):
    audio = load_audio(speech_wav)
    a = hm.head_motion(audio, seed=1)
    assert a.dtype == np.float32 and a.shape == (frames_for_samples(len(audio)), 3)
    assert np.array_equal(a, hm.head_motion(audio, seed=1)) and not np.array_equal(a, hm.head_motion(audio, seed=2))
    sd = {s: np.mean([hs.axis_sd(hm.head_motion(audio, style=s, seed=k)).sum() for k in range(8)]) for s in hm.STYLES}
    assert sd["lively"] > sd["natural"] > sd["calm"]
    frames = len(a)
    angry = hm.emotion_gain([], frames, base="angry")
    sad = hm.emotion_gain([], frames, base="sad")
    assert np.all(angry > 1) and np.all(sad < 1)
    assert hs.axis_sd(hm.head_motion(audio, gain=angry)).sum() > hs.axis_sd(hm.head_motion(audio, gain=sad)).sum()
    assert np.allclose(hm.head_motion(audio, strength=0.5), 0.5 * hm.head_motion(audio), atol=1e-5)
    # Keyframed strength: off for the first half, on for the second.
    curve = np.r_[np.zeros(frames // 2), np.ones(frames - frames // 2)]
    half = hm.head_motion(audio, strength=curve)
    assert not half[:frames // 2].any() and np.array_equal(half[frames // 2:], hm.head_motion(audio)[frames // 2:])


def test_emotion_track_carries_the_amplitude(speech_wav):
    audio = load_audio(speech_wav)
    s = GenerateSettings(head_motion=1.0, emotion_track="0:sad,0.8:angry", crossfade=0).validated()
    head = hm.for_settings(audio, s)
    plain = hm.head_motion(audio)
    f = round(0.8 * FPS)
    assert np.allclose(head[:f], plain[:f] * hm.EMOTION_GAIN["sad"], atol=1e-4)
    assert np.allclose(head[f:], plain[f:] * hm.EMOTION_GAIN["angry"], atol=1e-4)


def test_nods_land_on_stressed_syllables(speech_wav):
    """The pitch's nod component dips (chin down) at the accents the procedure heard."""
    audio = load_audio(speech_wav)
    heard = hm.listen(audio)
    assert len(heard.accents) >= 3 and heard.speaking.any() and not heard.speaking.all()
    nods_only = hm.raw_motion(heard, hm.Style(turn=0, speech=0, drift=0), seed=0)
    assert np.all(nods_only[heard.accents, hm.PITCH] < 0)


def test_checks_name_the_control():
    for kw, text in (({"head_motion": 3.0}, "head_motion must lie in 0..2"),
                     ({"head_style": "wild"}, "head_style 'wild' is not a style"),
                     ({"head_seed": 1.5}, "head_seed must be a whole number"),
                     ({"head_seed": -1}, "head_seed must be a whole number >= 0"),
                     ({"head_motion": float("nan")}, "head_motion must lie in 0..2")):
        with pytest.raises(EmoTalkError, match=text):
            GenerateSettings(**kw).validated()


def test_counter_rotation_holds_fixation_until_the_next_saccade():
    head = np.zeros((60, 2))
    head[:, 0] = np.linspace(0, 12, 60)  # the head turns left steadily
    eyes = counter_rotation(head, [(30, 4)])
    # Before the saccade the eyes undo the turn exactly: world gaze is constant.
    assert np.allclose(eyes[:30] + head[:30], head[0])
    # After it the eyes hold the new fixation, taken where the head was when the saccade landed.
    assert np.allclose(eyes[34:] + head[34:], head[33])
    # Through add_gaze: world gaze (eye yaw + head yaw) holds still between saccades, the head never does.
    w = np.zeros((60, 52), np.float32)
    head3 = np.zeros((60, 3), np.float32)
    head3[:, 1] = np.linspace(0, 12, 60)
    out = add_gaze(w, 0.01, seed=0, head=head3)
    eye_yaw = (out[:, INDEX["eyeLookOutLeft"]] - out[:, INDEX["eyeLookInLeft"]]) * LOOK_RANGE_DEG
    still = np.abs(np.diff(eye_yaw + head3[:, 1])) < 0.02
    assert still.mean() > 0.6 and np.all(np.diff(head3[:, 1]) > 0.2)
    assert not np.array_equal(out, add_gaze(w, 0.01, seed=0))


def test_cli_writes_head_npy_beside_the_weights(tmp_path, speech_wav, tiny_checkpoint):
    out = tmp_path / "line.npy"
    r = subprocess.run([sys.executable, "-m", "emotalk_blender", "generate", str(speech_wav), "-o", str(out),
                        "--checkpoint", str(tiny_checkpoint), "--head-motion", "1", "--head-style", "calm",
                        "--head-seed", "4"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    head = np.load(tmp_path / "line.head.npy")
    assert head.dtype == np.float32 and head.shape == (len(np.load(out)), 3)
    s = GenerateSettings(head_motion=1.0, head_style="calm", head_seed=4).validated()
    assert np.array_equal(head, hm.for_settings(load_audio(speech_wav), s))
    r = subprocess.run([sys.executable, "-m", "emotalk_blender", "generate", str(speech_wav), "-o",
                        str(tmp_path / "x.npy"), "--head-style", "wild"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 1 and r.stderr.strip().startswith("error: --head-style 'wild' is not a style")
    assert not (tmp_path / "x.npy").exists() and not (tmp_path / "x.head.npy").exists()
    r = subprocess.run([sys.executable, "-m", "emotalk_blender", "generate", str(speech_wav), "-o",
                        str(tmp_path / "y.npy"), "--checkpoint", str(tiny_checkpoint)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and not (tmp_path / "y.head.npy").exists()  # off by default


def test_pitch_tracker_and_pitch_accents():
    sr = 16000
    t = np.arange(sr) / sr
    for f0 in (80.0, 150.0, 330.0):
        tone = (np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(4 * np.pi * f0 * t)).astype(np.float32)
        st = hm.pitch_semitones(tone)
        assert np.isfinite(st).all() and abs(100 * 2 ** (np.median(st) / 12) - f0) < 0.02 * f0
    noise = np.random.default_rng(0).standard_normal(sr).astype(np.float32)
    assert np.isnan(hm.pitch_semitones(noise)).all()  # unvoiced
    # Syllables of equal loudness, alternately low (110 Hz) and high (190 Hz): the high ones are the
    # pitch accents and get the larger nods.
    syll = np.zeros(int(0.5 * sr), np.float32)
    n = int(0.2 * sr)
    env = np.sin(np.pi * np.arange(n) / n) ** 2
    parts = []
    for k in range(8):
        f0 = 190.0 if k % 2 else 110.0
        s = syll.copy()
        s[:n] = env * np.sin(2 * np.pi * f0 * np.arange(n) / sr)
        parts.append(s)
    heard = hm.listen(np.concatenate(parts))
    onset = np.arange(8) * 15  # 0.5 s apart at 30 fps
    high = [p for a, p in zip(heard.accents, heard.prominence) if (np.abs(onset - a).argmin() % 2)]
    low = [p for a, p in zip(heard.accents, heard.prominence) if not (np.abs(onset - a).argmin() % 2)]
    assert len(high) >= 3 and len(low) >= 3 and min(high) > max(low)


def test_short_clips_and_silence_stay_small():
    """A few frames are not rescaled into large angles; digital silence only drifts (no speech heard)."""
    rng = np.random.default_rng(0)
    for n in (1, 534, 5000, 16000):
        noise = rng.standard_normal(n).astype(np.float32)
        assert all(np.abs(hm.head_motion(noise, seed=s)).max() < 15 for s in range(10))
        silence = np.zeros(n, np.float32)
        assert not hm.listen(silence).speaking.any()
        assert all(np.abs(hm.head_motion(silence, seed=s)).max() < 5 for s in range(10))
