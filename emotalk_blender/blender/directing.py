"""Directing a take from Blender: the settings' properties (one name each, the engine's), emotion
markers on the timeline, the settings a take remembers, and the sidebar boxes that show them.

Emotion over time comes from timeline markers named after an emotion (``happy``, ``angry 0.6``):
a marker is a name at a frame, visible and movable in every timeline editor, which is what a
switch of emotion is; the network needs the whole direction of a take before it runs, so
keyframed per-emotion weights would only be sampled back into the same switches.
"""
from __future__ import annotations

import json

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..engine.constants import EMOTIONS, FPS
from ..engine.direction.emotion_parsing import DEFAULT_CROSSFADE, marker_track
from ..engine.errors import EmoTalkError
from ..engine.direction.head_motion import STYLES as HEAD_STYLES
from . import compat, head_motion_writer

SETTINGS_KEY = "settings"  # in the take Action's "emotalk" property: the JSON of what made it
SETTINGS_VERSION = 1

_SOURCES = [("voice", "Voice", "The emotion the voice itself carries (as the released model)"),
            ("named", "Named emotion", "One of the model's emotion presets"),
            ("reference", "Reference clip", "The emotion of another recording; the lips follow this line")]


class DirectingProperties:
    """The directing settings, shared by the scene's settings and the Generate/Regenerate operators."""

    emotion_source: EnumProperty(name="Emotion from", items=_SOURCES, default="voice")
    emotion: EnumProperty(name="Emotion", items=[(e, e.title(), f"The model's {e} preset") for e in EMOTIONS],
                          default="neutral")
    emotion_reference: StringProperty(name="Reference", subtype="FILE_PATH", options=compat.blend_relative_path(),
                                      description="Recording whose emotion drives the face")
    emotion_mix: FloatProperty(name="Mix", default=1.0, min=0.0, max=1.0, subtype="FACTOR",
                               description="How much of the chosen emotion replaces the voice's own")
    use_markers: BoolProperty(name="Use timeline markers", default=False,
                              description="Markers named after an emotion (happy, angry 0.6) switch to it "
                                          "from their frame on")
    emotion_track: StringProperty(name="Emotion track", options={"HIDDEN"},
                                  description="Emotion over time as text, 0:neutral,2.5:angry:0.8 "
                                              "(seconds:emotion[:strength]); used when markers are off")
    crossfade: IntProperty(name="Cross-fade", default=DEFAULT_CROSSFADE, min=0, max=10 * FPS,
                           description="Frames (at 30 fps) over which each marker's emotion fades in")
    upper_face: FloatProperty(name="Upper face", default=1.0, min=0.0, max=2.0,
                              description="Strength of brows, eyes, cheeks and nose")
    lower_face: FloatProperty(name="Lower face", default=1.0, min=0.0, max=2.0,
                              description="Strength of jaw, mouth and tongue")
    lip_open: FloatProperty(name="Lip open", default=0.0, min=-1.0, max=1.0,
                            description="Opens (or closes) the jaw; p/b/m closures stay closed")
    eyelid: FloatProperty(name="Eyelids", default=0.0, min=-1.0, max=1.0,
                          description="Positive: wider eyes; negative: lower lids")
    blink_strength: FloatProperty(name="Blink strength", default=1.0, min=0.0, max=1.0, subtype="FACTOR")
    blink_rate: FloatProperty(name="Blink rate", default=1.0, min=0.1, max=4.0,
                              description="Times the released demo's blink rate")
    upper_smooth: IntProperty(name="Upper smoothing", default=5, min=1, max=31,
                              description="Savitzky-Golay window of the upper face (odd; 1 = off)")
    lower_smooth: IntProperty(name="Lower smoothing", default=5, min=1, max=31,
                              description="Savitzky-Golay window of the lower face (odd; 1 = off)")
    gaze: FloatProperty(name="Gaze", default=0.0, min=0.0, max=1.0, subtype="FACTOR",
                        description="Procedural eye saccades and drift (0 = off)")
    gaze_seed: IntProperty(name="Gaze seed", default=0, min=0)
    head_motion: FloatProperty(name="Head motion", default=0.0, min=0.0, max=2.0,
                               description="Head nods and turns from the voice, on the head object or its "
                                           "head/neck bone (0 = off, 1 = natural)")
    head_style: EnumProperty(name="Head style", items=[(s, s.title(), f"{s} head motion") for s in HEAD_STYLES],
                             default="natural")
    head_seed: IntProperty(name="Head seed", default=0, min=0)


FIELDS = tuple(DirectingProperties.__annotations__)  # also the GenerateSettings field names (but use_markers)
_TAKE_FIELDS = ("filepath", "level", "person", "smooth", "blinks", "seed", "start_frame", "checkpoint")


def copy_props(src, dst) -> None:
    """The directing properties of ``src`` (the scene's settings) onto ``dst`` (an operator)."""
    for name in FIELDS:
        setattr(dst, name, getattr(src, name))


def markers(scene, start_frame: int) -> tuple[str, list[str]]:
    """The scene's emotion markers as an emotion track (seconds from the take's start), and the
    names of markers that name no emotion."""
    fps = scene.render.fps / scene.render.fps_base
    entries, ignored = marker_track(((m.frame, m.name) for m in scene.timeline_markers), start_frame, fps)
    track = ",".join(f"{max(e.frame, 0) / FPS:.4f}:{e.label}:{e.strength:g}" for e in entries)
    return track, ignored


def settings_fields(op, context, reference_path) -> tuple[dict, list[str]]:
    """GenerateSettings fields from an operator's directing properties (markers read now); and the
    names of markers ignored."""
    fields = {name: getattr(op, name) for name in FIELDS if name != "use_markers"}
    fields["emotion_reference"] = reference_path(op.emotion_reference) if op.emotion_reference else None
    ignored: list[str] = []
    if op.use_markers:
        fields["emotion_track"], ignored = markers(context.scene, op.start_frame)
    return fields, ignored


def take_settings(op, track: str) -> str:
    """The JSON a take remembers: everything that made it, and the track its markers gave."""
    stored = {name: getattr(op, name) for name in (*_TAKE_FIELDS, *FIELDS)}
    stored.update(version=SETTINGS_VERSION, emotion_track=track if getattr(op, "use_markers", False)
                  else op.emotion_track)
    return json.dumps(stored, sort_keys=True)


def stored_settings(action, specs=None) -> dict:
    """The settings a take was made with (EmoTalkError when it has none, e.g. an imported take); with
    ``specs`` (take_settings.specs_of the operator) each value is checked against its property."""
    text = action.get("emotalk", {}).get(SETTINGS_KEY) if action.get("emotalk") is not None else None
    if not text:
        raise EmoTalkError(f"Take {action.name!r} has no stored settings (it was imported or made by an older "
                           "version): generate it again from the panel")
    keep = (*_TAKE_FIELDS, *FIELDS)
    if specs is not None:
        from ..engine.stored_settings import read

        return read(text, {k: v for k, v in specs.items() if k in keep}, f"Take {action.name!r}")
    try:
        stored = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise EmoTalkError(f"Take {action.name!r}: its stored settings are not valid JSON") from None
    if not isinstance(stored, dict):
        raise EmoTalkError(f"Take {action.name!r}: its stored settings are not a set of settings")
    return {k: v for k, v in stored.items() if k in keep}


def summary(action) -> str:
    """One line of a take's settings for the Takes panel."""
    try:
        return _summary(stored_settings(action))
    except EmoTalkError:
        return "no stored settings"
    except (TypeError, ValueError):  # a hand-edited value the panel cannot show (Regenerate names it)
        return "stored settings unreadable"


def _summary(s: dict) -> str:
    source = {"voice": "voice emotion", "named": f"{s.get('emotion')} {s.get('emotion_mix', 1):g}",
              "reference": f"reference {s.get('emotion_reference') or ''} {s.get('emotion_mix', 1):g}"}
    parts = [source.get(s.get("emotion_source"), "voice emotion")]
    if s.get("use_markers"):
        parts.append("markers")
    parts.append(f"level {s.get('level', 1):g}, style {s.get('person', 0)}, seed {s.get('seed', 0)}")
    changed = [f"{name} {s[name]:g}" for name, default in _FACE_DEFAULTS.items()
               if name in s and s[name] != default]
    return "; ".join(parts + changed)


_FACE_DEFAULTS = {"upper_face": 1.0, "lower_face": 1.0, "lip_open": 0.0, "eyelid": 0.0, "blink_strength": 1.0,
                  "blink_rate": 1.0, "upper_smooth": 5, "lower_smooth": 5, "gaze": 0.0, "head_motion": 0.0}


def draw(layout, settings) -> None:
    """The Emotion, Face and Eyes boxes of the sidebar (``settings``: the scene's EmoTalk settings)."""
    box = layout.box()
    box.label(text="Emotion", icon="MONKEY")
    col = box.column()
    col.prop(settings, "emotion_source")
    if settings.emotion_source == "named":
        col.prop(settings, "emotion")
    elif settings.emotion_source == "reference":
        col.prop(settings, "emotion_reference")
    if settings.emotion_source != "voice":
        col.prop(settings, "emotion_mix", slider=True)
    row = col.row()
    row.prop(settings, "use_markers")
    sub = row.row()
    sub.enabled = settings.use_markers
    sub.prop(settings, "crossfade")

    box = layout.box()
    box.label(text="Face", icon="MOD_SMOOTH")
    col = box.column(align=True)
    for name in ("upper_face", "lower_face", "lip_open", "eyelid"):
        col.prop(settings, name, slider=True)
    row = box.row(align=True)
    row.prop(settings, "upper_smooth")
    row.prop(settings, "lower_smooth")

    box = layout.box()
    box.label(text="Eyes", icon="HIDE_OFF")
    col = box.column(align=True)
    col.prop(settings, "blink_strength", slider=True)
    col.prop(settings, "blink_rate")
    row = box.row(align=True)
    row.prop(settings, "gaze", slider=True)
    sub = row.row()
    sub.enabled = settings.gaze > 0
    sub.prop(settings, "gaze_seed")
    col = box.column(align=True)
    col.prop(settings, "head_motion", slider=True)
    row = col.row(align=True)
    row.enabled = settings.head_motion > 0
    row.prop(settings, "head_style", text="")
    row.prop(settings, "head_seed")
    obj = bpy.context.active_object
    arm = head_motion_writer.armature_of(obj)
    if arm is not None and getattr(obj, "emotalk", None) is not None:
        row = col.row()
        row.enabled = settings.head_motion > 0
        row.prop_search(obj.emotalk, "head_bone", arm.data, "bones")

