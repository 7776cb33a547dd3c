"""Armature face rigs: which pose each ARKit channel drives, with a gain.

A pose is an Action holding one key per animated bone channel (``pose.bones["jaw"].rotation_quaternion``
...), as Blender's pose assets are: the bones' local transforms at weight 1 (relative to rest, which is
identity in pose space). The mapping is stored on the armature object in the same rows as the
shape-key mapping (``obj.emotalk.channels``: ARKit name, Action name, gain), so it is saved with the
file and edited in the same list. An armature with no stored rows is mapped automatically by the
Actions' names (``arkit.auto_map``: ``ARKit_jawOpen``, ``pose.JawOpen``, ``mouth_smile_L`` ...).
"""
from __future__ import annotations

import re

import bpy
import numpy as np

from ..engine import arkit
from ..engine.motion import pose_blend
from ..engine.arkit import NUM_BLENDSHAPES
from . import compat
from .retarget import Mapping, TargetError, store_rows

_BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(location|rotation_quaternion|rotation_euler|'
                        r'scale|rotation_axis_angle)$')
TAKE_TAG = "emotalk_take"  # as scene_writer.TAKE_TAG: a take is never a pose


def is_rig(obj) -> bool:
    return obj is not None and obj.type == "ARMATURE"


def action_curves(action) -> list:
    """The F-curves of a pose Action: its object slot's (4.4+) or all of them (4.2)."""
    if not compat.slotted_actions():
        return list(action.fcurves)
    slot = compat.find_slot(action, "OBJECT")
    return compat.fcurves_of(action, slot)


def _bone_curves(action):
    """{bone: {property: {index: fcurve}}} of an Action's pose-bone F-curves."""
    out: dict[str, dict[str, dict[int, object]]] = {}
    for fc in action_curves(action):
        m = _BONE_PATH.match(fc.data_path)
        if m:
            bone = m.group(1).replace('\\"', '"').replace("\\\\", "\\")
            out.setdefault(bone, {}).setdefault(m.group(2), {})[fc.array_index] = fc
    return out


def pose_actions(obj) -> list:
    """The file's Actions that pose some bone of ``obj`` (takes excluded), by name."""
    if not is_rig(obj) or obj.pose is None:  # an armature never evaluated has no pose yet
        return []
    bones = obj.pose.bones
    return [a for a in bpy.data.actions
            if not a.get(TAKE_TAG) and any(name in bones for name in _bone_curves(a))]


def auto_fill(obj, actions=None) -> Mapping:
    """Store the automatic name mapping on the armature (52 rows, gain 1) from ``actions`` (default:
    every pose Action of the file). Mapped Actions get a fake user, so a save keeps them."""
    actions = pose_actions(obj) if actions is None else list(actions)
    for target in store_rows(obj, [a.name for a in actions]).values():
        bpy.data.actions[target].use_fake_user = True
    return mapping_of(obj)


def mapping_of(obj) -> Mapping:
    """The mapping in force: the stored rows, or the automatic one when none are stored.

    Rows naming an Action the file no longer has count as unmatched.
    """
    result = Mapping()
    rows = obj.emotalk.channels if is_rig(obj) else ()
    if len(rows):
        stored = {row.arkit: (row.target, row.gain) for row in rows}
        for name in arkit.ARKIT_NAMES:
            target, gain = stored.get(name, ("", 1.0))
            if target and target in bpy.data.actions:
                result.channels[name] = (target, float(gain))
            else:
                result.unmatched.append(name)
    else:
        auto, result.unmatched = arkit.auto_map([a.name for a in pose_actions(obj)])
        result.channels = {name: (target, 1.0) for name, target in auto.items()}
    return result


def check_rig(obj) -> Mapping:
    """The rig's mapping, or a TargetError naming the problem (before any work)."""
    if not is_rig(obj):
        raise TargetError(f"Object {obj.name!r} is not an armature" if obj else "No target armature")
    if obj.library is not None:
        raise TargetError(f"Armature {obj.name!r} is linked from {obj.library.filepath} and cannot keep a "
                          "take in this file: make it a library override and generate again")
    mapping = mapping_of(obj)
    if not mapping.channels:
        raise TargetError(f"None of the {NUM_BLENDSHAPES} ARKit channels has a pose on armature {obj.name!r}: "
                          "load the Rigify face poses or map pose Actions in the EmoTalk panel")
    return mapping


def _rotation(bone: str, props: dict, mode: str, frame: float, action_name: str) -> np.ndarray:
    """The rotation vector a pose keys for ``bone`` (identity when it keys no rotation)."""
    if mode == "AXIS_ANGLE":
        raise TargetError(f"Bone {bone!r} uses axis-angle rotation, which poses cannot blend: set it to "
                          "Quaternion or an Euler order")
    quat, euler = props.get("rotation_quaternion"), props.get("rotation_euler")
    if quat and (mode == "QUATERNION" or not euler):
        q = np.array([1.0, 0.0, 0.0, 0.0])
        for i, fc in quat.items():
            q[i] = fc.evaluate(frame)
        if np.linalg.norm(q) < 1e-9:
            raise TargetError(f"Pose {action_name!r}: bone {bone!r} has a zero rotation quaternion")
        return pose_blend.quat_to_rotvec(q)
    if euler:
        e = np.zeros(3)
        for i, fc in euler.items():
            e[i] = fc.evaluate(frame)
        return pose_blend.quat_to_rotvec(pose_blend.euler_to_quat(e, mode if mode in pose_blend.EULER_ORDERS
                                                                   else "XYZ"))
    return np.zeros(3)


def read_pose(obj, action) -> dict[str, np.ndarray]:
    """{bone: (3, 3) rows location offset, rotation vector, scale offset} an Action holds at its first key."""
    frame = action.frame_range[0]
    pose = {}
    for bone, props in _bone_curves(action).items():
        pb = obj.pose.bones.get(bone)
        if pb is None:
            continue  # a pose made for a larger rig: its other bones are simply not here
        loc, scale = np.zeros(3), np.ones(3)
        for i, fc in props.get("location", {}).items():
            loc[i] = fc.evaluate(frame)
        for i, fc in props.get("scale", {}).items():
            scale[i] = fc.evaluate(frame)
        pose[bone] = np.stack([loc, _rotation(bone, props, pb.rotation_mode, frame, action.name), scale - 1.0])
    return pose


def poses_of(obj, mapping: Mapping | None = None) -> pose_blend.Poses:
    """The mapped channels' poses as arrays over every bone any of them moves (armature bone order)."""
    mapping = check_rig(obj) if mapping is None else mapping
    channels = list(mapping.channels)
    read = [read_pose(obj, bpy.data.actions[target]) for target, _ in mapping.channels.values()]
    moved = set().union(*read) if read else set()
    bones = [pb.name for pb in obj.pose.bones if pb.name in moved]
    data = np.zeros((len(channels), len(bones), 3, 3))
    for c, pose in enumerate(read):
        for b, bone in enumerate(bones):
            if bone in pose:
                data[c, b] = pose[bone]
    return pose_blend.Poses(channels, bones, data[:, :, 0], data[:, :, 1], data[:, :, 2])


def new_pose_action(obj, name: str, bones: dict[str, dict], replace: bool = True):
    """An Action holding one key (frame 1) per bone channel: ``bones[bone] = {"location": (x, y, z),
    "rotation_quaternion": (w, x, y, z), "scale": ...}`` (any subset), marked as a pose of ``obj``."""
    old = bpy.data.actions.get(name)
    if old is not None and replace and not old.get(TAKE_TAG):
        bpy.data.actions.remove(old)
    action = bpy.data.actions.new(name)
    fcurves, _ = compat.new_fcurves_for(action, "OBJECT", obj.name)
    for bone, props in bones.items():
        path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]'
        for prop, values in props.items():
            for i, value in enumerate(values):
                fc = compat.new_fcurve(fcurves, f"{path}.{prop}", group=bone, index=i)
                fc.keyframe_points.insert(1.0, float(value))
    action.use_fake_user = True
    return action


def append_pose_actions(obj, filepath: str) -> list:
    """Append the Actions of a .blend (a pose library or asset library file) that pose bones of ``obj``;
    the others are not kept. Returns the appended pose Actions."""
    import os

    if not os.path.isfile(filepath):
        raise TargetError(f"{filepath}: no such .blend file")
    before = set(bpy.data.actions)
    try:
        with bpy.data.libraries.load(filepath, link=False) as (src, dst):
            dst.actions = list(src.actions)
    except OSError as exc:
        raise TargetError(f"{filepath}: cannot read it as a .blend file ({exc})") from None
    new = [a for a in bpy.data.actions if a not in before]
    bones = obj.pose.bones
    kept = [a for a in new if not a.get(TAKE_TAG) and any(name in bones for name in _bone_curves(a))]
    for action in new:
        if action not in kept:
            bpy.data.actions.remove(action)
    if not kept:
        raise TargetError(f"{filepath}: no Action in it poses a bone of {obj.name!r}")
    for action in kept:
        action.use_fake_user = True
    return kept
