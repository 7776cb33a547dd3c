"""Emotion controls from text, checked: emotion names, mixes, crossfades, tracks and timeline markers.

The flags (``--emotion``, ``--emotion-ref``, ``--emotion-track``), the stored settings and the
Blender markers are read here into ``TrackEntry`` data, with one-line ``EmotionError`` messages that
name the flag; the maths on the entries is ``emotion.py``. numpy only (no torch, no bpy).
"""
from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..constants import EMOTIONS, FPS
from ..errors import EmoTalkError

EMOTION_SOURCES = ("voice", "reference", "named")
LABELS = EMOTIONS + ("voice", "reference")  # what a track entry or a marker may name
DEFAULT_CROSSFADE = 10  # frames (1/3 s) over which an emotion switch fades in
MAX_TRACK_SECONDS = 86400  # a track time past a day is a typo (and past float range, no frame number)


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
