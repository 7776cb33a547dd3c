"""Settings the add-on stores: per scene (generate inputs, last take), per object (retarget
mapping) and per window manager (the running job's progress, never saved in the file).
"""
from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

from ..engine import controls
from . import compat
from .directing import DirectingProperties

MAX_FRAME = controls.MAX_FRAME


class EMOTALK_PG_channel(bpy.types.PropertyGroup):
    """One ARKit channel -> one of the object's shape keys, scaled by a gain."""

    arkit: StringProperty(name="ARKit", description="ARKit blendshape name")
    target: StringProperty(name="Shape key", description="Shape key this channel drives "
                           "(empty: not driven)")
    gain: FloatProperty(name="Gain", default=1.0, soft_min=0.0, soft_max=2.0,
                        description="Multiplier applied to this channel's weights")


def _is_armature(self, obj) -> bool:
    return obj.type == "ARMATURE"


class EMOTALK_PG_object(bpy.types.PropertyGroup):
    # On a mesh: shape keys; on an armature: pose Actions (blender/rig_mapping.py).
    channels: CollectionProperty(type=EMOTALK_PG_channel)
    active_channel: IntProperty(default=0)
    rig: PointerProperty(type=bpy.types.Object, poll=_is_armature, name="Face rig",
                         description="An armature whose mapped bone poses (jaw, eyes...) this mesh's takes "
                                     "also drive")
    head_bone: StringProperty(name="Head bone", description="The armature bone the head motion turns; empty: "
                                                            "found by name (head, then neck), else the object turns")


class EMOTALK_PG_scene(DirectingProperties, bpy.types.PropertyGroup):
    audio_path: StringProperty(name="Audio", subtype="FILE_PATH", options=compat.blend_relative_path(),
                               description="Voice recording to animate (WAV, FLAC, OGG, ...)")
    # the controls (level, style, emotion, strengths, head...) come from DirectingProperties (their table)
    start_frame: IntProperty(name="Start frame", default=1, min=-MAX_FRAME, max=MAX_FRAME,
                             description="Frame where the take and its sound begin")
    last_take: StringProperty(name="Last take", description="Summary of the last take")


class EMOTALK_PG_job(bpy.types.PropertyGroup):
    """The running Generate job (runtime only: lives on the window manager)."""

    running: BoolProperty(default=False)
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(default="")
    cancel_requested: BoolProperty(default=False)


classes = (EMOTALK_PG_channel, EMOTALK_PG_object, EMOTALK_PG_scene, EMOTALK_PG_job)

# (owner type, attribute, property group): attached by register(), removed by unregister().
POINTERS = (
    (bpy.types.Scene, "emotalk", EMOTALK_PG_scene),
    (bpy.types.Object, "emotalk", EMOTALK_PG_object),
    (bpy.types.WindowManager, "emotalk_job", EMOTALK_PG_job),
)
