"""Directing the emotion: the decoder's emotion features (e832) taken from another source.

EmoTalk's decoder reads the content of one clip and the emotion of another (the paper's
cross-reconstruction), so the face's emotion is chosen by replacing the voice's emotion features
before decode, while the lips still follow the line's content. Sources: ``voice`` (the line's own
features, today's behaviour), ``reference`` (another clip's features, interpolated linearly to the
line's frame count) and ``named`` (an emotion preset: a model's mean features over clips spoken
in that emotion). A mix 0..1 blends the voice's features with the source's; a track switches the
emotion over time with a linear cross-fade. numpy only (no torch, no bpy).
"""
from __future__ import annotations

import io
import json
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .constants import EMOTIONS, FPS, frames_for_samples
from .errors import EmoTalkError

EMOTION_SOURCES = ("voice", "reference", "named")
# Columns of the per-frame direction weights: the 7 presets, then the reference clip. What the
# weights of a frame leave to 1 is the voice's own features.
COLUMNS = EMOTIONS + ("reference",)
LABELS = EMOTIONS + ("voice", "reference")  # what a track entry or a marker may name
DEFAULT_CROSSFADE = 10  # frames (1/3 s) over which an emotion switch fades in
MAX_TRACK_SECONDS = 86400  # a track time past a day is a typo (and past float range, no frame number)
PRESETS_SUFFIX = ".presets.npz"
PRESETS_FORMAT = 1


class EmotionError(EmoTalkError):
    """An emotion control (name, mix, track, reference, presets) that cannot be used."""


# --- checks and parsing ---------------------------------------------------------------------------
def check_emotion(name: str, what: str = "emotion") -> str:
    """``name`` folded to lower case when it is one of EMOTIONS; EmotionError listing them otherwise."""
    key = str(name).strip().lower()
    if key not in EMOTIONS:
        raise EmotionError(f"{what} {name!r} is not an emotion; expected one of {', '.join(EMOTIONS)}")
    return key


def check_mix(mix, what: str = "emotion mix") -> float:
    if isinstance(mix, bool) or not isinstance(mix, numbers.Real) or not math.isfinite(mix) or not 0.0 <= mix <= 1.0:
        raise EmotionError(f"{what} must lie in 0..1, got {mix}")
    return float(mix)


def check_crossfade(frames, what: str = "crossfade") -> int:
    if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or not 0 <= frames <= 10 * FPS:
        raise EmotionError(f"{what} must be a whole number of frames 0..{10 * FPS}, got {frames}")
    return int(frames)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EmotionError(f"{what} {text!r} is not a number") from None
    return value


def parse_emotion_arg(text: str, flag: str = "--emotion") -> tuple[str, float]:
    """``happy`` or ``happy:0.5`` -> (emotion, mix); the mix defaults to 1."""
    name, sep, mix = str(text).strip().partition(":")
    try:
        return check_emotion(name), check_mix(_number(mix, "mix") if sep else 1.0)
    except EmotionError as exc:
        raise EmotionError(f"{flag} {text}: {exc}") from None


def parse_reference_arg(text: str, flag: str = "--emotion-ref") -> tuple[str, float]:
    """``FILE`` or ``FILE:MIX`` -> (path, mix). A colon is a mix only when a number follows it, so
    ``C:\\takes\\angry.wav`` and names holding colons stay paths."""
    path, sep, mix = str(text).rpartition(":")
    if sep and (re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*", mix)
                or re.fullmatch(r"\s*[-+]?(nan|inf|infinity)\s*", mix, re.IGNORECASE)):  # a mix, not a path
        try:
            return path, check_mix(float(mix))
        except EmotionError as exc:
            raise EmotionError(f"{flag} {text}: {exc}") from None
    if not str(text).strip():
        raise EmotionError(f"{flag}: expected an audio file, optionally with :MIX")
    return str(text), 1.0


@dataclass(frozen=True)
class TrackEntry:
    """From ``frame`` (30 fps, take frame 0 = the first) on, ``label`` at ``strength``."""
    frame: int
    label: str  # an emotion, "voice" (the line's own emotion) or "reference"
    strength: float = 1.0


def _label(text: str, what: str) -> str:
    key = str(text).strip().lower()
    if key not in LABELS:
        raise EmotionError(f"{what} {text!r} is not an emotion; expected one of {', '.join(LABELS)}")
    return key


def parse_track(text: str, flag: str = "--emotion-track") -> list[TrackEntry]:
    """``"0:neutral,2.5:angry:0.8"`` (seconds:emotion[:strength], comma separated) -> entries in order.

    A time goes to the nearest 30 fps frame; strength defaults to 1.
    """
    usage = "expected SECONDS:EMOTION[:STRENGTH], comma separated, e.g. 0:neutral,2.5:angry:0.8"
    entries = []
    for part in str(text).split(","):
        if not part.strip():
            raise EmotionError(f"{flag} {text}: an empty entry; {usage}")
        bits = part.strip().split(":")
        if len(bits) not in (2, 3):
            raise EmotionError(f"{flag} {text}: {part.strip()!r}: {usage}")
        try:
            seconds = _number(bits[0], "time")
            if not (math.isfinite(seconds) and 0 <= seconds <= MAX_TRACK_SECONDS):  # no frame number overflow
                raise EmotionError(f"time {bits[0].strip()} must be a number of seconds >= 0 "
                                   f"and at most {MAX_TRACK_SECONDS} (a day)")
            label = _label(bits[1], "emotion")
            strength = check_mix(_number(bits[2], "strength"), "strength") if len(bits) == 3 else 1.0
        except EmotionError as exc:
            raise EmotionError(f"{flag} {text}: {exc}") from None
        entries.append(TrackEntry(round(seconds * FPS), label, strength))
    if any(b.frame < a.frame for a, b in zip(entries, entries[1:])):
        raise EmotionError(f"{flag} {text}: the times must not decrease")
    return entries


def track_entries(track) -> list[TrackEntry]:
    """A take's emotion track as entries: checked settings hold entries already (parsed once, in
    ``GenerateSettings.validated``); text is parsed here only for callers holding unchecked text."""
    if isinstance(track, str):
        return parse_track(track, flag="emotion_track") if track.strip() else []
    return list(track or ())


_MARKER = re.compile(r"^\s*([A-Za-z]+)(?:[\s:=]+([-+]?\d*\.?\d+))?\s*$")


def parse_marker(name: str) -> tuple[str, float] | None:
    """A timeline marker's name -> (label, strength), e.g. ``angry 0.6``, ``Happy``, ``sad:0.3``;
    None for a marker that names no emotion (markers have other uses too). EmotionError for an
    emotion with a strength outside 0..1."""
    m = _MARKER.match(str(name))
    if not m or m.group(1).lower() not in LABELS:
        return None
    strength = 1.0 if m.group(2) is None else check_mix(float(m.group(2)), f"marker {name!r}: strength")
    return m.group(1).lower(), strength


def marker_track(markers: Iterable[tuple[float, str]], start_frame: float = 1, scene_fps: float = FPS
                 ) -> tuple[list[TrackEntry], list[str]]:
    """Scene markers (frame, name) -> (track entries in time order, names of markers that name no emotion).

    A marker at the take's start frame is take frame 0; scene frames are converted to 30 fps.
    """
    entries, ignored = [], []
    for frame, name in sorted(markers, key=lambda m: m[0]):
        parsed = parse_marker(name)
        if parsed is None:
            ignored.append(str(name))
            continue
        entries.append(TrackEntry(round((frame - start_frame) * FPS / scene_fps), *parsed))
    return entries, ignored


def _vector(label: str, strength: float) -> np.ndarray:
    v = np.zeros(len(COLUMNS), np.float32)
    if label != "voice":
        v[COLUMNS.index(label)] = strength
    return v


def track_weights(entries: Sequence[TrackEntry], frames: int, crossfade: int = DEFAULT_CROSSFADE,
                  base: TrackEntry | None = None) -> np.ndarray:
    """(frames, len(COLUMNS)) per-frame weights of the presets (first 7 columns, EMOTIONS order)
    and of the reference (last column); what they leave to 1 is the voice's own emotion.

    ``base`` (default: the voice) holds from frame 0. Each entry switches from its frame on: over
    ``crossfade`` frames starting at its frame the weights move linearly (frame ``f + i`` is
    ``(i + 1) / (crossfade + 1)`` of the way) from where they were to the entry's, which holds
    from frame ``f + crossfade`` on. Entries at frame 0 or before set the start without a fade.
    """
    out = np.empty((frames, len(COLUMNS)), np.float32)
    current = _vector(base.label, base.strength) if base is not None else _vector("voice", 0.0)
    pending = sorted(entries, key=lambda e: e.frame)  # stable: of entries at one frame the last wins
    for e in [e for e in pending if e.frame <= 0]:
        current = _vector(e.label, e.strength)
    out[:] = current
    for e in [e for e in pending if 0 < e.frame < frames]:
        start = out[e.frame - 1].copy()  # where the weights were (a fade still in progress included)
        target = _vector(e.label, e.strength)
        n = min(crossfade, frames - e.frame)
        a = (np.arange(1, n + 1, dtype=np.float32) / np.float32(crossfade + 1))[:, None]
        out[e.frame:e.frame + n] = (1 - a) * start + a * target
        out[e.frame + n:] = target
    return out


# --- features -------------------------------------------------------------------------------------
def interpolate_frames(features: np.ndarray, frames: int) -> np.ndarray:
    """(T, C) -> (frames, C) linear in time, end points kept (as the released code resamples features)."""
    features = np.asarray(features, dtype=np.float32)
    t = features.shape[0]
    if t == frames:
        return features
    if t == 1 or frames == 1:
        return np.repeat(features[:1], frames, axis=0) if t == 1 else features[:1].copy()
    pos = np.arange(frames, dtype=np.float64) * ((t - 1) / (frames - 1))
    lo = np.minimum(pos.astype(np.int64), t - 2)
    frac = (pos - lo).astype(np.float32)[:, None]
    return (1 - frac) * features[lo] + frac * features[lo + 1]


def clip_features(backend, audio: np.ndarray) -> np.ndarray:
    """(T, emotion_dim) emotion features of a mono 16 kHz clip through ``backend`` (anything with
    ``encode_emotion``), in the inference's overlapping windows when it is long."""
    from . import encodings
    from .backend import normalise_audio
    from .constants import SAMPLE_RATE
    from .inference import CHUNK_SECONDS, OVERLAP_SECONDS, cross_fade, windows

    audio = np.asarray(audio, dtype=np.float32)
    step = SAMPLE_RATE // 10
    chunk, overlap = (round(s * 10) * step for s in (CHUNK_SECONDS, OVERLAP_SECONDS))
    out, written = None, 0
    for s, e in windows(len(audio), chunk, overlap):
        wav, frames = normalise_audio(audio[s:e]), frames_for_samples(e - s)
        y = np.asarray(encodings.encode(backend, "emotion", wav, frames, lambda: backend.encode_emotion(wav, frames)),
                       np.float32)
        if out is None:
            out = np.zeros((frames_for_samples(len(audio)), y.shape[1]), np.float32)
        written = cross_fade(out, y, s * FPS // SAMPLE_RATE, written)
    return out


def reference_features(backend, path: str | os.PathLike, frames: int) -> np.ndarray:
    """The emotion features of the audio file ``path``, interpolated to ``frames``; errors name the file."""
    from .audio import load_audio
    from .errors import AudioError

    try:
        audio = load_audio(path)
    except AudioError as exc:
        raise AudioError(f"emotion reference: {exc}") from None
    return interpolate_frames(clip_features(backend, audio), frames)


# --- presets --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Presets:
    """Emotion presets of one model: a (emotion_dim,) float32 vector per emotion, and how they were made."""
    features: Mapping[str, np.ndarray]
    meta: Mapping

    def matrix(self, emotion_dim: int, source: str = "presets") -> np.ndarray:
        """(7, emotion_dim) in EMOTIONS order; an emotion without a preset is NaN (an error if used)."""
        out = np.full((len(EMOTIONS), emotion_dim), np.nan, np.float32)
        for name, v in self.features.items():
            if v.shape != (emotion_dim,):
                raise EmotionError(f"{source}: preset {name!r} has {v.shape[-1]} features, the model {emotion_dim}")
            out[EMOTIONS.index(name)] = v
        return out


def presets_path(checkpoint: str | os.PathLike) -> Path:
    """Where a checkpoint's presets live: beside it, ``NAME.presets.npz`` (``emotalk_default.safetensors``
    -> ``emotalk_default.presets.npz``; the same for a ``.pt`` or the released ``EmoTalk.pth``)."""
    p = Path(checkpoint)
    return p.with_name(p.stem + PRESETS_SUFFIX) if p.suffix else p.with_name(p.name + PRESETS_SUFFIX)


def load_presets(path: str | os.PathLike) -> Presets:
    """Read a presets file (``np.load`` without pickles); EmotionError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise EmotionError(f"{path}: no emotion presets for this model (make them from your clips with "
                           f"`python -m emotalk_blender presets EMOTION=CLIP...`, or use --emotion-ref)")
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy and zipfile raise several types for a damaged file
        raise EmotionError(f"{path}: not an emotion presets file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):  # a plain .npy array under the presets name
        raise EmotionError(f"{path}: not an emotion presets file (a single array, not an .npz of presets)")
    try:
        with z:
            names = [str(n) for n in np.ravel(z["emotions"])]
            feats = np.asarray(z["features"])
            if feats.dtype.kind not in "fiu":
                raise ValueError(f"features of type {feats.dtype}")
            with np.errstate(all="ignore"):  # a value past float32 range becomes inf: refused below
                feats = feats.astype(np.float32)
            meta = json.loads(str(z["meta"]))
    except Exception as exc:
        raise EmotionError(f"{path}: not an emotion presets file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise EmotionError(f"{path}: not an emotion presets file (its meta is not a JSON object)")
    if feats.ndim != 2 or feats.shape[0] != len(names):
        raise EmotionError(f"{path}: {len(names)} emotion names but features of shape {feats.shape}")
    for n in names:
        if n not in EMOTIONS:
            raise EmotionError(f"{path}: unknown emotion {n!r}; expected one of {', '.join(EMOTIONS)}")
    if not np.isfinite(feats).all():
        raise EmotionError(f"{path}: the presets hold NaN or infinite values")
    return Presets(dict(zip(names, feats)), meta)


def save_presets(path: str | os.PathLike, presets: Presets) -> None:
    """Write ``presets`` atomically (emotions in EMOTIONS order)."""
    from .atomic import write_bytes

    names = [n for n in EMOTIONS if n in presets.features]
    buf = io.BytesIO()
    np.savez(buf, emotions=np.array(names), meta=np.array(json.dumps(dict(presets.meta), sort_keys=True)),
             features=np.stack([np.asarray(presets.features[n], np.float32) for n in names]))
    write_bytes(path, buf.getvalue())


def make_preset(backend, clips: Iterable[np.ndarray]) -> np.ndarray:
    """(emotion_dim,) mean emotion features over every frame of ``clips`` (mono 16 kHz arrays)."""
    total, count = None, 0
    for audio in clips:
        f = clip_features(backend, audio).astype(np.float64)
        total = f.sum(axis=0) if total is None else total + f.sum(axis=0)
        count += f.shape[0]
    if count == 0:
        raise EmotionError("a preset needs at least one clip")
    return (total / count).astype(np.float32)


def make_presets(backend, clips_by_emotion: Mapping[str, Iterable[np.ndarray]], meta: Mapping | None = None,
                 base: Presets | None = None) -> Presets:
    """Presets for the emotions named in ``clips_by_emotion`` (added to or replacing those of ``base``)."""
    feats = dict(base.features) if base is not None else {}
    for name, clips in clips_by_emotion.items():
        feats[check_emotion(name)] = make_preset(backend, clips)
    info = dict(base.meta) if base is not None else {}
    info.update({"format": PRESETS_FORMAT, "emotion_dim": int(next(iter(feats.values())).shape[0])}, **(meta or {}))
    return Presets(feats, info)


# --- the direction of a take ----------------------------------------------------------------------
@dataclass(frozen=True)
class Direction:
    """Per-frame weights (frames, len(COLUMNS)) with the presets and reference features they weigh."""
    weights: np.ndarray
    presets: np.ndarray | None = None  # (7, emotion_dim)
    reference: np.ndarray | None = None  # (frames, emotion_dim)

    @property
    def frames(self) -> int:
        return self.weights.shape[0]


def base_entry(source: str = "voice", emotion: str | None = None, mix: float = 1.0) -> TrackEntry:
    """The take's direction at frame 0 from its settings."""
    if source not in EMOTION_SOURCES:
        raise EmotionError(f"emotion source must be one of {', '.join(EMOTION_SOURCES)}, got {source!r}")
    mix = check_mix(mix)
    if source == "voice":
        return TrackEntry(0, "voice", 0.0)
    if source == "reference":
        return TrackEntry(0, "reference", mix)
    if not emotion:
        raise EmotionError(f"emotion source 'named' needs an emotion; expected one of {', '.join(EMOTIONS)}")
    return TrackEntry(0, check_emotion(emotion), mix)


def needs(entries: Iterable[TrackEntry]) -> set[str]:
    """The labels a direction uses (to load only the presets or reference it needs)."""
    return {e.label for e in entries if e.strength > 0 and e.label != "voice"}


def make_direction(frames: int, base: TrackEntry, track: Sequence[TrackEntry] = (), crossfade: int = DEFAULT_CROSSFADE,
                   presets: np.ndarray | None = None, reference: np.ndarray | None = None) -> Direction | None:
    """The direction of a take of ``frames`` frames; None when it is the voice's own emotion throughout."""
    used = needs([base, *track])
    if not used:
        return None
    weights = track_weights(track, frames, check_crossfade(crossfade), base)
    missing = [n for n in used if n in EMOTIONS and (presets is None or np.isnan(presets[EMOTIONS.index(n)]).any())]
    if missing:
        raise EmotionError(f"no preset for {', '.join(sorted(missing))} with this model")
    if "reference" in used and (reference is None or reference.shape[0] != frames):
        raise EmotionError("the direction names a reference clip but none was given for this take")
    return Direction(weights, presets, reference)


def direct(voice: np.ndarray, f0: int, f1: int, direction: Direction | None) -> np.ndarray:
    """Directed emotion features for the window [f0, f1) of a take, from the voice's features there.

    ``(1 - sum w) * voice + w[:7] @ presets + w[7] * reference`` per frame; ``voice`` itself when
    there is no direction.
    """
    if direction is None:
        return voice
    voice = np.asarray(voice, dtype=np.float32)
    if voice.shape[0] != f1 - f0 or not 0 <= f0 <= f1 <= direction.frames:
        raise ValueError(f"window [{f0}, {f1}) with {voice.shape[0]} frames does not fit a take of {direction.frames}")
    w = direction.weights[f0:f1]
    out = (1 - w.sum(axis=1, keepdims=True)) * voice
    used = w[:, :len(EMOTIONS)].any(axis=0)
    if used.any():
        out += w[:, :len(EMOTIONS)][:, used] @ direction.presets[used]
    if w[:, -1].any():
        out += w[:, -1:] * direction.reference[f0:f1]
    return out.astype(np.float32)


# --- a take's direction from its settings -----------------------------------------------------------
_PRESETS: dict = {}


def presets_for(checkpoint: str | os.PathLike) -> tuple[Path, Presets]:
    """The presets beside ``checkpoint`` (cached by file and mtime)."""
    from .presets_store import read_path

    path = read_path(checkpoint)  # a shipped model's: the user's own presets when made (engine/presets_store.py)
    try:
        key = (os.path.realpath(path), os.path.getmtime(path))
    except OSError:
        key = None
    if key is None or key not in _PRESETS:
        presets = load_presets(path)  # a missing file raises here, naming it
        _PRESETS.clear()
        _PRESETS[key] = presets
    return path, _PRESETS[key]


def take_direction(backend, settings, frames: int, checkpoint: str | os.PathLike) -> Direction | None:
    """The direction of a take from its ``GenerateSettings`` (None: the voice's own emotion throughout).

    Loads only what it needs: the checkpoint's presets for named emotions, the reference clip's
    features (through ``backend``) for a reference.
    """
    base = base_entry(settings.emotion_source, settings.emotion, settings.emotion_mix)
    track = track_entries(settings.emotion_track)
    used = needs([base, *track])
    if not used:
        return None
    presets = reference = None
    if used & set(EMOTIONS):
        path, found = presets_for(checkpoint)
        presets = found.matrix(backend.config.emotion_dim, source=str(path))
    if "reference" in used:
        if not settings.emotion_reference:
            raise EmotionError("the emotion track names 'reference' but no emotion_reference file is set")
        reference = reference_features(backend, settings.emotion_reference, frames)
    return make_direction(frames, base, track, settings.crossfade, presets, reference)
