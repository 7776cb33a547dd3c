"""Head motion (engine/direction/head_motion.py) written into a take: rotation F-curves on the head object,
or on an armature's head or neck bone (found by name, e.g. Rigify's ``head``).

The curves belong to the take: on Blender 4.4+ they are a slot of the take's own Action (one slot
per animated ID, shared with other writers of the take); on 4.2, where an Action animates one ID
type, a companion Action tagged with the take's name. The target plays it; an artist's Action
already playing there is kept whole on an NLA track under the take (never changed). Rotations are
the target's rest rotation (remembered on the target the first time) times the head-local motion,
so the head pivots where its origin (or the bone's head) is: the neck on the default head.

Axes: the character faces -Y with +Z up (Blender's front view), so its left is +X. Pitch (chin up)
turns about -X, yaw (to the character's left) about +Z, roll (toward the left shoulder) about +Y.
"""
from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Euler, Matrix, Quaternion

from ..engine.motion import takes
from ..engine.direction.head_motion import PITCH, ROLL, YAW
from . import artist_action, compat
from .rollback import Rollback

HEAD_OF_TAG = "emotalk_head_of"  # 4.2: the take whose head motion this companion Action is
PART_OF_TAG = "emotalk_part_of"  # 4.2: another writer's companion Action of a take (face rig)
TAKE_TAG = "emotalk_take"
REST_TAG = "emotalk_head_rest"  # on the target: its rest rotation (quaternion w, x, y, z)
NLA_TRACK = artist_action.NLA_TRACK
GROUP = "EmoTalk Head"
_LINEAR = 1
# Bone names looked for, best first (case-insensitive); then any bone whose name holds "head", then "neck".
BONE_NAMES = ("head", "head_ctrl", "c_head", "head.x", "neck", "neck_01", "neck.001")
_SKIP_PREFIXES = ("def-", "org-", "mch-", "tweak_", "vis_")  # Rigify's deform/mechanism copies


def armature_of(obj):
    """The armature that deforms or holds ``obj`` (itself, its parent, or an Armature modifier's), or None."""
    if obj is None:
        return None
    if obj.type == "ARMATURE":
        return obj
    if obj.parent is not None and obj.parent.type == "ARMATURE":
        return obj.parent
    for mod in getattr(obj, "modifiers", ()):
        if mod.type == "ARMATURE" and mod.object is not None:
            return mod.object
    return None


def find_head_bone(arm) -> str | None:
    """The name of ``arm``'s head bone (else its neck), or None."""
    names = [b.name for b in arm.data.bones]
    lower = {n.lower(): n for n in names}
    for want in BONE_NAMES:
        if want in lower:
            return lower[want]
    plain = [n for n in names if not n.lower().startswith(_SKIP_PREFIXES)]
    for part in ("head", "neck"):
        hit = next((n for n in plain if part in n.lower()), None)
        if hit is not None:
            return hit
    return None


def head_target(obj, bone: str | None = None):
    """(the object whose rotation or bone the head motion keys, bone name or None).

    ``bone``: a bone of the character's armature to use; None finds one by name (head, then neck),
    else the object itself rotates."""
    arm = armature_of(obj)
    bone = bone or getattr(getattr(obj, "emotalk", None), "head_bone", "") or None  # the sidebar's choice
    if bone:
        if arm is None or bone not in arm.data.bones:
            from ..engine.errors import EmoTalkError

            raise EmoTalkError(f"Head bone {bone!r}: {obj.name!r} has no armature with a bone of that name")
        return arm, bone
    found = find_head_bone(arm) if arm is not None else None
    return (arm, found) if found else (obj, None)


def local_delta(angles_deg: np.ndarray) -> list:
    """(T, 3) pitch, yaw, roll in degrees -> per frame a 3x3 rotation in the character's frame."""
    r = np.radians(np.asarray(angles_deg, np.float64))
    return [Euler((-p, rl, y), "XYZ").to_matrix() for p, y, rl in zip(r[:, PITCH], r[:, YAW], r[:, ROLL])]


def _rotation(holder) -> Quaternion:
    """The object's or pose bone's rotation now, as a quaternion, whatever its rotation mode."""
    if holder.rotation_mode == "QUATERNION":
        return holder.rotation_quaternion.copy()
    if holder.rotation_mode == "AXIS_ANGLE":
        a = holder.rotation_axis_angle
        return Quaternion((a[1], a[2], a[3]), a[0])
    return holder.rotation_euler.to_quaternion()


def _rest(target, bone: str | None, rollback: Rollback) -> Quaternion:
    """The target's rest rotation: remembered from the first write, so later takes start from it too."""
    holder = target.pose.bones[bone] if bone else target
    if REST_TAG in holder:
        return Quaternion(tuple(holder[REST_TAG]))
    rest = _rotation(holder)
    holder[REST_TAG] = list(rest)

    def forget():
        if REST_TAG in holder:
            del holder[REST_TAG]
    rollback.on_undo(forget)
    return rest


def rotation_curves(target, bone: str | None, angles_fps: np.ndarray, rest: Quaternion) -> list:
    """[(data path, index, values)] of the rotation F-curves, in the holder's own rotation mode."""
    holder = target.pose.bones[bone] if bone else target
    deltas = local_delta(angles_fps)
    if bone:  # the motion turns about the armature's axes, at the bone's head
        b = target.data.bones[bone].matrix_local.to_3x3()
        b_inv = b.inverted()
        deltas = [b_inv @ d @ b for d in deltas]
    quats = [rest @ d.to_quaternion() for d in deltas]
    prefix = f'pose.bones["{bpy.utils.escape_identifier(bone)}"].' if bone else ""
    mode = holder.rotation_mode
    if mode == "QUATERNION":
        prev = None
        rows = []
        for q in quats:
            if prev is not None and prev.dot(q) < 0:  # the short way round: no flips between frames
                q = -q
            rows.append(tuple(q))
            prev = q
        values, path = np.array(rows), "rotation_quaternion"
    elif mode == "AXIS_ANGLE":
        values = np.array([(q.angle, *q.axis) for q in quats])
        path = "rotation_axis_angle"
    else:
        rows, prev = [], None
        for q in quats:
            e = q.to_euler(mode, prev) if prev is not None else q.to_euler(mode)
            rows.append(tuple(e))
            prev = e
        values, path = np.array(rows), "rotation_euler"
    return [(prefix + path, i, values[:, i]) for i in range(values.shape[1])]


def _key(fcurves, curves, start: int) -> None:
    for path, index, values in curves:
        fc = compat.new_fcurve(fcurves, path, group=GROUP, index=index)
        n = len(values)
        co = np.empty(2 * n, np.float32)
        co[0::2] = np.arange(start, start + n, dtype=np.float32)
        co[1::2] = values
        fc.keyframe_points.add(n)
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", np.full(n, _LINEAR, np.int32))
        fc.update()


def _is_ours(action, take_action) -> bool:
    return action is not None and (action == take_action or action.get(HEAD_OF_TAG) == take_action.name
                                   or action.get(PART_OF_TAG) == take_action.name or bool(action.get(TAKE_TAG))
                                   or bool(action.get(HEAD_OF_TAG)))


def _play(target, action, slot, take, rollback: Rollback) -> None:
    """``target`` plays ``action``; an artist's Action playing there moves to an NLA track under it."""
    artist_action.play_over(target, action, slot, take, rollback, lambda old: _is_ours(old, action),
                            under="the head motion")


def _keep_rotation(target, bone, rollback: Rollback) -> None:
    """Put the target's rotation back on rollback (evaluating the take writes it)."""
    holder = target.pose.bones[bone] if bone else target
    saved = {n: tuple(getattr(holder, n)) for n in ("rotation_quaternion", "rotation_euler", "rotation_axis_angle")}

    def restore():
        for n, v in saved.items():
            setattr(holder, n, v)
    rollback.on_undo(restore)


def write_head(obj, take_action, head, start: int, scene, take, rollback: Rollback, bone: str | None = None):
    """Key ``head`` ((T, 3) degrees at 30 fps) into take ``take_action`` for character ``obj``.

    Returns (target object, bone name or None)."""
    target, bone = head_target(obj, bone)
    if target.library is not None:
        take.warnings.append(f"{target.name!r} is linked from a library: no head motion written")
        return target, None
    fps = scene.render.fps / scene.render.fps_base
    angles = takes.resample_to_fps(np.asarray(head, np.float32), fps)
    _keep_rotation(target, bone, rollback)
    curves = rotation_curves(target, bone, angles, _rest(target, bone, rollback))
    got = compat.more_fcurves_for(take_action, "OBJECT", target.name)
    action = take_action
    if got is None:  # 4.2: a companion Action, or the one another writer made for this target
        playing = target.animation_data.action if target.animation_data is not None else None
        if playing is not None and (playing == take_action or playing.get(PART_OF_TAG) == take_action.name):
            action = playing
        else:
            action = rollback.new(bpy.data.actions, f"{take_action.name}_head")
            action[HEAD_OF_TAG] = take_action.name
            action.use_fake_user = True
            got = compat.new_fcurves_for(action, "OBJECT", target.name)
        if got is None:
            got = (action.fcurves, None)
    _key(got[0], curves, start)
    take_action["emotalk_head_target"] = target.name + (f":{bone}" if bone else "")
    _play(target, action, got[1], take, rollback)
    return target, bone


def _part(take_action):
    """(Action, slot) that plays take ``take_action``'s head motion, its target object; Nones when none."""
    stored = take_action.get("emotalk_head_target")
    if not stored:
        return None, None, None
    target = bpy.data.objects.get(stored.split(":", 1)[0])
    if target is None:
        return None, None, None
    if compat.slotted_actions():
        slot = compat.find_slot(take_action, "OBJECT", target.name)
        return take_action, slot, target
    part = next((a for a in bpy.data.actions if a.get(HEAD_OF_TAG) == take_action.name), None)
    part = part or next((a for a in bpy.data.actions if a.get(PART_OF_TAG) == take_action.name
                         and any(fc.group is not None and fc.group.name == GROUP for fc in a.fcurves)), None)
    return part, None, target


def use_head(take_action, take, rollback: Rollback) -> None:
    """When an earlier take plays again, its head motion plays too."""
    action, slot, target = _part(take_action)
    if action is not None and target is not None:
        _play(target, action, slot, take, rollback)


def delete_head(take_action, rollback: Rollback) -> None:
    """Stop and remove take ``take_action``'s head motion (its companion Action on 4.2)."""
    action, slot, target = _part(take_action)
    if target is None or action is None:
        return
    anim = target.animation_data
    if anim is not None and anim.action == action:
        old_slot = compat.assigned_slot(anim)
        compat.assign_action(anim, None, None)
        rollback.on_undo(lambda: compat.assign_action(anim, action, old_slot))
        stored = take_action.get("emotalk_head_target", "")
        bone = stored.partition(":")[2] or None
        if bone is None or bone in target.pose.bones:
            _to_rest(target, bone, rollback)
    if action != take_action and action.get(HEAD_OF_TAG) == take_action.name:
        bpy.data.actions.remove(action)


def rotation_of(target, bone: str | None = None) -> np.ndarray:
    """The head's rotation now, as (pitch, yaw, roll) degrees relative to the remembered rest (for
    export and tests): the inverse of ``rotation_curves``."""
    holder = target.pose.bones[bone] if bone else target
    rest = Quaternion(tuple(holder[REST_TAG])) if REST_TAG in holder else Quaternion()
    d = (rest.inverted() @ _rotation(holder)).to_matrix()
    if bone:
        b = target.data.bones[bone].matrix_local.to_3x3()
        d = b @ d @ b.inverted()
    e = Matrix(d).to_euler("XYZ")
    return np.array([-math.degrees(e.x), math.degrees(e.z), math.degrees(e.y)])


def head_for(op, audio_path: str, frames: int, settings):
    """The head motion an operator's checked ``settings`` ask for ((frames, 3) degrees), or None when its
    head motion is 0; a head motion keyframed on the scene's settings wins over the operator's value."""
    scene = bpy.context.scene
    keyed = keyed_strength(scene, getattr(op, "start_frame", scene.frame_start), frames)
    strength = keyed if keyed is not None else settings.head_motion
    if not np.any(strength):
        return None
    import dataclasses

    from ..engine.audio.decoding import load_audio
    from ..engine.direction.head_motion import for_settings

    return for_settings(load_audio(audio_path), dataclasses.replace(settings, head_motion=strength), frames)


def read_head(obj, scene=None) -> np.ndarray | None:
    """The head motion of the take playing on ``obj`` as (T, 3) degrees at 30 fps (the take's own
    length), read from the head as it moves now (artist edits included); None when it has none."""
    from ..engine.constants import FPS

    scene = scene or bpy.context.scene
    key = getattr(obj.data, "shape_keys", None) if obj is not None and obj.type == "MESH" else None
    take = key.animation_data.action if key is not None and key.animation_data is not None else None
    stored = take.get("emotalk_head_target") if take is not None else None
    if not stored:
        return None
    name, _, bone = stored.partition(":")
    target = bpy.data.objects.get(name)
    if target is None or (bone and bone not in target.pose.bones):
        return None
    curves = compat.fcurves_of(take, compat.find_slot(take, "KEY"))
    first = min(fc.range()[0] for fc in curves)
    fps = scene.render.fps / scene.render.fps_base
    count = int(take.get("emotalk_frames_30fps") or 0) or int(round((max(fc.range()[1] for fc in curves) - first)
                                                                    * FPS / fps)) + 1
    old = scene.frame_current
    out = np.zeros((count, 3), np.float32)
    try:
        for k, frame in enumerate(takes.source_frames(count, fps, start=first)):
            scene.frame_set(int(math.floor(frame)), subframe=float(frame - math.floor(frame)))
            out[k] = rotation_of(target, bone or None)
    finally:
        scene.frame_set(old)
    return out


def head_file(path: str, frames: int) -> np.ndarray | None:
    """The head motion that comes with an imported take: a Live Link Face CSV's head columns, or
    NAME.head.npy beside NAME.npy; (frames, 3) degrees, or None."""
    import os

    from ..engine.direction.head_motion import head_path
    from ..engine.formats.llf_rotations import read_head as read_csv_head

    if path.lower().endswith(".csv"):
        head = read_csv_head(path)
    elif os.path.isfile(head_path(path)):
        head = np.load(head_path(path), allow_pickle=False)
        if head.ndim != 2 or head.shape[1] != 3 or not np.isfinite(head).all():
            from ..engine.formats.motion_io import MotionFileError

            raise MotionFileError(f"{head_path(path)}: expected (T, 3) finite head angles, got {head.shape}")
    else:
        return None
    if head is None:
        return None
    out = np.zeros((frames, 3), np.float32)  # the take's length: a shorter head file holds its last pose
    n = min(frames, len(head))
    out[:n] = head[:n]
    if n and n < frames:
        out[n:] = head[n - 1]
    return out


KEYED_PATH = "emotalk.head_motion"  # the scene's Head motion setting, keyframed over time


def keyed_strength(scene, start_frame: int, frames: int) -> np.ndarray | None:
    """The scene's keyframed Head motion strength sampled at a take's ``frames`` 30 fps frames from
    ``start_frame`` (clipped to 0..2), or None when it is not animated."""
    _, curves = compat.playing_fcurves(scene.animation_data)
    fc = next((c for c in curves if c.data_path == KEYED_PATH), None)
    if fc is None:
        return None
    fps = scene.render.fps / scene.render.fps_base
    at = takes.source_frames(frames, fps, start=start_frame)
    return np.clip(np.array([fc.evaluate(f) for f in at]), 0.0, 2.0)


def stop_head(obj, take_action, rollback: Rollback) -> None:
    """When take ``take_action`` (new, or played again) has no head motion: an earlier take's head
    motion playing on ``obj``'s head stops, and the head goes back to its rest rotation."""
    from ..engine.errors import EmoTalkError

    if take_action.get("emotalk_head_target"):
        return
    try:
        target, bone = head_target(obj)
    except EmoTalkError:
        return
    anim = target.animation_data
    playing = anim.action if anim is not None else None
    if playing is None or playing == take_action or playing.get(PART_OF_TAG) == take_action.name:
        return
    source = bpy.data.actions.get(playing.get(HEAD_OF_TAG, "")) or playing  # 4.2 companion, else the take
    if source.get("emotalk_head_target") != target.name + (f":{bone}" if bone else ""):
        return  # not head motion of ours (an artist's Action, or a face rig's part)
    old_slot = compat.assigned_slot(anim)
    compat.assign_action(anim, None, None)
    rollback.on_undo(lambda: compat.assign_action(anim, playing, old_slot))
    _to_rest(target, bone, rollback)


def _to_rest(target, bone: str | None, rollback: Rollback) -> None:
    """Put the head back at its remembered rest rotation (no Action keeps it turned any more)."""
    holder = target.pose.bones[bone] if bone else target
    if REST_TAG not in holder:
        return
    _keep_rotation(target, bone, rollback)
    rest = Quaternion(tuple(holder[REST_TAG]))
    mode = holder.rotation_mode
    if mode == "QUATERNION":
        holder.rotation_quaternion = rest
    elif mode == "AXIS_ANGLE":
        holder.rotation_axis_angle = (rest.angle, *rest.axis)
    else:
        holder.rotation_euler = rest.to_euler(mode)
