"""Head motion in Blender: keyed on the head object or on an armature's head bone as part of the
take; its axes; an artist's Action kept; undo, takes list, delete; Generate and Regenerate."""
import math

import bpy
import numpy as np
import pytest
from mathutils import Vector

from blender_support import arkit_mesh
from emotalk_blender.blender import compat, head_motion_writer, scene_writer
from emotalk_blender.engine.direction import head_motion as hm
from emotalk_blender.engine.audio.decoding import load_audio

pytest_plugins = ["blender_support"]  # the `blender` fixture


def _head(frames, pitch=0.0, yaw=0.0, roll=0.0):
    out = np.zeros((frames, 3), np.float32)
    out[:, 0], out[:, 1], out[:, 2] = pitch, yaw, roll
    return out


def _rig(mesh, roll=0.4):
    """An armature (root, neck, head going up; bones rolled) parenting ``mesh``."""
    arm = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for name, head, tail, parent in (("root", (0, 0, 0), (0, 0, 1), None), ("neck", (0, 0, 1), (0, 0, 1.3), "root"),
                                     ("head", (0, 0, 1.3), (0, 0, 1.8), "neck")):
        b = arm.data.edit_bones.new(name)
        b.head, b.tail, b.roll = head, tail, roll
        if parent:
            b.parent = arm.data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    mesh.parent = arm
    bpy.context.view_layer.objects.active = mesh
    return arm


def _forward_up(matrix):
    m = matrix.to_3x3()
    return m @ Vector((0, -1, 0)), m @ Vector((0, 0, 1))


@pytest.mark.parametrize("axis,check", [
    ("pitch", lambda f, u: f.z > 0.1),  # chin up: the face looks up
    ("yaw", lambda f, u: f.x > 0.1),  # to the character's left (+X, facing -Y)
    ("roll", lambda f, u: u.x > 0.1)])  # the top of the head toward the left shoulder
def test_object_axes_and_values(blender, axis, check):
    obj = arkit_mesh()
    weights = np.zeros((20, 52), np.float32)
    take = scene_writer.write_take(obj, weights, head=_head(20, **{axis: 10.0}))
    bpy.context.scene.frame_set(take.start + 5)
    assert check(*_forward_up(obj.matrix_world))
    want = {"pitch": (10, 0, 0), "yaw": (0, 10, 0), "roll": (0, 0, 10)}[axis]
    assert np.allclose(head_motion_writer.rotation_of(obj), want, atol=1e-3)


def test_object_follows_the_motion_in_the_takes_action(blender, speech_wav):
    obj = arkit_mesh()
    obj.rotation_euler = (0.0, 0.0, math.radians(30))  # a rest pose of the artist's: kept under the motion
    head = hm.head_motion(load_audio(speech_wav), seed=3)
    take = scene_writer.write_take(obj, np.zeros((len(head), 52), np.float32), head=head)
    action = bpy.data.actions[take.action]
    playing = obj.animation_data.action
    if compat.slotted_actions():
        assert playing == action  # one Action for the whole take: a slot for the object
    else:
        assert playing.get(head_motion_writer.HEAD_OF_TAG) == action.name
    for k in (0, len(head) // 2, len(head) - 1):
        bpy.context.scene.frame_set(take.start + k)
        assert np.allclose(head_motion_writer.rotation_of(obj), head[k], atol=2e-3)
    # Strength 0: no head written, the object keeps no animation.
    other = arkit_mesh(name="Other")
    scene_writer.write_take(other, np.zeros((10, 52), np.float32))
    assert other.animation_data is None


def test_head_bone_found_by_name_rotates_at_the_neck(blender):
    mesh = arkit_mesh()
    arm = _rig(mesh)
    assert head_motion_writer.head_target(mesh) == (arm, "head")
    take = scene_writer.write_take(mesh, np.zeros((12, 52), np.float32), head=_head(12, yaw=10.0))
    bpy.context.scene.frame_set(take.start + 3)
    pb = arm.pose.bones["head"]
    forward, up = _forward_up(pb.matrix @ pb.bone.matrix_local.inverted())  # the bone's turn in armature space
    assert forward.x > 0.1 and abs(up.z - 1) < 1e-3
    assert np.allclose(head_motion_writer.rotation_of(arm, "head"), (0, 10, 0), atol=1e-3)
    assert (pb.head - Vector((0, 0, 1.3))).length < 1e-5  # it pivots at its own head (the neck joint)
    assert mesh.rotation_euler.to_quaternion().angle == 0  # the mesh object itself is not rotated
    # Rigify names: the control "head" over DEF-/ORG- copies; a neck when there is no head.
    assert head_motion_writer.find_head_bone(arm) == "head"


def test_artists_action_kept_and_use_and_delete_takes(blender):
    obj = arkit_mesh()
    obj.location = (0, 0, 0)
    obj.keyframe_insert("location", frame=1)
    own = obj.animation_data.action
    own_curves = len(compat.fcurves_of(own, compat.assigned_slot(obj.animation_data)))
    bpy.ops.ed.undo_push(message="before takes")
    first = scene_writer.write_take(obj, np.zeros((10, 52), np.float32), head=_head(10, yaw=5.0))
    second = scene_writer.write_take(obj, np.zeros((10, 52), np.float32), head=_head(10, yaw=-5.0))
    assert own.name in bpy.data.actions and own.use_fake_user
    assert len(compat.fcurves_of(own, compat.find_slot(own, "OBJECT"))) == own_curves
    assert [t.name for t in obj.animation_data.nla_tracks] == [head_motion_writer.NLA_TRACK]
    bpy.context.scene.frame_set(3)
    assert head_motion_writer.rotation_of(obj)[1] == pytest.approx(-5.0, abs=1e-3)
    scene_writer.use_take(obj, bpy.data.actions[first.action])
    bpy.context.scene.frame_set(3)
    assert head_motion_writer.rotation_of(obj)[1] == pytest.approx(5.0, abs=1e-3)
    n_actions = len(bpy.data.actions)
    scene_writer.delete_take(obj, bpy.data.actions[first.action])
    assert first.action not in bpy.data.actions
    assert len(bpy.data.actions) == n_actions - (1 if compat.slotted_actions() else 2)  # 4.2: its companion too
    assert obj.animation_data.action is None
    assert np.allclose(head_motion_writer.rotation_of(obj), 0, atol=1e-4)  # back at rest
    assert second.action in bpy.data.actions


def test_generate_regenerate_and_undo(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    bpy.ops.ed.undo_push(message="before generate")
    assert bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(speech_wav), checkpoint=str(tiny_checkpoint),
                                    head_motion=1.0, head_style="lively", head_seed=2) == {"FINISHED"}
    obj = bpy.data.objects[obj.name]
    (take,) = scene_writer.takes_of(obj)
    want = hm.head_motion(load_audio(speech_wav), style="lively", seed=2)
    scene = bpy.context.scene
    scene.frame_set(scene.frame_start + 10)
    assert np.allclose(head_motion_writer.rotation_of(obj), want[10], atol=2e-3)
    from emotalk_blender.blender import directing

    assert "head_motion 1" in directing.summary(take)  # the takes list says so
    # Regenerate reads the head motion back from the take's stored settings.
    assert bpy.ops.emotalk.regenerate("EXEC_DEFAULT", True, take=take.name,
                                      checkpoint=str(tiny_checkpoint)) == {"FINISHED"}
    obj = bpy.data.objects[obj.name]
    assert len(scene_writer.takes_of(obj)) == 2
    scene.frame_set(scene.frame_start + 10)
    assert np.allclose(head_motion_writer.rotation_of(obj), want[10], atol=2e-3)
    name = obj.name
    bpy.ops.ed.undo()
    bpy.ops.ed.undo()
    obj = bpy.data.objects[name]
    assert scene_writer.takes_of(obj) == [] and (obj.animation_data is None or obj.animation_data.action is None)
    assert obj.rotation_euler.to_quaternion().angle == 0


def test_live_link_face_csv_round_trip_carries_the_head(blender, tmp_path, speech_wav):
    obj = arkit_mesh()
    head = hm.head_motion(load_audio(speech_wav), seed=5)
    weights = np.full((len(head), 52), 0.2, np.float32)
    scene_writer.write_take(obj, weights, head=head)
    path = tmp_path / "take.csv"
    assert bpy.ops.emotalk.export_motion(filepath=str(path)) == {"FINISHED"}
    from emotalk_blender.engine.formats.llf_rotations import read_head

    assert np.allclose(read_head(path), head, atol=2e-3)
    # Import onto another character: its head bone moves as the first head did.
    other = arkit_mesh(name="Other")
    arm = _rig(other)
    bpy.context.view_layer.objects.active = other
    assert bpy.ops.emotalk.import_motion(filepath=str(path), start_frame=1) == {"FINISHED"}
    for k in (0, len(head) // 2, len(head) - 1):
        bpy.context.scene.frame_set(1 + k)
        assert np.allclose(head_motion_writer.rotation_of(arm, "head"), head[k], atol=3e-3)
    assert np.allclose(head_motion_writer.read_head(other), head, atol=3e-3)


def test_bone_target_generate_delete_and_undo(blender, speech_wav, tiny_checkpoint):
    mesh = arkit_mesh()
    arm = _rig(mesh)
    bpy.ops.ed.undo_push(message="before generate")
    assert bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(speech_wav), checkpoint=str(tiny_checkpoint),
                                    head_motion=1.0) == {"FINISHED"}
    mesh, arm = bpy.data.objects[mesh.name], bpy.data.objects[arm.name]
    want = hm.head_motion(load_audio(speech_wav))
    scene = bpy.context.scene
    scene.frame_set(scene.frame_start + 20)
    assert np.allclose(head_motion_writer.rotation_of(arm, "head"), want[20], atol=2e-3)
    (take,) = scene_writer.takes_of(mesh)
    name = take.name
    assert bpy.ops.emotalk.delete_take("EXEC_DEFAULT", True, action=name) == {"FINISHED"}
    arm = bpy.data.objects["Rig"]
    assert arm.animation_data.action is None
    assert not [a for a in bpy.data.actions if a.get(head_motion_writer.HEAD_OF_TAG) == name]
    bpy.ops.ed.undo()  # the take and its head motion come back
    arm, mesh = bpy.data.objects["Rig"], bpy.data.objects[mesh.name]
    assert name in bpy.data.actions and arm.animation_data.action is not None
    scene = bpy.context.scene
    scene.frame_set(scene.frame_start + 20)
    assert np.allclose(head_motion_writer.rotation_of(arm, "head"), want[20], atol=2e-3)


def test_keyframed_head_motion_strength(blender, speech_wav, tiny_checkpoint):
    """Head motion keyframed on the scene's setting: off until frame 30, full from frame 31."""
    obj = arkit_mesh()
    scene = bpy.context.scene
    settings = scene.emotalk
    settings.head_motion = 0.0
    scene.keyframe_insert(data_path="emotalk.head_motion", frame=30)
    settings.head_motion = 1.0
    scene.keyframe_insert(data_path="emotalk.head_motion", frame=31)
    assert bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(speech_wav),
                                    checkpoint=str(tiny_checkpoint)) == {"FINISHED"}
    obj = bpy.data.objects[obj.name]
    want = hm.head_motion(load_audio(speech_wav))
    got = head_motion_writer.read_head(obj, scene)
    assert not np.abs(got[:29]).max() > 1e-4  # take frame k is scene frame 1 + k
    assert np.allclose(got[30:], want[30:], atol=2e-3)


def test_bake_applies_head_motion_in_the_blend(blender, tmp_path, speech_wav, tiny_checkpoint):
    import subprocess
    import sys
    from pathlib import Path

    blend = tmp_path / "out.blend"
    proc = subprocess.run([sys.executable, "-m", "emotalk_blender", "bake", str(speech_wav), "-o", str(blend),
                           "--checkpoint", str(tiny_checkpoint), "--head-motion", "1", "--head-style", "lively",
                           "--head-seed", "3"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    want = hm.head_motion(load_audio(speech_wav), style="lively", seed=3)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    (head,) = [o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys]
    assert np.allclose(head_motion_writer.read_head(head, bpy.context.scene), want, atol=2e-3)


def test_chosen_bone_from_the_sidebar(blender):
    mesh = arkit_mesh()
    arm = _rig(mesh)
    mesh.emotalk.head_bone = "neck"
    assert head_motion_writer.head_target(mesh) == (arm, "neck")
    take = scene_writer.write_take(mesh, np.zeros((8, 52), np.float32), head=_head(8, pitch=6.0))
    bpy.context.scene.frame_set(take.start + 2)
    assert np.allclose(head_motion_writer.rotation_of(arm, "neck"), (6, 0, 0), atol=1e-3)
    assert arm.pose.bones["head"].rotation_quaternion.angle == 0
    mesh.emotalk.head_bone = "nope"  # a bone the rig does not have: one line naming it
    with pytest.raises(Exception, match="nope"):
        head_motion_writer.head_target(mesh)


@pytest.mark.parametrize("rigged", [False, True])
def test_a_take_without_head_motion_stops_the_last_ones(blender, rigged):
    obj = arkit_mesh()
    target, bone = (_rig(obj), "head") if rigged else (obj, None)
    with_head = scene_writer.write_take(obj, np.zeros((10, 52), np.float32), head=_head(10, yaw=8.0))
    bpy.context.scene.frame_set(5)
    assert head_motion_writer.rotation_of(target, bone)[1] == pytest.approx(8.0, abs=1e-3)
    without = scene_writer.write_take(obj, np.zeros((10, 52), np.float32))
    bpy.context.scene.frame_set(6)
    assert np.allclose(head_motion_writer.rotation_of(target, bone), 0, atol=1e-4)  # at rest, not still turned
    assert target.animation_data.action is None
    scene_writer.use_take(obj, bpy.data.actions[with_head.action])
    bpy.context.scene.frame_set(5)
    assert head_motion_writer.rotation_of(target, bone)[1] == pytest.approx(8.0, abs=1e-3)
    scene_writer.use_take(obj, bpy.data.actions[without.action])
    bpy.context.scene.frame_set(4)
    assert np.allclose(head_motion_writer.rotation_of(target, bone), 0, atol=1e-4)
