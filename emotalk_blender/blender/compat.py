"""Every difference between the Blender versions we support (4.2 LTS, 4.4+, 5.x), in one place.

Each helper feature-detects (an RNA property or parameter exists or not), never compares version
numbers. Actions: 4.4 added slots with F-curves in layers/strips/channelbags, 5.0 removed
``Action.fcurves``. Sequencer: 4.4 renamed ``sequences`` to ``strips``. Image output: 5.0 added
``media_type``, which must be picked before the file format; 5.2 renamed the strip
frame properties (``content_start``, ``duration``). Shape keys: new keys start at 1.0 in
5.x (0.0 in 4.2). Path properties: 5.x flags those that accept ``//`` paths.
"""
from __future__ import annotations

import bpy

_LAYER_NAME = "EmoTalk"


def _has_property(rna_type, name: str) -> bool:
    return name in rna_type.bl_rna.properties


# --- actions ---------------------------------------------------------------------------------
def slotted_actions() -> bool:
    """True when Actions have slots and layers (Blender 4.4+)."""
    return _has_property(bpy.types.Action, "layers")


def new_fcurves_for(action, id_type: str, name: str):
    """(F-curve collection, slot) for a new Action meant for one ID of ``id_type`` ('KEY', ...).

    4.4+: a new slot and a keyframe strip's channelbag for it; 4.2: ``action.fcurves`` and no slot.
    """
    if slotted_actions():
        slot = action.slots.new(id_type=id_type, name=name)
        strip = action.layers.new(_LAYER_NAME).strips.new(type="KEYFRAME")
        return strip.channelbag(slot, ensure=True).fcurves, slot
    action.id_root = id_type
    return action.fcurves, None


def new_fcurve(fcurves, data_path: str, group: str, index: int = 0):
    """A new F-curve (array ``index``) in ``fcurves``, in the channel group ``group``."""
    params = fcurves.bl_rna.functions["new"].parameters
    key = "group_name" if "group_name" in params else "action_group" if "action_group" in params else None
    return fcurves.new(data_path, index=index, **({key: group} if key else {}))


def more_fcurves_for(action, id_type: str, name: str):
    """(F-curve collection, slot) for one more ID in an existing take Action (4.4+): the slot of that
    ID type and name (made when missing) in the Action's first keyframe strip, so every writer of a take
    (face bones, head motion) keys into one slot per ID. None on 4.2, where an Action animates one ID type."""
    if not slotted_actions():
        return None
    slot = next((s for s in action.slots if s.target_id_type == id_type and s.name_display == name), None)
    if slot is None:
        slot = action.slots.new(id_type=id_type, name=name)
    layer = action.layers[0] if len(action.layers) else action.layers.new(_LAYER_NAME)
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True).fcurves, slot


def find_slot(action, id_type: str, name: str | None = None):
    """The slot of ``action`` for an ID of ``id_type``, preferring the one named ``name``.

    None on 4.2 (no slots) or when no slot suits that ID type.
    """
    if action is None or not slotted_actions():
        return None
    suitable = [s for s in action.slots if s.target_id_type in (id_type, "UNSPECIFIED")]
    return next((s for s in suitable if s.name_display == name), suitable[0] if suitable else None)


def fcurves_of(action, slot) -> list:
    """The F-curves ``action`` holds for ``slot`` (4.4+), or all of them (4.2, slot None)."""
    if action is None:
        return []
    if not slotted_actions():
        return list(action.fcurves)
    if slot is None:
        return []
    curves = []
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                curves.extend(bag.fcurves)
    return curves


def assigned_slot(anim):
    """The slot ``anim`` (AnimData) plays its Action through; None on 4.2."""
    return anim.action_slot if _has_property(bpy.types.AnimData, "action_slot") else None


def assign_action(anim, action, slot) -> None:
    """Play ``action`` through ``slot`` on ``anim``: on 4.4+ curves do nothing until the slot is set."""
    anim.action = action
    if action is not None and slot is not None:
        anim.action_slot = slot


def playing_fcurves(anim) -> tuple:
    """(Action, its F-curves for the assigned slot) of an AnimData; (None, []) when none plays."""
    action = anim.action if anim is not None else None
    if action is None:
        return None, []
    return action, fcurves_of(action, assigned_slot(anim))


# --- sequencer -------------------------------------------------------------------------------
def _editor_collection(editor, new_name: str, old_name: str):
    return getattr(editor, new_name if _has_property(bpy.types.SequenceEditor, new_name) else old_name)


def top_strips(scene):
    """The Sequencer's top-level strip collection (``new_sound``, ``remove``); None without an editor."""
    editor = scene.sequence_editor
    return None if editor is None else _editor_collection(editor, "strips", "sequences")


def all_strips(scene) -> list:
    """Every strip of the scene's Sequencer, inside meta strips too."""
    editor = scene.sequence_editor
    return [] if editor is None else list(_editor_collection(editor, "strips_all", "sequences_all"))


def new_sound_strip(scene, name: str, filepath: str, channel: int, frame_start: int):
    """A sound strip (the scene must have a Sequencer)."""
    return top_strips(scene).new_sound(name, filepath, channel, frame_start)


def remove_strip(scene, strip) -> None:
    top_strips(scene).remove(strip)


def _strip_value(strip, new_name: str, old_name: str):
    return getattr(strip, new_name if _has_property(type(strip), new_name) else old_name)


def strip_start(strip) -> int:
    """The frame a strip's content starts at (5.2 renamed ``frame_start`` to ``content_start``)."""
    return _strip_value(strip, "content_start", "frame_start")


def strip_duration(strip) -> int:
    """A strip's length in frames between its handles (5.2: ``duration``, was ``frame_final_duration``)."""
    return _strip_value(strip, "duration", "frame_final_duration")


def has_audio() -> bool:
    """Whether this build can play and mix sound (the bpy 4.2 wheel is built without audaspace)."""
    return bool(bpy.app.build_options.audaspace)


# --- properties ------------------------------------------------------------------------------
def blend_relative_path(*options: str) -> set:
    """``options`` for a file-path StringProperty that takes ``//`` paths: 5.x warns when a ``//`` path
    is set without the flag (4.2 has no such flag)."""
    flag = _has_property(bpy.types.Property, "is_path_supports_blend_relative")
    return {*options, "PATH_SUPPORTS_BLEND_RELATIVE"} if flag else set(options)


# --- render output and shape keys ------------------------------------------------------------
def image_format(media_type: str, file_format: str, **more) -> dict:
    """ImageFormatSettings values for ``file_format``, ``media_type`` ('IMAGE'/'VIDEO') first on 5.x.

    Ordered: apply in order (on 5.x the media type decides which file formats are allowed).
    """
    values = {"media_type": media_type} if _has_property(bpy.types.ImageFormatSettings, "media_type") else {}
    values["file_format"] = file_format
    values.update(more)
    return values


def new_shape_key(obj, name: str, value: float = 0.0):
    """A shape key from the basis (not the mix) at ``value``: 5.x would start it at 1.0, 4.2 at 0.0."""
    kb = obj.shape_key_add(name=name, from_mix=False)
    kb.value = value
    return kb
