"""What a take is generated with, and the one check of its controls (no torch, no bpy here).

The controls are the released model's: an emotion ``level`` in 0..1 and a speaking style
``person`` (the checkpoint's and the CLI's name for it): one of ``NUM_PERSONS`` styles, or a mix
of them as ``NUM_PERSONS`` non-negative weights. The settings' fields come from the table of controls
(engine/controls.py); ``validated()`` checks them all once and returns a frozen copy the pipeline, the
head motion and the take's record trust (the front ends call it before any long work).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
import typing
from typing import Sequence

from .network.interface import check_backend
from .constants import NUM_PERSONS
from .controls import CONTROLS
from .network.devices import check_device
from .errors import EmoTalkError, SettingsError  # noqa: F401  (SettingsError: its old home)
from .network.precision import precision_of

Person = int | Sequence[float]  # a style index, or NUM_PERSONS mixing weights


class _Checks:
    """The methods of GenerateSettings (its fields come from the table of controls, engine/controls.py)."""

    def validated(self) -> GenerateSettings:
        """A frozen copy with every control checked (the emotion track parsed into TrackEntry tuples);
        raises SettingsError (one line) when one is out of range. A checked copy returns itself: what
        comes out of here is trusted downstream and never checked again."""
        if self.__dict__.get("_checked"):
            return self
        level, person = validate_controls(self.level, self.person)
        if self.device:
            check_device(self.device)  # "cuda:1" on a machine without it: one line listing what there is
        out = check_direction(dataclasses.replace(
            self, level=level, person=person, backend=check_backend(self.backend),
            precision=precision_of(self.precision, self.half), half=False))
        object.__setattr__(out, "_checked", True)
        return out

    def face_controls(self):
        """The face-part controls as ``face_parts.FaceControls``."""
        from .direction.face_parts import FaceControls

        return FaceControls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(FaceControls)})


# The run's own fields (not controls of the performance): which model, where, in what number format.
_RUN_FIELDS = (
    ("checkpoint", str | None, None),  # None: the shipped default model
    ("device", str | None, None),  # None: CUDA when present, else CPU
    ("half", bool, False),  # the API's old name of precision="fp16" (CUDA only); the CLI converts --half itself
    ("backend", str, "auto"),  # "auto" (torch when importable, else numpy), "torch" or "numpy"
    ("precision", str, "auto"),  # "auto" (fp16 on CUDA, bf16 on CPUs with native bf16, else fp32), "fp32", ...
)

GenerateSettings = dataclasses.make_dataclass(
    "GenerateSettings",
    [(c.name, typing.Any, dataclasses.field(default=c.default)) for c in CONTROLS if c.engine]
    + [(name, kind, dataclasses.field(default=default)) for name, kind, default in _RUN_FIELDS],
    bases=(_Checks,), frozen=True, namespace={"__module__": __name__})
GenerateSettings.__doc__ = """What a take is generated with: one field per engine control of engine/controls.py
(defaults change nothing: the released demo's take) and the run's checkpoint, device, backend, precision."""

# Checked here by their own rules (pairs, the track's grammar, a file, face_parts' joint check);
# every other control by its row of the table.
_OWN_CHECKS = {"level", "person", "smooth", "blinks", "emotion_source", "emotion_mix", "emotion_track",
               "emotion_reference"}


def _face_fields() -> set[str]:
    from .direction.face_parts import FaceControls

    return {f.name for f in dataclasses.fields(FaceControls)}


def check_direction(s: GenerateSettings) -> GenerateSettings:
    """The directing settings checked: emotion names, mix, track syntax, strengths, gaze, the reference file."""
    from .direction.emotion import base_entry
    from .direction.emotion_parsing import TrackEntry, parse_track
    from .errors import AudioError

    own = _OWN_CHECKS | _face_fields()
    values = {c.name: c.validate(getattr(s, c.name)) for c in CONTROLS if c.engine and c.name not in own}
    base_entry(s.emotion_source, values["emotion"], s.emotion_mix)
    track = s.emotion_track
    if isinstance(track, str):  # text from a user or a file: parsed here, once
        track = tuple(parse_track(track, flag="emotion_track")) if track.strip() else ()
    else:  # entries already (timeline markers)
        track = tuple(track or ())
        if not all(isinstance(e, TrackEntry) for e in track):
            raise SettingsError("emotion_track must be text or TrackEntry items")
    s.face_controls().validated()
    if s.emotion_source == "reference":
        if not s.emotion_reference:
            raise SettingsError("emotion source 'reference' needs an emotion_reference audio file")
        if not os.path.isfile(s.emotion_reference):
            raise AudioError(f"{s.emotion_reference}: no such audio file (the emotion reference)")
    return dataclasses.replace(s, **values, emotion_mix=float(s.emotion_mix), emotion_track=track)


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
