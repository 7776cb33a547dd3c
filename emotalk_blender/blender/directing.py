"""Directing a take from Blender: the settings' properties (one name each, the engine's), emotion
markers on the timeline, the settings a take remembers, and the sidebar boxes that show them.

Emotion over time comes from timeline markers named after an emotion (``happy``, ``angry 0.6``):
a marker is a name at a frame, visible and movable in every timeline editor, which is what a
switch of emotion is; the network needs the whole direction of a take before it runs, so
keyframed per-emotion weights would only be sampled back into the same switches.
"""
from __future__ import annotations

import dataclasses

import bpy

from ..engine import controls
from ..engine.direction.emotion_parsing import TrackEntry, marker_track
from ..engine.errors import EmoTalkError
from . import controls_props, head_motion_writer

SETTINGS_KEY = "settings"  # in the take Action's "emotalk" property: the JSON of what made it
SETTINGS_VERSION = controls.SETTINGS_VERSION

# The controls' properties, made from their table (engine/controls.py, blender/controls_props.py).
DirectingProperties = controls_props.SceneControls
FIELDS = tuple(c.name for c in controls.CONTROLS)  # the properties; all but use_markers are GenerateSettings fields


def copy_props(src, dst) -> None:
    """The controls of ``src`` (the scene's settings) onto ``dst`` (an operator)."""
    for name in FIELDS:
        setattr(dst, name, getattr(src, name))


def markers(scene, start_frame: int) -> tuple[list[TrackEntry], list[str]]:
    """The scene's emotion markers as emotion track entries (take frames at 30 fps; markers before the
    take's start hold from its first frame), and the names of markers that name no emotion."""
    fps = scene.render.fps / scene.render.fps_base
    entries, ignored = marker_track(((m.frame, m.name) for m in scene.timeline_markers), start_frame, fps)
    return [dataclasses.replace(e, frame=max(e.frame, 0)) for e in entries], ignored


def settings_fields(op, context, reference_path) -> tuple[dict, list[str]]:
    """GenerateSettings fields from an operator's control properties (markers read now, as entries: data,
    not text to parse again); and the names of markers ignored."""
    fields = {name: getattr(op, name) for name in controls.ENGINE_FIELDS}
    fields["emotion_reference"] = reference_path(op.emotion_reference) if op.emotion_reference else None
    ignored: list[str] = []
    if op.use_markers:
        fields["emotion_track"], ignored = markers(context.scene, op.start_frame)
    return fields, ignored


def take_settings(op, settings) -> str:
    """The JSON a take remembers: the operator's values, and the track its markers gave (from the checked
    ``settings`` the take was made with)."""
    values = {name: getattr(op, name) for name in FIELDS}
    if op.use_markers:
        values["emotion_track"] = settings.emotion_track
    return controls.stored_record(values, filepath=op.filepath, start_frame=op.start_frame,
                                  checkpoint=op.checkpoint)


def stored_settings(action) -> dict:
    """The settings a take was made with, each value checked against its control (one-line EmoTalkError
    naming the take and the setting otherwise, or when it has none, e.g. an imported take)."""
    text = action.get("emotalk", {}).get(SETTINGS_KEY) if action.get("emotalk") is not None else None
    if not text:
        raise EmoTalkError(f"Take {action.name!r} has no stored settings (it was imported or made by an older "
                           "version): generate it again from the panel")
    return controls.read_record(text, f"Take {action.name!r}")


def summary(action) -> str:
    """One line of a take's settings for the Takes panel."""
    from ..engine.stored_settings import StoredSettingsError

    try:
        return controls.summary(stored_settings(action))
    except StoredSettingsError:  # a hand-edited value (Regenerate names it)
        return "stored settings unreadable"
    except EmoTalkError:
        return "no stored settings"


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
    col.prop(settings, "neutral_lean", slider=True)  # where the voice's own emotion is used and reads unsure
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

