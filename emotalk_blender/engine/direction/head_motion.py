"""Head motion from the voice: pitch, yaw and roll per 30 fps frame, numpy only (any checkpoint).

A procedure that listens to the audio's loudness and pitch, not to the network:

- nods: a chin-down-and-back on each stressed syllable (the sharpest rises of loudness while
  speaking), larger on pitch accents (a syllable pitched above the speaker's median), with a
  smaller random yaw and roll component;
- turns: at each phrase start (speech after a pause) the posture moves to a new direction, and
  in a pause of more than half a second it settles halfway back to centre;
- speech-coupled motion: band-limited noise (0.5-3 Hz) whose amplitude follows the loudness, so
  the head moves faster while the voice is loud (real heads do: r about 0.2 in 0.5 s windows);
- idle drift: slow noise below 0.3 Hz, always there.

Random spacings, durations and amplitudes (from the seed) keep it free of periodic motion. The
amplitudes were fitted on real heads (scripts/measure_head_motion.py: MediaPipe pose of GRID s1).

Conventions of the (T, 3) float32 output, degrees, head-local: column 0 pitch (> 0 chin up),
column 1 yaw (> 0 turning to the character's left), column 2 roll (> 0 tilting toward the
character's left shoulder). Strength 0 gives exact zeros.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..constants import FPS, SAMPLE_RATE, frames_for_samples
from ..errors import EmoTalkError

PITCH, YAW, ROLL = 0, 1, 2
AXES = ("pitch", "yaw", "roll")
SUFFIX = ".head.npy"  # beside NAME.npy


class HeadMotionError(EmoTalkError):
    """A head-motion control outside its range."""


@dataclass(frozen=True)
class Style:
    """Gains on the four components, and a tempo (> 1 slower movements)."""

    nod: float = 1.0
    turn: float = 1.0
    speech: float = 1.0
    drift: float = 1.0
    tempo: float = 1.0


STYLES = {
    "natural": Style(),
    "calm": Style(nod=0.6, turn=0.5, speech=0.5, drift=0.7, tempo=1.3),
    "lively": Style(nod=1.5, turn=1.6, speech=1.4, drift=1.2, tempo=0.85),
    "nodding": Style(nod=2.0, turn=0.6, speech=0.9, drift=0.8),
    "storyteller": Style(nod=0.9, turn=2.0, speech=1.1, drift=1.0, tempo=1.1),
    "anchor": Style(nod=0.5, turn=0.2, speech=0.3, drift=0.25, tempo=1.2),  # a seated reader (fitted to GRID s1)
}

# How much each emotion moves the head (anger and happiness more, sadness less); "voice" 1.
EMOTION_GAIN = {"angry": 1.35, "disgust": 1.0, "fear": 1.1, "happy": 1.3, "neutral": 1.0, "sad": 0.6,
                "surprise": 1.25}

# Fitted amplitudes (degrees) at strength 1, style natural: see scripts/measure_head_motion.py.
NOD_DEG = 2.6  # a typical stressed syllable's nod (pitch, chin down)
NOD_SIDE = 0.35  # yaw and roll of a nod, relative to its pitch
NOD_S = 0.45  # a nod's duration (raised cosine)
NOD_SPREAD = (0.6, 0.8, 1.0, 1.3, 1.7)  # times NOD_S, one drawn per nod
TURN_DEG = np.array([2.3, 3.4, 2.8])  # SD of a phrase's new posture per axis (pitch, yaw, roll)
TURN_S = 0.6  # duration of a turn
TURN_SPREAD = (0.7, 1.0, 1.4)  # times TURN_S, one drawn per turn
CENTRE_PULL = 0.35  # each new posture starts from this fraction of the way back to centre
SPEECH_DEG = np.array([0.8, 0.8, 0.8])  # SD of the loudness-coupled motion at full loudness
SPEECH_BAND = (0.5, 3.0)  # Hz
DRIFT_DEG = np.array([1.5, 1.8, 1.5])  # SD of the idle drift
DRIFT_HZ = 0.25  # the drift's spectrum rolls off above this
SILENCE_DB = 30.0  # below the loud frames' level by more than this: not speaking
QUIET_DB = -65.0  # dB of full scale: below this never speaking (a silent file is not a loud one)
PAUSE_S = 0.2  # a pause this long ends a phrase
SETTLE_S = 0.5  # a pause this long lets the head settle
ACCENT_GAP_S = 0.2  # stressed syllables at least this far apart
PITCH_RATE = 4000  # Hz: the pitch tracker's sample rate
PITCH_WINDOW_S = 0.04  # its window
VOICING = 0.45  # normalised autocorrelation peak above which a frame is voiced
PEAK_SPAN = 6  # lags searched for the top of the first good autocorrelation peak
PITCH_AT = (0, 2, 4)  # frames after a syllable's onset where its pitch is read
PITCH_ACCENT_ST = 3.0  # a syllable this many semitones above the clip's median pitch doubles its nod


def check_strength(strength, name: str = "head motion") -> float:
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not math.isfinite(strength) \
            or not 0.0 <= strength <= 2.0:
        raise HeadMotionError(f"{name} must lie in 0..2 (0 = off, 1 = natural), got {strength}")
    return float(strength)


def check_style(style: str, name: str = "head style") -> str:
    key = str(style).strip().lower()
    if key not in STYLES:
        raise HeadMotionError(f"{name} {style!r} is not a style; expected one of {', '.join(STYLES)}")
    return key


def check_seed(seed, name: str = "head seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:  # numpy takes none below 0
        raise HeadMotionError(f"{name} must be a whole number >= 0, got {seed!r}")
    return int(seed)


# --- listening --------------------------------------------------------------------------------
def loudness_db(audio: np.ndarray, frames: int | None = None) -> np.ndarray:
    """(frames,) RMS level in dB of each 1/30 s of 16 kHz mono ``audio`` (-100 for silence)."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    frames = frames_for_samples(len(x)) if frames is None else int(frames)
    edges = np.minimum(np.round(np.arange(frames + 1) * (SAMPLE_RATE / FPS)).astype(np.int64), len(x))
    count = np.diff(edges)
    sums = np.zeros(frames)
    full = count > 0  # reduceat over float32 squares: sums of ~533 samples, no float64 copy of the audio
    if full.any():
        sums[full] = np.add.reduceat(x * x, edges[:-1][full])
    mean = sums / np.maximum(count, 1)
    return 10.0 * np.log10(mean + 1e-10)


def pitch_semitones(audio: np.ndarray, frames: int | None = None, at: np.ndarray | None = None) -> np.ndarray:
    """(frames,) the voice's pitch in semitones above 100 Hz, NaN where it is not voiced; only at
    the frame indices ``at`` when given (the head motion asks around its syllables only: speed).

    Normalised autocorrelation of a 40 ms window at each frame's centre, on the audio averaged down
    to 4 kHz (enough for 70-400 Hz voices; all frames in one small FFT), its highest peak between 70
    and 400 Hz refined by a parabola; voiced when that peak is above VOICING of the energy.
    """
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    frames = frames_for_samples(len(x)) if frames is None else int(frames)
    if frames == 0:
        return np.zeros(0)
    frames_at = np.arange(frames) if at is None else np.asarray(at, np.int64)
    frames = len(frames_at)
    if frames == 0 or len(x) == 0:
        return np.full(frames, np.nan)
    step = SAMPLE_RATE // PITCH_RATE
    win = round(PITCH_WINDOW_S * PITCH_RATE)
    # Only the windows read are gathered (16 kHz; at the ends, the first or last whole window), then
    # box-averaged down to 4 kHz.
    span = win * step
    if len(x) < span:
        x = np.pad(x, (0, span - len(x)))
    first = np.round((frames_at + 0.5) * (SAMPLE_RATE / FPS)).astype(np.int64) - span // 2
    first = np.clip(first, 0, len(x) - span)
    seg = np.lib.stride_tricks.sliding_window_view(x, span)[first].reshape(frames, win, step).mean(axis=2)
    window = np.hanning(win + 2)[1:-1]  # no zero ends: the window's own autocorrelation divides below
    seg = (seg - seg.mean(axis=1, keepdims=True)) * window.astype(np.float32)
    spec = np.fft.rfft(seg, n=2 * win, axis=1)
    ac = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, n=2 * win, axis=1)[:, :win]
    wspec = np.fft.rfft(window, n=2 * win)
    ac = ac / (np.fft.irfft(np.abs(wspec) ** 2, n=2 * win)[:win] / np.sum(window ** 2))  # Boersma (1993)
    lo, hi = PITCH_RATE // 400, PITCH_RATE // 70 + 1
    rows = np.arange(frames)
    band = ac[:, lo:hi]
    # The shortest lag within 10 % of the best (a period's multiples score as high: octave errors),
    # then the top of that peak.
    first = np.argmax(band >= 0.9 * band.max(axis=1, keepdims=True), axis=1)
    ahead = first[:, None] + np.arange(PEAK_SPAN)[None, :]
    ahead = np.minimum(ahead, hi - lo - 1)
    lag = lo + ahead[rows, np.argmax(band[rows[:, None], ahead], axis=1)]
    a, b, c = ac[rows, lag - 1], ac[rows, lag], ac[rows, np.minimum(lag + 1, win - 1)]
    shift = np.clip(0.5 * (a - c) / np.where(a - 2 * b + c < 0, a - 2 * b + c, -1e-12), -0.5, 0.5)
    peak = b / np.maximum(ac[:, 0], 1e-12)
    semitones = 12 * np.log2(PITCH_RATE / (lag + shift) / 100.0)
    return np.where(peak > VOICING, semitones, np.nan)


def _moving_average(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1 or len(x) == 0:
        return x.astype(np.float64)
    c = np.concatenate([[0.0], np.cumsum(np.pad(x, (n // 2, n - 1 - n // 2), mode="edge"))])
    return (c[n:] - c[:-n]) / n


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


@dataclass
class Listening:
    """What the procedure hears, per frame."""

    loud: np.ndarray  # 0..1 loudness envelope (0 at SILENCE_DB below the loud level)
    speaking: np.ndarray  # bool
    accents: np.ndarray  # frame indices of stressed syllables
    prominence: np.ndarray  # 0..1 per accent
    phrase_starts: np.ndarray  # frames where speech resumes after a pause (and the first)
    settles: np.ndarray  # (start, end) of pauses long enough to settle in, shape (n, 2)
    pitch_accent: np.ndarray | None = None  # 0..2 per accent: its pitch above the median, in PITCH_ACCENT_ST


def listen(audio: np.ndarray, frames: int | None = None) -> Listening:
    db = loudness_db(audio, frames)
    n = len(db)
    top = float(np.percentile(db, 95)) if n else 0.0
    loud = np.clip((db - (top - SILENCE_DB)) / SILENCE_DB, 0.0, 1.0)
    loud[db < QUIET_DB] = 0.0  # digital silence or hiss is never speech, however loud the rest is
    speaking = loud > 0.0
    # Gaps shorter than a pause (stop closures, short breaths) stay inside the phrase.
    pause_frames = round(PAUSE_S * FPS)
    for a, b in _runs(~speaking):
        if b - a < pause_frames and a > 0 and b < n:
            speaking[a:b] = True
    starts = [a for a, _ in _runs(speaking)]
    settles = [(a, b) for a, b in _runs(~speaking) if b - a >= round(SETTLE_S * FPS) and a > 0]
    # Stressed syllables: local maxima of the rise of the smoothed level, while speaking.
    smooth = _moving_average(db, 3)
    rise = np.diff(smooth, prepend=smooth[:1]) if n else smooth
    peak = (np.r_[rise[1:], -np.inf] <= rise) & (np.r_[-np.inf, rise[:-1]] < rise)
    cand = np.flatnonzero((rise > 0) & speaking & peak)
    gap = round(ACCENT_GAP_S * FPS)
    order = cand[np.argsort(-rise[cand], kind="stable")]
    taken = np.zeros(n + 2 * gap, bool)
    chosen = []
    for f in order:  # strongest first, none within ``gap`` of a stronger one
        if not taken[f:f + 2 * gap + 1].any():
            chosen.append(f)
            taken[f + gap] = True
    accents = np.sort(np.array(chosen, dtype=np.int64))
    # Pitch accents: a syllable whose pitch rises above the speaker's median (taken over the
    # syllables) nods more. The pitch is tracked on the syllables' vowels only (they follow the onset).
    near = np.clip(accents[:, None] + np.array(PITCH_AT)[None, :], 0, max(n - 1, 0))
    pitch = pitch_semitones(audio, n, near.ravel()).reshape(near.shape)
    voiced = np.isfinite(pitch)
    excursion = np.zeros(len(accents))
    if voiced.sum() >= 3:
        above = np.where(voiced, pitch - np.median(pitch[voiced]), -np.inf)
        excursion = np.clip(above.max(axis=1) / PITCH_ACCENT_ST, 0.0, 2.0)
    strength = rise[accents] * loud[accents] * (1.0 + excursion) if len(accents) else np.zeros(0)
    prominence = np.clip(strength / (np.percentile(strength, 90) + 1e-9), 0.0, 1.0) if len(accents) else strength
    return Listening(loud, speaking, accents, prominence, np.array(starts, dtype=np.int64),
                     np.array(settles, dtype=np.int64).reshape(-1, 2), excursion)


# --- moving ---------------------------------------------------------------------------------
def _raised_cosine(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(n) + 0.5) / n)


def _band_noise(rng, frames: int, low: float, high: float, axes: int = 3) -> np.ndarray:
    """(frames, axes) Gaussian noise with unit SD, its spectrum flat between ``low`` and ``high`` Hz
    (soft edges), made in the frequency domain (no filter loop)."""
    if frames == 0:
        return np.zeros((0, axes))
    size = max(frames, 20 * FPS)  # at least 20 s, so that the slowest drift has its full variance
    freq = np.fft.rfftfreq(size, 1.0 / FPS)
    gain = 1.0 / np.sqrt(1.0 + (freq / high) ** 4)
    if low > 0:
        gain = gain * (freq / low) ** 2 / np.sqrt(1.0 + (freq / low) ** 4)
    spec = (rng.standard_normal((len(freq), axes)) + 1j * rng.standard_normal((len(freq), axes))) * gain[:, None]
    out = np.fft.irfft(spec, n=size, axis=0)
    sd = out.std(axis=0)  # over the whole generated length: a short clip's few frames are not rescaled
    return (out / np.where(sd > 0, sd, 1.0))[:frames]


def _smooth_steps(steps: np.ndarray, n: int) -> np.ndarray:
    """Piecewise-constant (frames, 3) -> the same with each change eased over ``n`` frames."""
    if n <= 1 or len(steps) == 0:
        return steps
    k = _raised_cosine(n)
    k /= k.sum()
    padded = np.pad(steps, ((n - 1, 0), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, i], k, mode="valid") for i in range(steps.shape[1])], axis=1)


def raw_motion(heard: Listening, style: Style, seed: int) -> np.ndarray:
    """(frames, 3) float64 degrees at strength 1 of ``style`` for what was heard."""
    n = len(heard.loud)
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 3))
    if n == 0:
        return out
    # Nods: an impulse per accent, shaped by a raised cosine whose peak sits on the syllable; each
    # nod takes one of a few durations at random (one fixed duration would show as a spectral peak).
    amps = NOD_DEG * style.nod * heard.prominence * rng.uniform(0.5, 1.5, len(heard.accents))
    side = rng.standard_normal((len(amps), 2)) * NOD_SIDE
    kind = rng.integers(0, len(NOD_SPREAD), len(amps))
    for k, spread in enumerate(NOD_SPREAD):
        nod_n = max(3, round(NOD_S * spread * style.tempo * FPS))
        mine = kind == k
        impulses = np.zeros((n + nod_n, 3))
        at = heard.accents[mine] + nod_n // 2  # shift so that the kernel's middle lands on the accent
        impulses[at, PITCH] = -amps[mine]  # chin down
        impulses[at, YAW] = amps[mine] * side[mine, 0]
        impulses[at, ROLL] = amps[mine] * side[mine, 1]
        kernel = _raised_cosine(nod_n)
        for axis in range(3):
            out[:, axis] += np.convolve(impulses[:, axis], kernel)[nod_n:nod_n + n]
    # Turns: a new posture at each phrase start (and within long phrases), halfway home in long pauses.
    steps = np.zeros((len(TURN_SPREAD), n, 3))  # each turn eased over one of a few durations, at random
    pose = np.zeros(3)
    changes = [(int(f), "turn") for f in heard.phrase_starts]
    changes += [(int(a + (b - a) // 3), "settle") for a, b in heard.settles]
    for a, b in zip(heard.phrase_starts, np.r_[heard.phrase_starts[1:], n]):  # long phrases turn again
        if b - a > 3 * FPS:
            mid = heard.accents[(heard.accents > a + 1.5 * FPS) & (heard.accents < b - FPS)]
            if len(mid):
                changes.append((int(rng.choice(mid)), "turn"))
    for frame, kind in sorted(changes):
        if kind == "turn":
            new = (1 - CENTRE_PULL) * pose + rng.standard_normal(3) * TURN_DEG * style.turn
        else:
            new = 0.5 * pose
        steps[rng.integers(len(TURN_SPREAD)), max(0, frame - 3):] += new - pose  # the head leads the voice
        pose = new
    for k, spread in enumerate(TURN_SPREAD):
        out += _smooth_steps(steps[k], max(3, round(TURN_S * spread * style.tempo * FPS)))
    # Speech-coupled motion, scaled by the (smoothed) loudness.
    env = _moving_average(heard.loud, 5)[:, None]
    band = (SPEECH_BAND[0] / style.tempo, SPEECH_BAND[1] / style.tempo)
    out += _band_noise(rng, n, *band) * SPEECH_DEG * style.speech * env
    # Idle drift.
    out += _band_noise(rng, n, 0.0, DRIFT_HZ / style.tempo) * DRIFT_DEG * style.drift
    return out


def emotion_gain(entries, frames: int, crossfade: int = 10, base: str = "voice") -> np.ndarray:
    """(frames,) amplitude factor from an emotion track (``emotion_parsing.TrackEntry`` list, strength
    mixing the emotion's gain with 1), crossfaded as the track is; 1 where the voice leads."""
    from .emotion import COLUMNS, track_weights
    from .emotion_parsing import TrackEntry

    weights = track_weights(entries, frames, crossfade, base=TrackEntry(0, base, 1.0) if base != "voice" else None)
    gains = np.array([EMOTION_GAIN.get(c, 1.0) for c in COLUMNS])
    return 1.0 + weights.astype(np.float64) @ (gains - 1.0)


def head_motion(audio: np.ndarray, frames: int | None = None, strength=1.0, style: str = "natural",
                seed: int = 0, gain: np.ndarray | None = None) -> np.ndarray:
    """(frames, 3) float32 pitch, yaw, roll in degrees for mono 16 kHz ``audio``.

    ``strength``: 0..2, or a (frames,) array of them (keyframed over time); ``gain``: an extra
    per-frame factor (``emotion_gain``). Strength 0 everywhere gives zeros.
    """
    frames = frames_for_samples(len(np.asarray(audio).reshape(-1))) if frames is None else int(frames)
    s = np.asarray(strength, dtype=np.float64)
    if s.ndim == 0:
        s = np.full(frames, check_strength(float(s)))
    elif s.shape != (frames,) or not np.all(np.isfinite(s)) or s.min(initial=0) < 0 or s.max(initial=0) > 2:
        raise HeadMotionError(f"a head-motion strength curve must be {frames} values in 0..2")
    if not s.any():
        return np.zeros((frames, 3), np.float32)
    motion = raw_motion(listen(audio, frames), STYLES[check_style(style)], check_seed(seed))
    scale = s if gain is None else s * np.asarray(gain, dtype=np.float64)
    return (motion * scale[:, None]).astype(np.float32)


def for_settings(audio: np.ndarray, settings, frames: int | None = None) -> np.ndarray | None:
    """The head motion a ``GenerateSettings`` asks for (None when its head_motion is 0): strength,
    style and seed from the settings, amplitude following the named emotion and the emotion track.
    ``head_motion`` may also be a (frames,) strength curve (keyframed in Blender)."""
    strength = getattr(settings, "head_motion", 0.0)
    strength = np.asarray(0.0 if strength is None else strength, dtype=np.float64)
    if not strength.any():
        return None
    from .emotion_parsing import track_entries

    frames = frames_for_samples(len(audio)) if frames is None else frames
    base = settings.emotion if getattr(settings, "emotion_source", "voice") == "named" else "voice"
    entries = track_entries(settings.emotion_track)
    gain = emotion_gain(entries, frames, settings.crossfade, base=base)
    if base != "voice":
        gain = 1.0 + (gain - 1.0) * settings.emotion_mix if not entries else gain
    return head_motion(audio, frames, strength, settings.head_style, settings.head_seed, gain)


def motion_for_file(audio_path, settings, frames: int | None = None) -> np.ndarray:
    """``for_settings`` for an audio file: (frames, 3) float32 (zeros when head motion is off)."""
    from ..audio.decoding import load_audio

    audio = load_audio(audio_path)
    frames = frames_for_samples(len(audio)) if frames is None else frames
    head = for_settings(audio, settings, frames)
    return np.zeros((frames, 3), np.float32) if head is None else head


def head_path(weights_path) -> str:
    """NAME.head.npy beside NAME.npy."""
    text = str(weights_path)
    return (text[:-4] if text.endswith(".npy") else text) + SUFFIX

