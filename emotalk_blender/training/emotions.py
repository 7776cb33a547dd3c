"""Emotions, intensities and speaking styles: what the face does and how the voice sounds.

EMOTIONS is the 7-class order of the released emotion head. Each emotion has, at high intensity
(level 1): a face offset (brows, eyes, cheeks, mouth corners, nose), an articulation gain (how
wide the jaw and lips move) and voice deltas (pitch level and range, rate, loudness, pauses),
chosen from the acoustic-prosody literature of acted emotion (anger: wide pitch, fast and loud;
happiness: high, very wide pitch; surprise: highest and widest pitch, slow, with gaps; sadness:
lower, narrower, slower, quieter, with long pauses; fear: high, narrow and fastest; disgust: a
little low, slow, with long gaps between words), and a voice quality (VOICE_QUALITY: tense, harsh
anger; bright happiness; trembling fear; dark sadness; rough disgust; breathy surprise), which is
what lets a listener tell emotions apart across voices whose own pitch and rate differ as much as
the emotions' deltas. Level 0 (low) applies LOW_INTENSITY of every face offset and
LOW_VOICE_INTENSITY of every voice delta: a mild emotion shows little on the face but must still
be heard, or no recogniser can tell it from neutral (at half strength a linear probe on hand-made
acoustic features reached 78 % at low intensity on held-out voices, the trained model 57 %).

The 24 speaking styles (``person`` 0..23, as the released model's one-hot) each pair an espeak
voice with a face style (amplitude gain, left/right asymmetry, a resting expression, blink rate).
Four more speakers (24..27) have voices heard only in the held-out speaker split; their faces use
a trained person's style so the person one-hot never sees an untrained index.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from ..engine.arkit import ARKIT_NAMES, BLINK_CHANNELS, INDEX, NUM_BLENDSHAPES
from ..engine.constants import EMOTIONS, FPS, NUM_PERSONS, SAMPLE_RATE
from ..engine.motion.postprocess import BLINK_CURVES, BLINK_LEN, FIRST_BLINK_MAX, smooth
from .espeak import Voice
from .visemes import MOUTH_CHANNELS

LEVELS = (0, 1)  # 0 = low, 1 = high intensity
LOW_INTENSITY = 0.5  # face
LOW_VOICE_INTENSITY = 0.75  # voice


def _face(**weights: float) -> np.ndarray:
    """52-vector; an unsided name applies to both sides."""
    v = np.zeros(NUM_BLENDSHAPES, np.float32)
    for name, w in weights.items():
        for n in ((name,) if name in INDEX else (name + "Left", name + "Right")):
            v[INDEX[n]] = w
    return v


# Face offsets at high intensity (added to the articulated mouth, before the style gain).
EMOTION_FACE: dict[str, np.ndarray] = {
    "angry": _face(browDown=0.65, eyeSquint=0.35, noseSneer=0.3, mouthPress=0.2, mouthFrown=0.2,
                   cheekSquint=0.12, mouthStretch=0.1, jawForward=0.08),
    "disgust": _face(noseSneer=0.55, mouthUpperUp=0.3, browDown=0.35, cheekSquint=0.35, eyeSquint=0.3,
                     mouthFrown=0.25, mouthShrugUpper=0.25, mouthLeft=0.08),
    "fear": _face(browInnerUp=0.7, browOuterUp=0.3, eyeWide=0.55, mouthStretch=0.4, mouthFrown=0.12,
                  browDown=0.1),
    "happy": _face(mouthSmile=0.65, cheekSquint=0.45, eyeSquint=0.25, browOuterUp=0.12, mouthDimple=0.2,
                   cheekPuff=0.05),
    "neutral": _face(),
    "sad": _face(browInnerUp=0.55, mouthFrown=0.5, browDown=0.15, eyeLookDown=0.2, mouthShrugLower=0.3,
                 eyeBlink=0.18, mouthPress=0.1),
    "surprise": _face(browInnerUp=0.65, browOuterUp=0.65, eyeWide=0.65, jawOpen=0.1, mouthFunnel=0.08),
}
# How wide the mouth moves relative to neutral speech, at high intensity.
EMOTION_ARTICULATION = {"angry": 1.2, "disgust": 0.85, "fear": 0.9, "happy": 1.1, "neutral": 1.0,
                        "sad": 0.75, "surprise": 1.2}


@dataclass(frozen=True)
class VoiceDelta:
    """Voice change at high intensity: espeak pitch/range points (0..100 scales), rate and volume
    factors, extra word gap (10 ms units) and a pause at commas (ms)."""
    pitch: float = 0.0
    pitch_range: float = 0.0
    rate: float = 1.0
    volume: float = 1.0
    word_gap: float = 0.0
    comma_pause_ms: float = 0.0


EMOTION_VOICE: dict[str, VoiceDelta] = {
    "angry": VoiceDelta(pitch=4, pitch_range=30, rate=1.2, volume=1.6, comma_pause_ms=30),
    "disgust": VoiceDelta(pitch=-4, pitch_range=15, rate=0.85, volume=1.0, word_gap=6, comma_pause_ms=300),
    "fear": VoiceDelta(pitch=22, pitch_range=-30, rate=1.3, volume=0.8, comma_pause_ms=60),
    "happy": VoiceDelta(pitch=14, pitch_range=45, rate=1.05, volume=1.3, comma_pause_ms=100),
    "neutral": VoiceDelta(comma_pause_ms=120),
    "sad": VoiceDelta(pitch=-16, pitch_range=-35, rate=0.72, volume=0.65, word_gap=3, comma_pause_ms=400),
    "surprise": VoiceDelta(pitch=25, pitch_range=55, rate=0.88, volume=1.35, word_gap=2, comma_pause_ms=150),
}


@dataclass(frozen=True)
class VoiceQuality:
    """Voice quality at high intensity, applied to the spoken audio (timing untouched):
    ``drive`` soft saturation (tense, harsh phonation), ``tilt_db`` high-shelf gain above 2 kHz
    (bright > 0, dark < 0), ``tremor`` amplitude-modulation depth at 5.5-7.5 Hz (a trembling voice),
    ``rough`` modulation depth at 30-45 Hz (rough, creaky phonation), ``breath`` aspiration noise
    following the speech envelope, relative to the speech RMS."""
    drive: float = 0.0
    tilt_db: float = 0.0
    tremor: float = 0.0
    rough: float = 0.0
    breath: float = 0.0


VOICE_QUALITY: dict[str, VoiceQuality] = {
    # One marker of its own per emotion, strong enough to survive a change of voice (a 6-minute
    # recogniser with the first, milder table confused sad with disgust and happy with angry).
    "angry": VoiceQuality(drive=8.0, tilt_db=3.0),
    "disgust": VoiceQuality(rough=0.8),
    "fear": VoiceQuality(tremor=0.9, breath=0.03),
    "happy": VoiceQuality(tilt_db=9.0),
    "neutral": VoiceQuality(),
    "sad": VoiceQuality(tilt_db=-12.0, breath=0.04),
    "surprise": VoiceQuality(tilt_db=3.0, breath=0.08),
}
assert tuple(EMOTION_FACE) == tuple(EMOTION_VOICE) == tuple(VOICE_QUALITY) == tuple(EMOTION_ARTICULATION) == EMOTIONS


def intensity(level: int, voice: bool = False) -> float:
    """The share of the high-intensity face offset (or, with ``voice``, voice delta) at ``level``."""
    if level not in LEVELS:
        raise ValueError(f"level must be 0 or 1, not {level!r}")
    return 1.0 if level == 1 else LOW_VOICE_INTENSITY if voice else LOW_INTENSITY


@dataclass(frozen=True)
class Speaker:
    """An espeak voice with offsets, and the face style of ``person``."""
    voice: str
    variant: str
    pitch: int  # espeak 0..100 base (50 = voice default)
    pitch_range: int
    rate: int  # words per minute
    person: int


@dataclass(frozen=True)
class FaceStyle:
    gain: float  # articulation amplitude
    asymmetry: float  # >0: left side stronger
    rest: np.ndarray  # resting expression offsets (52)
    blink_gap: tuple[int, int]  # frames between blinks (min, max)


def _speakers() -> tuple[Speaker, ...]:
    voices = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
    # 24 variants from every family espeak-ng has (its standard male and female variants, named
    # formant voices, Klatt-synthesiser voices), one per training speaker: a recogniser that heard
    # only the 12 standard variants did not carry emotion over to unlike voices (40 % on held-out
    # voices after 6 minutes). The held-out voices are none of these nor a near copy of one.
    variants = ["m1", "f1", "m3", "f2", "m2", "f3", "m4", "f4", "m5", "f5", "m6", "m7",
                "adam", "Andrea", "edward", "steph", "Gene", "aunty", "Michael", "anika", "klatt3", "quincy",
                "Alex", "Nguyen"]
    out = []
    for p in range(NUM_PERSONS):
        # Spread pitch/rate offsets over a small grid so no two styles coincide.
        out.append(Speaker(voices[p % len(voices)], variants[p % len(variants)], 42 + 4 * (p % 5),
                           40 + 5 * (p % 4), 150 + 10 * (p % 6), p))
    held_out = [("en-us", "Annie", 3), ("en", "david", 9), ("en-gb-x-rp", "belinda", 15), ("en-us", "john", 21)]
    for k, (voice, variant, person) in enumerate(held_out):
        out.append(Speaker(voice, variant, 46 + 3 * k, 45 + 4 * k, 160 + 5 * k, person))
    return tuple(out)


SPEAKERS: tuple[Speaker, ...] = _speakers()
TRAIN_SPEAKERS = tuple(range(NUM_PERSONS))
HELD_OUT_SPEAKERS = tuple(range(NUM_PERSONS, len(SPEAKERS)))


def _styles() -> tuple[FaceStyle, ...]:
    rests = [
        _face(), _face(mouthSmile=0.08, cheekSquint=0.04), _face(browInnerUp=0.1), _face(mouthFrown=0.08),
        _face(browDown=0.08, eyeSquint=0.06), _face(eyeWide=0.08, browOuterUp=0.06), _face(mouthPress=0.08),
        _face(mouthSmileLeft=0.1), _face(jawOpen=0.04, mouthLowerDown=0.03), _face(noseSneer=0.05),
    ]
    out = []
    for p in range(NUM_PERSONS):
        out.append(FaceStyle(gain=0.8 + 0.45 * ((p * 7) % 24) / 23, asymmetry=0.12 * (((p * 5) % 9) - 4) / 4,
                             rest=rests[p % len(rests)], blink_gap=(60 + 10 * (p % 4), 140 + 15 * (p % 4))))
    return tuple(out)


FACE_STYLES: tuple[FaceStyle, ...] = _styles()


def speaker_voice(speaker: int, emotion: str, level: int) -> Voice:
    """The espeak request for ``speaker`` speaking with ``emotion`` at ``level``."""
    s, d, k = SPEAKERS[speaker], EMOTION_VOICE[emotion], intensity(level, voice=True)
    return Voice(
        name=s.voice, variant=s.variant,
        pitch=int(np.clip(round(s.pitch + k * d.pitch), 0, 100)),
        pitch_range=int(np.clip(round(s.pitch_range + k * d.pitch_range), 0, 100)),
        rate=int(np.clip(round(s.rate * (1 + k * (d.rate - 1))), 80, 450)),
        volume=int(np.clip(round(100 * (1 + k * (d.volume - 1))), 10, 200)),
        word_gap=int(round(k * d.word_gap)),
        comma_pause_ms=int(round(k * d.comma_pause_ms if emotion != "neutral" else d.comma_pause_ms)),
    )


def colour_voice(audio: np.ndarray, emotion: str, level: int, rng: np.random.Generator) -> np.ndarray:
    """``audio`` (16 kHz) with the voice quality of ``emotion`` at ``level``; same length, same timing."""
    q, k = VOICE_QUALITY[emotion], intensity(level, voice=True)
    x = np.asarray(audio, np.float64)
    if q == VoiceQuality() or x.size == 0:
        return x.astype(np.float32)
    peak = float(np.max(np.abs(x))) or 1.0
    t = np.arange(len(x)) / SAMPLE_RATE
    if q.drive:
        d = 1.0 + k * q.drive
        x = peak * np.tanh(d * x / peak) / np.tanh(d)
    if q.tilt_db:
        high = sosfilt(_SHELF, x)  # the part above 2 kHz, boosted or cut
        x = x + (10 ** (k * q.tilt_db / 20) - 1) * high
    if q.tremor:
        x = x * (1 + k * q.tremor * np.sin(2 * np.pi * rng.uniform(5.5, 7.5) * t + rng.uniform(0, 2 * np.pi)))
    if q.rough:
        x = x * (1 + k * q.rough * np.sin(2 * np.pi * rng.uniform(30, 45) * t + rng.uniform(0, 2 * np.pi)))
    if q.breath:
        env = np.sqrt(np.convolve(np.asarray(audio, np.float64) ** 2, np.ones(320) / 320, mode="same"))
        noise = sosfilt(_SHELF, rng.standard_normal(len(x)))
        x = x + 3 * k * q.breath * env * noise  # unit-variance noise at 3 x breath of the local level
    x *= min(1.0, 0.99 / (float(np.max(np.abs(x))) + 1e-12))
    return x.astype(np.float32)


_SHELF = butter(2, 2000, btype="highpass", fs=SAMPLE_RATE, output="sos")


def blink_track(n_frames: int, gap: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(n_frames,) eyelid closure: the released demo's blink curves (engine.motion.postprocess) at random
    times, the first in 0..60 frames, then every ``gap`` frames (a per-style blink rate)."""
    out = np.zeros(n_frames, np.float32)
    start = int(rng.integers(0, FIRST_BLINK_MAX + 1))
    while start < n_frames - BLINK_LEN:
        out[start:start + BLINK_LEN] = BLINK_CURVES[int(rng.integers(0, len(BLINK_CURVES)))]
        start += int(rng.integers(gap[0], gap[1] + 1))
    return out


def _gaze(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Small saccades: piecewise-constant gaze held 0.4-1.5 s, both eyes together."""
    g = np.zeros((n_frames, NUM_BLENDSHAPES), np.float32)
    t = 0
    while t < n_frames:
        hold = int(rng.integers(12, 46))
        h, v = rng.normal(0, 0.06), rng.normal(0, 0.05)
        sl = slice(t, t + hold)
        # Looking right: right eye out, left eye in (ARKit channels are per eye).
        g[sl, INDEX["eyeLookOutRight"]] = g[sl, INDEX["eyeLookInLeft"]] = max(h, 0)
        g[sl, INDEX["eyeLookInRight"]] = g[sl, INDEX["eyeLookOutLeft"]] = max(-h, 0)
        g[sl, INDEX["eyeLookUpLeft"]] = g[sl, INDEX["eyeLookUpRight"]] = max(v, 0)
        g[sl, INDEX["eyeLookDownLeft"]] = g[sl, INDEX["eyeLookDownRight"]] = max(-v, 0)
        t += hold
    return g


_LEFT = np.array([n.endswith("Left") for n in ARKIT_NAMES])
_RIGHT = np.array([n.endswith("Right") for n in ARKIT_NAMES])


def compose(mouth: np.ndarray, emotion: str, level: int, person: int, rng: np.random.Generator,
            seal: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
    """Full face (T, 52) in [0, 1]: style rest + gained articulation + emotion layer + gaze + blinks,
    then Savitzky-Golay (5, 2) as the paper's dataset step.

    ``seal`` (optional) re-applies the bilabial lip seal after the emotion layer, so an emotion that
    raises the upper lip cannot open a /p/.
    """
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; expected one of {EMOTIONS}")
    style, k = FACE_STYLES[person], intensity(level)
    n = len(mouth)
    art_gain = style.gain * (1 + k * (EMOTION_ARTICULATION[emotion] - 1))
    y = np.zeros_like(mouth, dtype=np.float32)
    y[:, MOUTH_CHANNELS] = mouth[:, MOUTH_CHANNELS] * art_gain
    # The emotion builds up over the first half second and breathes slowly afterwards.
    t = np.arange(n) / FPS
    env = (0.6 + 0.4 * np.clip(t / 0.5, 0, 1)) * (1 + 0.06 * np.sin(2 * np.pi * t / rng.uniform(1.5, 3.0)
                                                                     + rng.uniform(0, 2 * np.pi)))
    y += env[:, None] * (k * EMOTION_FACE[emotion])[None, :] + style.rest[None, :]
    y += _gaze(n, rng)
    # Asymmetry: one side of the face moves more than the other.
    y[:, _LEFT] *= 1 + style.asymmetry
    y[:, _RIGHT] *= 1 - style.asymmetry
    if seal is not None:
        seal(y)
    blink = blink_track(n, style.blink_gap, rng)
    for c in BLINK_CHANNELS:
        y[:, c] = np.maximum(y[:, c], blink)
    y = smooth(y)
    return np.clip(y, 0.0, 1.0).astype(np.float32)
