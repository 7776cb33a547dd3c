"""The one table of generate controls: name, kind, default, range, unit, label, help, owning layer.

Everything else is derived from it: the CLI flags (``direction_flags``), the check of each value
(``GenerateSettings.validated``), the Blender properties of the sidebar and of Generate/Regenerate
(``blender/controls_props.py``, SKIP_SAVE unless ``inherit``), copying sidebar -> operator, the
take's stored settings (``stored_record``) and the take summary. A new control is one row here
(plus ``col.prop`` in the panel when it is shown) and the code that uses its value. No bpy here.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

from .constants import EMOTIONS, FPS, NUM_PERSONS
from .direction.head_motion import STYLES as HEAD_STYLES
from .direction.head_motion import check_seed as check_head_seed
from .direction.head_motion import check_strength as check_head_strength
from .direction.head_motion import check_style as check_head_style

LAYERS = ("network", "post", "direction", "face", "eyes", "head")


@dataclass(frozen=True)
class Control:
    name: str  # the GenerateSettings field, the bpy property and the stored key
    kind: str  # "float", "int", "bool", "str", "enum" or "path"
    default: Any
    low: float | None = None
    high: float | None = None
    unit: str = ""  # shown after the default in the CLI help: "frames", ...
    label: str = ""
    help: str = ""
    layer: str = "direction"  # which part of the engine reads it (LAYERS)
    inherit: bool = False  # True: a script's next call inherits the last value (no SKIP_SAVE)
    items: tuple = ()  # enum choices: names, or (name, label, description)
    off: str = ""  # what the value that switches it off is, for messages ("0 = off")
    odd: bool = False  # an odd window (Savitzky-Golay)
    cli: bool = True  # a plain flag --name-with-dashes (False: the CLI spells it its own way)
    engine: bool = True  # a GenerateSettings field (False: Blender only, e.g. use_markers)
    subtype: str = ""  # bpy subtype ("FACTOR", "FILE_PATH")
    hidden: bool = False  # not shown in the UI
    summary: bool = False  # the take summary lists it when it differs from its default
    check: Callable | None = None  # a checker of its own (its message): value -> value; else the range

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(i if isinstance(i, str) else i[0] for i in self.items)

    def span(self) -> str:
        return f"{self.low:g}..{self.high:g}" if self.high is not None else f">= {self.low:g}"

    def validate(self, value):
        """``value`` checked against the kind and range; SettingsError naming the control (one line)."""
        if self.check is not None:
            return self.check(value)
        from .settings import SettingsError

        note = f" ({self.off})" if self.off else ""
        if self.kind in ("float", "int"):
            integral = self.kind == "int"
            ok_type = not isinstance(value, bool) and isinstance(value, numbers.Integral if integral else numbers.Real)
            if not ok_type or (not integral and not math.isfinite(value)) or \
                    (self.low is not None and value < self.low) or (self.high is not None and value > self.high) \
                    or (self.odd and value % 2 == 0):
                if integral and self.odd:
                    raise SettingsError(f"{self.name} must be an odd window {self.span()}{note}, got {value}")
                if integral:
                    raise SettingsError(f"{self.name} must be a whole number {self.span()}, got {value!r}")
                raise SettingsError(f"{self.name} must lie in {self.span()}{note}, got {value!r}")
            return int(value) if integral else float(value)
        if self.kind == "bool":
            return bool(value)
        if self.kind == "enum":
            key = str(value).strip().lower()
            if key not in self.choices:
                raise SettingsError(f"{self.name} {value!r} is not one of {', '.join(self.choices)}")
            return key
        return value

    def help_text(self) -> str:
        """The CLI help: the help and, for a number, its range and default (with its unit)."""
        if not isinstance(self.default, (int, float)) or isinstance(self.default, bool):
            return self.help
        span = f"{self.span()}, " if self.low is not None else ""
        return f"{self.help} ({span}default {self.default:g}{' ' + self.unit if self.unit else ''})"


def _lazy(module: str, function: str, *args):
    """A checker from another engine module, imported at first use (direction's modules import much
    more than the table needs, settings among it)."""
    def check(value):
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{module}"), function)(value, *args)
    return check


_SOURCES = (("voice", "Voice", "The emotion the voice itself carries (as the released model)"),
            ("named", "Named emotion", "One of the model's emotion presets"),
            ("reference", "Reference clip", "The emotion of another recording; the lips follow this line"))


CONTROLS: tuple[Control, ...] = (
    Control("level", "float", 1.0, 0.0, 1.0, label="Emotion level", layer="network", cli=False, subtype="FACTOR",
            help="Emotional intensity: 0 low, 1 high (fractions allowed)"),
    Control("person", "int", 0, 0, NUM_PERSONS - 1, label="Speaking style", layer="network", cli=False,
            help=f"Speaking style (person) of one of the {NUM_PERSONS} training speakers"),
    Control("smooth", "bool", True, label="Smoothing", layer="post", cli=False,
            help="Savitzky-Golay smoothing (window 5, order 2)"),
    Control("blinks", "bool", True, label="Blinks", layer="post", cli=False, help="Insert eye blinks"),
    Control("seed", "int", 0, 0, label="Seed", layer="post", help="Blink placement: the same seed gives the same take"),
    Control("emotion_source", "enum", "voice", label="Emotion from", items=_SOURCES, cli=False),
    Control("emotion", "enum", "neutral", label="Emotion", cli=False,
            items=tuple((e, e.title(), f"The model's {e} preset") for e in EMOTIONS),
            check=_lazy("direction.emotion_parsing", "check_emotion")),
    Control("emotion_reference", "path", None, label="Reference", cli=False, subtype="FILE_PATH",
            help="Recording whose emotion drives the face"),
    Control("emotion_mix", "float", 1.0, 0.0, 1.0, label="Mix", cli=False, subtype="FACTOR",
            help="How much of the chosen emotion replaces the voice's own"),
    Control("use_markers", "bool", False, label="Use timeline markers", engine=False, cli=False,
            help="Markers named after an emotion (happy, angry 0.6) switch to it from their frame on"),
    Control("emotion_track", "str", "", label="Emotion track", hidden=True,
            help='Emotion over time: "0:neutral,2.5:angry:0.8" (seconds:emotion[:strength]; also voice, '
                 "reference); in Blender, used when markers are off"),
    Control("crossfade", "int", 10, 0, 10 * FPS, unit="frames", label="Cross-fade",
            help="Frames (at 30 fps) over which each marker's emotion fades in",
            check=_lazy("direction.emotion_parsing", "check_crossfade")),
    Control("upper_face", "float", 1.0, 0.0, 2.0, summary=True, label="Upper face", layer="face",
            help="Strength of brows, eyes, cheeks and nose"),
    Control("lower_face", "float", 1.0, 0.0, 2.0, summary=True, label="Lower face", layer="face",
            help="Strength of jaw, mouth and tongue"),
    Control("lip_open", "float", 0.0, -1.0, 1.0, summary=True, label="Lip open", layer="face",
            help="Opens (or closes) the jaw; p/b/m closures stay closed"),
    Control("eyelid", "float", 0.0, -1.0, 1.0, summary=True, label="Eyelids", layer="face",
            help="Positive: wider eyes; negative: lower lids"),
    Control("blink_strength", "float", 1.0, 0.0, 1.0, summary=True, label="Blink strength", layer="eyes",
            subtype="FACTOR", help="Gain on the inserted blinks"),
    Control("blink_rate", "float", 1.0, 0.1, 4.0, summary=True, label="Blink rate", layer="eyes",
            help="Times the released demo's blink rate"),
    Control("upper_smooth", "int", 5, 1, 31, summary=True, label="Upper smoothing", layer="face", odd=True,
            off="1 = off", help="Savitzky-Golay window of the upper face (odd; 1 = off)"),
    Control("lower_smooth", "int", 5, 1, 31, summary=True, label="Lower smoothing", layer="face", odd=True,
            off="1 = off", help="Savitzky-Golay window of the lower face (odd; 1 = off)"),
    Control("gaze", "float", 0.0, 0.0, 1.0, summary=True, label="Gaze", layer="eyes", subtype="FACTOR",
            off="0 = off", help="Procedural eye saccades and drift (0 = off)",
            check=_lazy("direction.gaze", "check_strength")),
    Control("gaze_seed", "int", 0, 0, label="Gaze seed", layer="eyes", help="The gaze's own seed"),
    Control("head_motion", "float", 0.0, 0.0, 2.0, summary=True, label="Head motion", layer="head",
            help="Head nods and turns from the voice, on the head object or its head/neck bone "
                 "(0 = off, 1 = natural); generate writes NAME.head.npy",
            check=lambda value: check_head_strength(value, "head_motion")),
    Control("head_style", "enum", "natural", label="Head style", layer="head",
            items=tuple((s, s.title(), f"{s} head motion") for s in HEAD_STYLES),
            help="Head motion style: " + ", ".join(HEAD_STYLES),
            check=lambda value: check_head_style(value, "head_style")),
    Control("head_seed", "int", 0, 0, label="Head seed", layer="head", help="The head motion's own seed",
            check=lambda value: check_head_seed(value, "head_seed")),
    Control("neutral_lean", "float", 0.8, 0.0, 1.0, label="Neutral lean", layer="direction", subtype="FACTOR",
            off="0 = off", help="An unsure emotion reading of the voice leans the face toward neutral by up to "
                                "this (0 = off)"),
)

BY_NAME = {c.name: c for c in CONTROLS}
ENGINE_FIELDS = tuple(c.name for c in CONTROLS if c.engine)
SUMMARY_FIELDS = tuple(c.name for c in CONTROLS if c.summary)


def summary(stored: dict) -> str:
    """One line of a take's stored settings (the Takes panel)."""
    s = stored
    source = {"voice": "voice emotion", "named": f"{s.get('emotion')} {s.get('emotion_mix', 1):g}",
              "reference": f"reference {s.get('emotion_reference') or ''} {s.get('emotion_mix', 1):g}"}
    parts = [source.get(s.get("emotion_source"), "voice emotion")]
    if s.get("use_markers"):
        parts.append("markers")
    parts.append(f"level {s.get('level', 1):g}, style {s.get('person', 0)}, seed {s.get('seed', 0)}")
    changed = [f"{name} {s[name]:g}" for name in SUMMARY_FIELDS
               if name in s and s[name] != BY_NAME[name].default]
    return "; ".join(parts + changed)


# --- the take's stored settings: one writer, one reader -----------------------------------------
SETTINGS_VERSION = 1
TAKE_FIELDS = ("filepath", "start_frame", "checkpoint")  # the take's own, besides the controls
MAX_FRAME = 1_048_574  # Blender's largest frame number
_INT_MAX = 2 ** 31 - 1  # an int property's limit where the control sets none


def specs() -> dict:
    """{stored key: stored_settings.Spec} of the controls and the take's own fields: what the reader accepts."""
    from .stored_settings import Spec

    out = {"filepath": Spec("str"), "checkpoint": Spec("str"), "start_frame": Spec("int", -MAX_FRAME, MAX_FRAME)}
    for c in CONTROLS:
        if c.kind in ("float", "int"):
            out[c.name] = Spec(c.kind, c.low, c.high if c.high is not None else _INT_MAX)
        elif c.kind == "enum":
            out[c.name] = Spec("enum", items=c.choices)
        else:
            out[c.name] = Spec({"path": "str"}.get(c.kind, c.kind))
    return out


def read_record(text, where: str) -> dict:
    """The stored settings ``text`` as {key: value}, every value checked against its control (one-line
    StoredSettingsError naming ``where`` and the key otherwise); unknown keys are left out."""
    from .stored_settings import read

    return read(text, specs(), where)


def track_text(entries) -> str:
    """Emotion track entries as the stored text (seconds:emotion:strength), for the JSON only."""
    return ",".join(f"{max(e.frame, 0) / FPS:.4f}:{e.label}:{e.strength:g}" for e in entries)


def stored_record(values: dict, *, filepath: str, start_frame: int, checkpoint: str) -> str:
    """The JSON a take remembers (what Regenerate reads): every control's value and the take's own fields.

    ``values``: {control: value}; a control missing takes its default; the emotion track may be text or
    entries (markers), stored as text."""
    import json

    stored = {}
    for c in CONTROLS:
        value = values.get(c.name, c.default)
        if c.name == "emotion_track" and not isinstance(value, str):
            value = track_text(value)
        elif c.kind == "path":
            value = value or ""
        elif c.name == "person" and not isinstance(value, numbers.Integral):
            value = list(value)
        stored[c.name] = value
    stored.update(filepath=filepath, start_frame=start_frame, checkpoint=checkpoint or "", version=SETTINGS_VERSION)
    return json.dumps(stored, sort_keys=True)
