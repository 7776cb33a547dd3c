"""What a take is generated with, and the one check of its controls (no torch, no bpy here).

The controls are the released model's: an emotion ``level`` in 0..1 and a speaking style
``person`` (the checkpoint's and the CLI's name for it): one of ``NUM_PERSONS`` styles, or a mix
of them as ``NUM_PERSONS`` non-negative weights. The CLI, the pipeline and the Blender operators
all check them with ``validate_controls`` before any long work.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass
from typing import Sequence

from .network.interface import BACKENDS
from .constants import NUM_PERSONS
from .network.devices import check_device
from .errors import EmoTalkError
from .network.precision import precision_of

Person = int | Sequence[float]  # a style index, or NUM_PERSONS mixing weights


class SettingsError(EmoTalkError):
    """A control (level, speaking style, backend) outside what the model accepts."""


@dataclass
class GenerateSettings:
    level: float = 1.0  # emotion intensity: 0 low .. 1 high (fractional allowed)
    person: Person = 0  # speaking style 0..NUM_PERSONS-1, or NUM_PERSONS mixing weights
    smooth: bool = True  # Savitzky-Golay 5/2, as the released demo
    blinks: bool = True  # the demo's blink curves
    seed: int = 0  # blink placement: the same seed gives the same take
    checkpoint: str | None = None  # None: the shipped default model
    device: str | None = None  # None: CUDA when present, else CPU
    half: bool = False  # the old name of precision="fp16" (CUDA only)
    backend: str = "auto"  # "auto" (torch when importable, else numpy), "torch" or "numpy"
    precision: str = "auto"  # "auto" (fp16 on CUDA, bf16 on CPUs with native bf16, else fp32), "fp32", "bf16", "fp16"
    # Directing the performance (engine/direction/emotion.py, face_parts.py, gaze.py); the defaults
    # change nothing: the voice's own emotion, every strength 1, no offsets, no gaze.
    emotion_source: str = "voice"  # "voice", "reference" (another clip's emotion) or "named" (a preset)
    emotion: str = "neutral"  # the preset of source "named" (one of constants.EMOTIONS)
    emotion_reference: str | None = None  # the audio file of source "reference"
    emotion_mix: float = 1.0  # 0..1: how much of the source's emotion features replace the voice's
    emotion_track: str = ""  # emotion over time, "0:neutral,2.5:angry:0.8" (seconds:emotion[:strength])
    crossfade: int = 10  # frames over which each switch of the track fades in
    upper_face: float = 1.0  # gain on brows, eyes, cheeks, nose (0..2)
    lower_face: float = 1.0  # gain on jaw, mouth, tongue (0..2)
    lip_open: float = 0.0  # -1..1 added to jawOpen, not at lip closures
    eyelid: float = 0.0  # -1..1: > 0 wider eyes, < 0 lower lids
    blink_strength: float = 1.0  # 0..1 gain on the blinks
    blink_rate: float = 1.0  # 0.1..4 times the demo's blink rate
    upper_smooth: int = 5  # Savitzky-Golay window of the upper face (odd; 1 = off)
    lower_smooth: int = 5  # the same for the lower face
    gaze: float = 0.0  # 0..1 strength of the procedural gaze (0 = off)
    gaze_seed: int = 0  # the gaze's own seed
    head_motion: float = 0.0  # 0..2 strength of head motion from the voice (0 = off; engine/direction/head_motion.py)
    head_style: str = "natural"  # one of head_motion.STYLES
    neutral_lean: float = 0.8  # 0..1: an unsure emotion reading leans to neutral (0 = off; emotion_reading.py)
    head_seed: int = 0  # the head motion's own seed

    def validated(self) -> GenerateSettings:
        """A copy with checked controls; raises SettingsError (one line) when one is out of range."""
        level, person = validate_controls(self.level, self.person)
        if self.device:
            check_device(self.device)  # "cuda:1" on a machine without it: one line listing what there is
        return check_direction(dataclasses.replace(
            self, level=level, person=person, backend=check_backend(self.backend),
            precision=precision_of(self.precision, self.half), half=False))

    def face_controls(self):
        """The face-part controls as ``face_parts.FaceControls``."""
        from .direction.face_parts import FaceControls

        return FaceControls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(FaceControls)})


def check_direction(s: GenerateSettings) -> GenerateSettings:
    """The directing settings checked: emotion names, mix, track syntax, strengths, gaze, the reference file."""
    from .direction.emotion import base_entry
    from .direction.emotion_parsing import check_crossfade, check_emotion, parse_track
    from .errors import AudioError
    from .direction.gaze import check_strength

    emotion = check_emotion(s.emotion)
    base_entry(s.emotion_source, emotion, s.emotion_mix)
    if s.emotion_track:
        parse_track(s.emotion_track, flag="emotion_track")
    check_crossfade(s.crossfade)
    s.face_controls().validated()
    check_strength(s.gaze)
    lean = s.neutral_lean
    if isinstance(lean, bool) or not isinstance(lean, numbers.Real) or not (math.isfinite(lean) and 0 <= lean <= 1):
        raise SettingsError(f"neutral_lean must lie in 0..1 (0 = off), got {lean!r}")
    for name in ("seed", "gaze_seed"):  # numpy's generators take no negative seed
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise SettingsError(f"{name} must be a whole number >= 0, got {value!r}")
    from .direction.head_motion import check_seed, check_style
    from .direction.head_motion import check_strength as check_head

    check_head(s.head_motion, "head_motion")
    check_seed(s.head_seed, "head_seed")
    head_style = check_style(s.head_style, "head_style")
    if s.emotion_source == "reference":
        if not s.emotion_reference:
            raise SettingsError("emotion source 'reference' needs an emotion_reference audio file")
        if not os.path.isfile(s.emotion_reference):
            raise AudioError(f"{s.emotion_reference}: no such audio file (the emotion reference)")
    return dataclasses.replace(s, emotion=emotion, emotion_mix=float(s.emotion_mix), head_style=head_style)


def _check_person(person) -> int | tuple[float, ...]:
    """The style index or mix, checked; messages without the control's name."""
    if getattr(person, "ndim", None) == 0:  # a NumPy or torch scalar
        person = person.item()
    if isinstance(person, numbers.Integral) and not isinstance(person, bool):
        index = int(person)
        if not 0 <= index < NUM_PERSONS:  # no wrap-around: -1 is an error, not the last style
            raise SettingsError(f"style index {index} is out of range 0..{NUM_PERSONS - 1}")
        return index
    if isinstance(person, (str, bytes)) or not hasattr(person, "__len__"):
        raise SettingsError(f"expected a style index 0..{NUM_PERSONS - 1} or {NUM_PERSONS} weights, got {person!r}")
    if len(person) != NUM_PERSONS:
        raise SettingsError(f"a style mix needs {NUM_PERSONS} weights, got {len(person)}")
    try:
        weights = tuple(float(w) for w in person)
    except (TypeError, ValueError):
        raise SettingsError(f"a style mix needs {NUM_PERSONS} numbers") from None
    for i, w in enumerate(weights):
        if not (math.isfinite(w) and w >= 0):
            raise SettingsError(f"weight {w} of style {i} is not a finite non-negative number")
    if sum(weights) <= 0:
        raise SettingsError("the style weights must have a positive sum")
    return weights


def check_level(level, name: str = "level") -> float:
    """``level`` as a float in 0..1 (0 low, 1 high emotional intensity); SettingsError otherwise."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not math.isfinite(level) \
            or not 0.0 <= level <= 1.0:
        raise SettingsError(f"{name} must lie in 0..1, got {level}")
    return float(level)


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise SettingsError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name


def validate_controls(level, person, level_name: str = "level", person_name: str = "person"):
    """``(level, person)`` checked: level a float in 0..1; person an index 0..NUM_PERSONS-1 (no
    negative wrap-around) or NUM_PERSONS finite non-negative weights with a positive sum (a tuple).

    Raises SettingsError with one line naming the control, e.g. ``person: style index 30 is out of range 0..23``.
    """
    level = check_level(level, level_name)
    try:
        person = _check_person(person)
    except SettingsError as exc:
        raise SettingsError(f"{person_name}: {exc}") from None
    return level, person


def parse_person(text: str, flag: str = "--person") -> int | list[float]:
    """A command-line style: ``3``, or a mix ``3:0.5,7:0.5`` (style index: weight; unnamed styles 0).

    Raises SettingsError with one line, e.g. ``--person 30:1: style index 30 is out of range 0..23``.
    """
    def fail(problem: str):
        return SettingsError(f"{flag} {text}: {problem}")

    usage = f"expected a style index 0..{NUM_PERSONS - 1} or a mix like 3:0.5,7:0.5"
    text = text.strip()
    try:
        if ":" not in text:
            return _check_person(int(text))
        weights = [0.0] * NUM_PERSONS
        named = set()
        for part in text.split(","):
            index_text, weight_text = part.split(":")  # ValueError unless exactly one colon
            index = _check_person(int(index_text))
            if index in named:
                raise fail(f"style {index} is given twice")
            named.add(index)
            weights[index] = float(weight_text)
        _check_person(weights)
        return weights
    except SettingsError as exc:
        raise exc if str(exc).startswith(flag) else fail(str(exc)) from None
    except ValueError:
        raise fail(usage) from None
