"""Directing the emotion: the decoder's emotion features (e832) taken from another source.

EmoTalk's decoder reads the content of one clip and the emotion of another (the paper's
cross-reconstruction), so the face's emotion is chosen by replacing the voice's emotion features
before decode, while the lips still follow the line's content. Sources: ``voice`` (the line's own
features, today's behaviour), ``reference`` (another clip's features, interpolated linearly to the
line's frame count) and ``named`` (an emotion preset: a model's mean features over clips spoken
in that emotion). A mix 0..1 blends the voice's features with the source's; a track switches the
emotion over time with a linear cross-fade. numpy only (no torch, no bpy).

Here: the track maths, the emotion features of a clip and the direction of a take. The flags and
markers are read into ``TrackEntry`` data by ``emotion_parsing.py``; the presets file is
``presets_file.py`` and where it is looked up ``presets_store.py``.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..constants import EMOTIONS, frames_for_samples
from ..network.numpy_backend import interpolate_frames  # the one NumPy resampling, torch's kernel
from .emotion_parsing import (DEFAULT_CROSSFADE, EMOTION_SOURCES, EmotionError, TrackEntry, check_crossfade,
                              check_emotion, check_mix, track_entries)
from .presets_file import PRESETS_FORMAT, Presets
from .presets_store import presets_for

# Columns of the per-frame direction weights: the 7 presets, then the reference clip. What the
# weights of a frame leave to 1 is the voice's own features.
COLUMNS = EMOTIONS + ("reference",)


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
def clip_features(backend, audio: np.ndarray) -> np.ndarray:
    """(T, emotion_dim) emotion features of a mono 16 kHz clip through ``backend`` (anything with
    ``encode_emotion``), in the inference's overlapping windows when it is long."""
    from ..network import encodings
    from ..network.inference import over_windows
    from ..network.interface import normalise_audio

    audio = np.asarray(audio, dtype=np.float32)

    def run(s: int, e: int) -> np.ndarray:
        wav, frames = normalise_audio(audio[s:e]), frames_for_samples(e - s)
        return encodings.emotion(backend, wav, frames)

    return over_windows(len(audio), run)


def reference_features(backend, path: str | os.PathLike, frames: int) -> np.ndarray:
    """The emotion features of the audio file ``path``, interpolated to ``frames``; errors name the file."""
    from ..audio.decoding import load_audio
    from ..errors import AudioError

    try:
        audio = load_audio(path)
    except AudioError as exc:
        raise AudioError(f"emotion reference: {exc}") from None
    return interpolate_frames(clip_features(backend, audio), frames)


# --- presets from clips --------------------------------------------------------------------------
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
