"""Rigify's face, ready to take a take: its poses for the 52 ARKit channels (shipped as
``rigs/rigify_face_poses.json``, made by ``scripts/make_rigify_face_poses.py``) loaded as pose
Actions and mapped, and, for scripts and tests, a Rigify rig generated from the human meta-rig of
the Rigify that ships with Blender (4.2 and later, ``addons_core/rigify``).
"""
from __future__ import annotations

import json

import bpy
from bpy.props import StringProperty
from bpy_extras.io_utils import ImportHelper

from ..engine.arkit import NUM_BLENDSHAPES
from ..engine.errors import EmoTalkError
from ..engine.paths import resource
from . import rig_mapping
from .operator_base import reports_errors

POSES_FILE = ("rigs", "rigify_face_poses.json")
ACTION_PREFIX = "ARKit_"  # pose Actions are named ARKit_jawOpen ...: the auto-mapping finds them by name


def poses_path():
    return resource(*POSES_FILE)


def read_poses(path=None) -> dict:
    """{channel: {bone: {"location"/"rotation_quaternion"/"scale": values}}} in bone-local space."""
    path = path or poses_path()
    try:
        with open(path) as fh:
            return json.load(fh)["channels"]
    except (OSError, ValueError, KeyError) as exc:
        raise EmoTalkError(f"{path}: cannot read the Rigify face poses ({exc})") from None


def load_poses(rig, path=None):
    """Make one pose Action per channel for ``rig`` (bones it lacks are skipped) and map them."""
    if not rig_mapping.is_rig(rig):
        raise rig_mapping.TargetError("Select the generated Rigify rig (an armature) to load its face poses")
    channels = read_poses(path)
    actions = []
    for channel, bones in channels.items():
        present = {b: props for b, props in bones.items() if b in rig.pose.bones}
        if present:
            actions.append(rig_mapping.new_pose_action(rig, ACTION_PREFIX + channel, present))
    if not actions:
        raise rig_mapping.TargetError(f"Armature {rig.name!r} has none of the Rigify face bones (lips.L, "
                                      "jaw_master, lid.T.L.002 ...): generate the rig from a Rigify meta-rig first")
    return rig_mapping.auto_fill(rig, actions)


def generate_rig(name: str = "rig"):
    """A Rigify rig generated from Rigify's human meta-rig (the bundled add-on is enabled for it)."""
    import addon_utils

    addon_utils.enable("rigify", default_set=True, persistent=False)  # its preferences must exist
    if not hasattr(bpy.ops.object, "armature_human_metarig_add"):
        raise EmoTalkError("This Blender has no Rigify add-on")
    if bpy.context.object is not None and bpy.context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.active_object
    metarig.data.rigify_rig_basename = name
    bpy.ops.pose.rigify_generate()
    rig = bpy.context.active_object
    metarig.hide_set(True)
    return rig


class EMOTALK_OT_load_rigify_poses(bpy.types.Operator):
    """Load the shipped poses of Rigify's face for the 52 ARKit channels onto the active Rigify rig, and map them"""

    bl_idname = "emotalk.load_rigify_poses"
    bl_label = "Load Rigify face poses"
    bl_options = {"REGISTER", "UNDO"}

    @reports_errors
    def execute(self, context):
        mapping = load_poses(context.active_object)
        self.report({"INFO"}, f"{len(mapping.channels)} channels mapped to Rigify face poses")
        return {"FINISHED"}


class EMOTALK_OT_map_pose_library(bpy.types.Operator, ImportHelper):
    """Append the pose Actions (pose assets) of a pose or asset library .blend that pose this armature's
    bones, and map the ARKit channels onto them by name"""

    bl_idname = "emotalk.map_pose_library"
    bl_label = "Map poses from a .blend"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".blend"
    filter_glob: StringProperty(default="*.blend", options={"HIDDEN"})

    @reports_errors
    def execute(self, context):
        from .operators import blend_path

        obj = context.active_object
        if not rig_mapping.is_rig(obj):
            raise rig_mapping.TargetError("Select the armature whose face the poses are for")
        actions = rig_mapping.append_pose_actions(obj, blend_path(self.filepath, "pose library"))
        mapping = rig_mapping.auto_fill(obj, actions)
        self.report({"INFO"}, f"{len(mapping.channels)}/{NUM_BLENDSHAPES} channels mapped from {len(actions)} poses"
                    + (f"; unmatched: {', '.join(mapping.unmatched)}" if mapping.unmatched else ""))
        return {"FINISHED"}


classes = (EMOTALK_OT_load_rigify_poses, EMOTALK_OT_map_pose_library)
