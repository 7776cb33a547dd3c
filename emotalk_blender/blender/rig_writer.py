"""Write a take onto an armature's face bones: per frame, each mapped bone's local transform is rest
combined with the weighted sum of the channels' pose deltas (``engine.pose_blend``), keyed in bulk.

An armature takes a take as a mesh does (``scene_writer.write_take`` hands it here): a new add-on-owned
Action (its own object slot on 4.4+), assigned so it plays, the sound strip, the frame range, the
takes list, undo and rollback on failure. An Action of the artist's that was playing on the rig is
never changed: it moves to an NLA track under the take, so the body keeps playing it while the take
drives the face.

Mixed characters: a mesh whose ``emotalk.rig`` names an armature gets one take on both; its shape keys
and the rig's mapped bones are keyed from the same weights, into the same Action (a second slot) on
4.4+, or on 4.2 (one ID type per Action) into a companion Action tagged as part of the take.
"""
from __future__ import annotations

import os

import bpy
import numpy as np

from ..engine.motion import takes
from ..engine.arkit import INDEX
from ..engine.errors import AudioError, EmoTalkError
from ..engine.formats.motion_io import check_motion
from ..engine.motion.pose_blend import EULER_ORDERS, blend, quat_to_euler
from . import artist_action, compat, head_motion_writer, rig_mapping, scene_writer
from .rollback import Rollback

RIG_TAG = "emotalk_rig"  # the armature object a take (or a take's rig part) was written for
PART_OF_TAG = "emotalk_part_of"  # 4.2: the take whose rig part this companion Action is
NLA_TRACK = artist_action.NLA_TRACK  # where the artist's own Action keeps playing under the take


def rig_curves(obj, weights_fps: np.ndarray, mapping=None) -> list[tuple[str, int, str, np.ndarray]]:
    """(data path, index, group, values (T,) float32) per F-curve to key: every transform part some
    pose moves, on every bone it moves, from weights (T, 52) already on the scene's frame grid."""
    mapping = rig_mapping.check_rig(obj) if mapping is None else mapping
    poses = rig_mapping.poses_of(obj, mapping)
    gains = np.array([gain for _, gain in mapping.channels.values()], np.float64)
    w = weights_fps[:, [INDEX[c] for c in poses.channels]].astype(np.float64) * gains
    loc, quat, scale = blend(w, poses)
    used = poses.used()
    curves = []
    for b, bone in enumerate(poses.bones):
        path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]'
        parts = []
        if used["location"][b]:
            parts.append(("location", loc[:, b]))
        if used["rotation"][b]:
            mode = obj.pose.bones[bone].rotation_mode
            if mode == "QUATERNION":
                parts.append(("rotation_quaternion", quat[:, b]))
            elif mode in EULER_ORDERS:
                parts.append(("rotation_euler", quat_to_euler(quat[:, b], mode)))
            else:
                raise rig_mapping.TargetError(f"Bone {bone!r} uses axis-angle rotation, which poses cannot "
                                              "blend: set it to Quaternion or an Euler order")
        if used["scale"][b]:
            parts.append(("scale", scale[:, b]))
        for prop, values in parts:
            for i in range(values.shape[1]):
                curves.append((f"{path}.{prop}", i, bone, values[:, i].astype(np.float32)))
    return curves


def _write_curves(fcurves, curves, start: int) -> None:
    """Linear F-curves keyed in bulk from ``start`` (keyframe_points.add + foreach_set)."""
    count = len(curves[0][3])
    co = np.empty(2 * count, np.float32)
    co[0::2] = np.arange(start, start + count, dtype=np.float32)
    interpolation = np.full(count, scene_writer._LINEAR, np.int32)
    for path, index, group, values in curves:
        fc = compat.new_fcurve(fcurves, path, group=group, index=index)
        fc.keyframe_points.add(count)
        co[1::2] = values
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", interpolation)
        fc.update()


def _keep_pose(obj, curves, rollback: Rollback) -> None:
    """Restore the pose of the bones ``curves`` key on rollback (evaluating the take writes them)."""
    bones = [obj.pose.bones[name] for name in dict.fromkeys(group for _, _, group, _ in curves)]
    saved = [(pb, tuple(pb.location), tuple(pb.rotation_quaternion), tuple(pb.rotation_euler),
              tuple(pb.scale)) for pb in bones]

    def restore():
        for pb, loc, quat, euler, scale in saved:
            pb.location, pb.rotation_quaternion, pb.rotation_euler, pb.scale = loc, quat, euler, scale
    rollback.on_undo(restore)


def _assign(obj, action, slot, take, rollback: Rollback) -> None:
    """Play ``action`` on the rig; an artist's Action playing there moves to an NLA track under it."""
    artist_action.play_over(obj, action, slot, take, rollback, scene_writer.is_take)


def write_rig_take(obj, weights, *, scene=None, start_frame: int = 1, audio_path=None, name: str | None = None,
                   meta: dict | None = None, set_range: bool = True, head=None, head_bone: str | None = None):
    """Write ``weights`` (T, 52, released order, 30 fps) onto an armature's mapped poses as a new take;
    ``head`` ((T, 3) degrees) goes onto its head or neck bone in the same take (head_motion_writer)."""
    scene = scene or bpy.context.scene
    weights = check_motion(weights, "take")
    mapping = rig_mapping.check_rig(obj)
    if audio_path and not os.path.isfile(audio_path):
        raise AudioError(f"{audio_path}: no such audio file")
    fps = scene_writer.scene_fps(scene)
    curves = rig_curves(obj, takes.resample_to_fps(weights, fps), mapping)  # every check before a change
    if not curves:
        raise rig_mapping.TargetError(f"The poses mapped on {obj.name!r} move no bone")
    start, count = int(start_frame), len(curves[0][3])
    scene_writer.check_start_frame(start, count)
    take = scene_writer.Take(action="", start=start, end=start + count - 1, frames=count, fps=fps,
                             mapped=len(mapping.channels), unmatched=list(mapping.unmatched))
    with Rollback() as rollback:
        _keep_pose(obj, curves, rollback)
        stem = os.path.splitext(os.path.basename(audio_path))[0] if audio_path else "take"
        action = scene_writer._new_take_action(name or f"EmoTalk_{stem}", obj, len(weights), meta, rollback)
        del action[scene_writer.KEY_TAG]
        action[RIG_TAG] = obj.name
        take.action = action.name
        fcurves, slot = compat.new_fcurves_for(action, "OBJECT", obj.name)
        _write_curves(fcurves, curves, start)
        _assign(obj, action, slot, take, rollback)
        if head is not None:
            head_motion_writer.write_head(obj, action, head, start, scene, take, rollback, bone=head_bone)
        if audio_path:
            scene_writer._add_sound(scene, audio_path, start, action, take, rollback)
        if set_range:
            scene_writer._set_frame_range(scene, take.start, take.end, rollback)
    return take


# --- mixed characters: a mesh's take also drives its rig ---------------------------------------------
def rig_of(obj):
    """The armature whose bones a mesh's takes also drive (``obj.emotalk.rig``), or None."""
    rig = getattr(getattr(obj, "emotalk", None), "rig", None) if obj is not None and obj.type == "MESH" else None
    return rig if rig_mapping.is_rig(rig) else None


def add_rig_part(obj, action, weights_fps, start: int, take, rollback: Rollback) -> None:
    """Key the rig of mesh ``obj`` (if it has one) from the same take: a slot of ``action`` on 4.4+,
    a companion Action on 4.2."""
    rig = rig_of(obj)
    if rig is None:
        return
    mapping = rig_mapping.mapping_of(rig)
    curves = rig_curves(rig, weights_fps, mapping) if mapping.channels else []
    if not curves:
        take.warnings.append(f"Face rig {rig.name!r} has no pose mapped to a channel: only the shape keys "
                             "take the take")
        return
    _keep_pose(rig, curves, rollback)
    got = compat.more_fcurves_for(action, "OBJECT", rig.name)
    target = action
    if got is None:
        target = scene_writer._new_take_action(f"{action.name}_rig", rig, action[scene_writer.FRAMES_30_TAG],
                                               None, rollback)
        del target[scene_writer.KEY_TAG]
        target[PART_OF_TAG] = action.name
        got = compat.new_fcurves_for(target, "OBJECT", rig.name)
    target[RIG_TAG] = rig.name
    _write_curves(got[0], curves, start)
    _assign(rig, target, got[1], take, rollback)


def _part_of(action, rig):
    """(Action, slot) that plays take ``action`` on ``rig``, or (None, None)."""
    if compat.slotted_actions():
        slot = next((s for s in action.slots if s.target_id_type == "OBJECT" and s.name_display == rig.name), None)
        return (action, slot) if slot is not None else (None, None)
    part = next((a for a in bpy.data.actions if a.get(PART_OF_TAG) == action.name), None)
    return part, None


def use_rig_part(obj, action, take, rollback: Rollback) -> None:
    """Make the rig of mesh ``obj`` play its part of take ``action`` too."""
    rig = rig_of(obj)
    if rig is not None:
        part, slot = _part_of(action, rig)
        if part is not None:
            _assign(rig, part, slot, take, rollback)


_REST = {"location": (0.0, 0.0, 0.0), "rotation_quaternion": (1.0, 0.0, 0.0, 0.0),
         "rotation_euler": (0.0, 0.0, 0.0), "scale": (1.0, 1.0, 1.0)}


def _rest_bones(rig, action, slot, rollback: Rollback | None = None) -> None:
    """Put the bones a take keys back at rest (a deleted take would leave them at its last frame)."""
    for fc in compat.fcurves_of(action, slot):
        m = rig_mapping._BONE_PATH.match(fc.data_path)
        pb = rig.pose.bones.get(m.group(1).replace('\\"', '"')) if m else None
        if pb is None or m.group(2) not in _REST:
            continue
        values = getattr(pb, m.group(2))
        old = values[fc.array_index]
        values[fc.array_index] = _REST[m.group(2)][fc.array_index]
        if rollback is not None:
            rollback.on_undo(lambda values=values, i=fc.array_index, old=old: values.__setitem__(i, old))


def delete_parts(action, rollback: Rollback | None = None) -> None:
    """Before take ``action`` is removed: the bones of the rigs it plays on back at rest, and its
    companion Actions (4.2) removed."""
    for rig in [o for o in bpy.data.objects if rig_mapping.is_rig(o) and o.animation_data is not None]:
        anim = rig.animation_data
        if anim.action is not None and (anim.action == action or anim.action.get(PART_OF_TAG) == action.name):
            _rest_bones(rig, anim.action, compat.assigned_slot(anim), rollback)
    for part in [a for a in bpy.data.actions if a.get(PART_OF_TAG) == action.name]:
        bpy.data.actions.remove(part)


# --- the takes list on a rig -----------------------------------------------------------------------
def takes_of(obj) -> list:
    """The takes written for an armature (its own and mixed characters' rig parts), oldest first."""
    return sorted((a for a in bpy.data.actions if scene_writer.is_take(a) and a.get(RIG_TAG) == obj.name),
                  key=lambda a: a.get(scene_writer.ORDER_TAG, 0))


def playing(obj):
    anim = obj.animation_data
    return anim.action if anim is not None else None


def use_take(obj, action, scene=None):
    scene = scene or bpy.context.scene
    if not scene_writer.is_take(action) or action.get(RIG_TAG) != obj.name:
        raise EmoTalkError(f"Action {action.name!r} is not an EmoTalk take of {obj.name!r}")
    slot = compat.find_slot(action, "OBJECT", obj.name)
    curves = compat.fcurves_of(action, slot)
    if not curves:
        raise EmoTalkError(f"Take {action.name!r} has no curves for bones")
    start, end = (int(round(v)) for v in scene_writer._curve_range(curves))
    take = scene_writer.Take(action=action.name, start=start, end=end, frames=end - start + 1,
                             fps=scene_writer.scene_fps(scene), mapped=len(curves))
    with Rollback() as rollback:
        _assign(obj, action, slot, take, rollback)
        main = bpy.data.actions.get(action.get(PART_OF_TAG, action.name))  # 4.2: a companion's sound is its take's
        chosen = scene_writer.take_strip(scene, main) if main is not None else None
        for strip in compat.all_strips(scene):
            if strip.get(scene_writer.TAKE_TAG):
                rollback.set(strip, mute=strip != chosen)
        take.sound_strip = chosen.name if chosen is not None else None
        scene_writer._set_frame_range(scene, start, end, rollback)
    return take


def delete_take(obj, action, scene=None) -> None:
    """Remove a rig's take and its sound strip; the artist's Action (in the NLA) is left alone."""
    scene = scene or bpy.context.scene
    if not scene_writer.is_take(action):
        raise EmoTalkError(f"Action {action.name!r} is not an EmoTalk take: not deleted")
    anim = obj.animation_data
    with Rollback() as rollback:
        delete_parts(action, rollback)
        if anim is not None and anim.action == action:
            slot = compat.assigned_slot(anim)
            compat.assign_action(anim, None, None)
            rollback.on_undo(lambda: compat.assign_action(anim, action, slot))
        strip = scene_writer.take_strip(scene, action)
        if strip is not None:
            scene_writer._remove_strip(scene, strip)
        bpy.data.actions.remove(action)
