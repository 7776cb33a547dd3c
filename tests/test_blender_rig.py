"""Face rigs: a take onto a Rigify face (generated here from the Rigify bundled with Blender) through
the shipped per-channel poses; mixed characters (shape keys + bones) take one take on both."""
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest
from mathutils import Quaternion

from blender_support import arkit_mesh
from emotalk_blender.blender import compat, rig_mapping, rig_writer, rigify_face, scene_writer
from emotalk_blender.engine import pipeline
from emotalk_blender.engine.arkit import ARKIT_NAMES, INDEX, NUM_BLENDSHAPES
from emotalk_blender.engine.errors import EmoTalkError

pytest_plugins = ["blender_support"]  # the `blender` fixture
ROOT = Path(__file__).resolve().parents[1]


# Made in a child process: merely enabling the bundled Rigify makes the bpy 4.2 module crash when its
# process exits (a segfault after the last test, failing the run); the tests only open the saved rig.
_MAKE_RIG = """
import os, sys
sys.path.insert(0, sys.argv[1])
import bpy
from emotalk_blender.blender import rigify_face
bpy.ops.wm.read_factory_settings(use_empty=True)
rigify_face.generate_rig()
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[2])
sys.stdout.flush()
os._exit(0)
"""


@pytest.fixture(scope="session")
def rigify_blend(tmp_path_factory):
    """A .blend holding a Rigify rig generated from the human meta-rig (generated once per session)."""
    path = tmp_path_factory.mktemp("rigify") / "rig.blend"
    r = subprocess.run([sys.executable, "-c", _MAKE_RIG, str(ROOT), str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and path.is_file(), r.stderr[-2000:]
    return path


@pytest.fixture
def rig(blender, rigify_blend):
    """The Rigify rig with the shipped face poses loaded and mapped, active, scene at 30 fps."""
    bpy.ops.wm.open_mainfile(filepath=str(rigify_blend))
    obj = bpy.data.objects["rig"]
    bpy.context.view_layer.objects.active = obj
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 30, 1.0
    assert bpy.ops.emotalk.load_rigify_poses() == {"FINISHED"}
    return obj


def _take(frames=5, **channels):
    """(frames, 52) weights: frame 0 all zero, the named channels at their weight from frame 1 on."""
    w = np.zeros((frames, NUM_BLENDSHAPES), np.float32)
    for name, value in channels.items():
        w[1:, INDEX[name]] = value
    return w


def _heads(obj, frame, names):
    """Evaluated bone heads (``NAME:tail``: the tail) in rig space at ``frame``."""
    bpy.context.scene.frame_set(frame)
    return {n: np.array(getattr(obj.pose.bones[n.split(":")[0]], "tail" if n.endswith(":tail") else "head"))
            for n in names}


def test_shipped_poses_map_all_52_channels(rig):
    mapping = rig_mapping.mapping_of(rig)
    assert sorted(mapping.channels) == sorted(ARKIT_NAMES) and not mapping.unmatched
    assert all(row.target == f"ARKit_{row.arkit}" for row in rig.emotalk.channels)


def test_jaw_open_opens_the_jaw(rig):
    scene_writer.write_take(rig, _take(jawOpen=1.0), start_frame=1)
    names = ("DEF-jaw", "DEF-chin", "DEF-lip.B.L", "DEF-lip.T.L")
    rest, open_ = _heads(rig, 1, names), _heads(rig, 2, names)
    assert open_["DEF-chin"][2] < rest["DEF-chin"][2] - 0.02  # the chin drops over 2 cm
    assert open_["DEF-lip.B.L"][2] < rest["DEF-lip.B.L"][2] - 0.01  # the lower lip goes with it
    assert abs(open_["DEF-lip.T.L"][2] - rest["DEF-lip.T.L"][2]) < 0.005  # the upper lip stays


def test_smile_raises_the_corners(rig):
    scene_writer.write_take(rig, _take(mouthSmileLeft=1.0, mouthSmileRight=1.0), start_frame=1)
    names = ("DEF-lip.T.L.001:tail", "DEF-lip.T.R.001:tail")  # the mouth's corners
    rest, smile = _heads(rig, 1, names), _heads(rig, 2, names)
    for n in names:
        assert smile[n][2] > rest[n][2] + 0.004, n  # up
        assert abs(smile[n][0]) > abs(rest[n][0]) + 0.003, n  # and wider


def test_blink_closes_the_lids_of_its_eye_only(rig):
    scene_writer.write_take(rig, _take(eyeBlinkLeft=1.0), start_frame=1)
    names = [f"DEF-lid.{tb}.{side}.002" for tb in "TB" for side in "LR"]
    rest, blink = _heads(rig, 1, names), _heads(rig, 2, names)

    def gap(h, side):
        return h[f"DEF-lid.T.{side}.002"][2] - h[f"DEF-lid.B.{side}.002"][2]
    assert gap(blink, "L") < 0.15 * gap(rest, "L")  # closed
    assert gap(blink, "R") == pytest.approx(gap(rest, "R"), abs=1e-6)  # the other eye stays open


def test_eye_aim_turns_the_eye(rig):
    scene_writer.write_take(rig, _take(eyeLookUpLeft=1.0, eyeLookUpRight=1.0), start_frame=1)
    names = ("ORG-eye.L", "ORG-eye.L:tail")
    rest, look = _heads(rig, 1, names), _heads(rig, 2, names)
    tail, rest = (h["ORG-eye.L:tail"] - h["ORG-eye.L"] for h in (look, rest))
    up = np.degrees(np.arctan2(tail[2], -tail[1]) - np.arctan2(rest[2], -rest[1]))
    assert up > 10  # the left eye looks up (about 20 degrees)


def test_weights_zero_give_the_rest_pose_exactly(rig):
    scene = bpy.context.scene
    scene.frame_set(1)
    before = {pb.name: [tuple(r) for r in pb.matrix] for pb in rig.pose.bones}
    scene_writer.write_take(rig, _take(frames=3), start_frame=1)
    scene.frame_set(2)
    after = {pb.name: [tuple(r) for r in pb.matrix] for pb in rig.pose.bones}
    assert after == before
    for name in ("jaw_master", "lips.L", "lid.T.L.002"):
        pb = rig.pose.bones[name]
        assert tuple(pb.location) == (0, 0, 0) and tuple(pb.rotation_quaternion) == (1, 0, 0, 0)


def test_half_a_pose_is_blenders_slerp(rig):
    """The rotation keyed for one channel at weight 0.5 against mathutils' own slerp of the pose."""
    scene_writer.write_take(rig, _take(jawOpen=0.5), start_frame=1)
    pose = rigify_face.read_poses()["jawOpen"]["jaw_master"]["rotation_quaternion"]
    want = Quaternion((1, 0, 0, 0)).slerp(Quaternion(pose), 0.5)
    bpy.context.scene.frame_set(3)
    got = rig.pose.bones["jaw_master"].rotation_quaternion
    assert abs(got.dot(want)) == pytest.approx(1.0, abs=1e-6) and got.angle > 0.1


def test_user_action_is_untouched_and_keeps_playing(rig):
    user = bpy.data.actions.new("Walk")
    fcurves, slot = compat.new_fcurves_for(user, "OBJECT", rig.name)
    fc = compat.new_fcurve(fcurves, 'pose.bones["torso"].location', group="torso", index=2)
    fc.keyframe_points.insert(1, 0.0)
    fc.keyframe_points.insert(5, 0.1)
    rig.animation_data_create()
    compat.assign_action(rig.animation_data, user, slot)
    keys_before = [tuple(k.co) for k in fc.keyframe_points]

    take = scene_writer.write_take(rig, _take(jawOpen=1.0), start_frame=1)
    assert rig.animation_data.action.name == take.action and take.action != "Walk"
    assert [tuple(k.co) for k in compat.fcurves_of(user, slot)[0].keyframe_points] == keys_before
    assert user.use_fake_user and user.users >= 1
    strips = [s for t in rig.animation_data.nla_tracks for s in t.strips]
    assert [s.action for s in strips] == [user]  # it plays from the NLA under the take
    bpy.context.scene.frame_set(5)
    assert rig.pose.bones["torso"].location[2] == pytest.approx(0.1, abs=1e-6)  # the body still moves
    assert rig.pose.bones["jaw_master"].rotation_quaternion.angle > 0.1  # and the take drives the face


def test_take_undoes_and_deletes_cleanly(rig):
    bpy.ops.ed.undo_push(message="before take")
    actions_before = sorted(a.name for a in bpy.data.actions)
    take = scene_writer.write_take(rig, _take(jawOpen=1.0), start_frame=1)
    bpy.ops.ed.undo_push(message="take")
    assert [a.name for a in scene_writer.takes_of(rig)] == [take.action]
    bpy.ops.ed.undo()
    rig = bpy.data.objects["rig"]
    assert sorted(a.name for a in bpy.data.actions) == actions_before
    assert rig.animation_data is None or rig.animation_data.action is None

    take = scene_writer.write_take(rig, _take(jawOpen=1.0), start_frame=1)
    bpy.context.scene.frame_set(2)  # the jaw open when the take is deleted
    assert bpy.ops.emotalk.delete_take("EXEC_DEFAULT", True, action=take.action) == {"FINISHED"}
    assert take.action not in bpy.data.actions and rig.animation_data.action is None
    bpy.context.scene.frame_set(2)
    assert tuple(rig.pose.bones["jaw_master"].rotation_quaternion) == (1, 0, 0, 0)


def test_takes_list_use_take_switches(rig):
    first = scene_writer.write_take(rig, _take(jawOpen=1.0), start_frame=1)
    second = scene_writer.write_take(rig, _take(mouthSmileLeft=1.0), start_frame=1)
    assert [a.name for a in scene_writer.takes_of(rig)] == [first.action, second.action]
    assert bpy.ops.emotalk.use_take("EXEC_DEFAULT", True, action=first.action) == {"FINISHED"}
    bpy.context.scene.frame_set(2)
    assert rig.pose.bones["jaw_master"].rotation_quaternion.angle > 0.1


def test_failure_leaves_the_scene_as_it_was(rig):
    before = (sorted(a.name for a in bpy.data.actions), rig.animation_data)
    bad = _take()
    bad[2, 0] = np.nan
    with pytest.raises(EmoTalkError):
        scene_writer.write_take(rig, bad, start_frame=1)
    with pytest.raises(EmoTalkError):
        scene_writer.write_take(rig, _take(), start_frame=bpy.context.scene.MAX_FRAME
                                if hasattr(bpy.context.scene, "MAX_FRAME") else 1_048_574)
    assert (sorted(a.name for a in bpy.data.actions), rig.animation_data) == before


def test_mixed_character_takes_one_take_on_both(rig):
    face = arkit_mesh()
    face.emotalk.rig = rig
    weights = _take(jawOpen=1.0, mouthSmileLeft=0.5)
    take = scene_writer.write_take(face, weights, start_frame=1)
    key_action = face.data.shape_keys.animation_data.action
    assert key_action.name == take.action
    rig_action = rig.animation_data.action
    if compat.slotted_actions():
        assert rig_action == key_action  # one Action, a slot for each
    else:
        assert rig_action.get(rig_writer.PART_OF_TAG) == take.action  # 4.2: its companion
    bpy.context.scene.frame_set(2)
    assert face.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(1.0)
    assert rig.pose.bones["jaw_master"].rotation_quaternion.angle > 0.1
    assert scene_writer.takes_of(rig) == [rig_action]  # the rig lists its part of the take
    scene_writer.use_take(rig, rig_action)
    assert rig.animation_data.action == rig_action
    scene_writer.delete_take(face, key_action)
    assert not [a for a in bpy.data.actions if scene_writer.is_take(a)]
    bpy.context.scene.frame_set(2)
    assert tuple(rig.pose.bones["jaw_master"].rotation_quaternion) == (1, 0, 0, 0)  # the rig back at rest


def test_generate_and_regenerate_onto_the_rig(rig, speech_wav, tiny_checkpoint):
    assert bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(speech_wav),
                                    checkpoint=str(tiny_checkpoint), seed=3) == {"FINISHED"}
    (action,) = scene_writer.takes_of(rig)
    want = pipeline.generate(str(speech_wav), pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint), seed=3))
    k = int(np.argmax(want[:, INDEX["jawOpen"]]))
    bpy.context.scene.frame_set(1 + k)
    pose = rigify_face.read_poses()["jawOpen"]["jaw_master"]["rotation_quaternion"]
    expect = Quaternion(Quaternion(pose).axis, Quaternion(pose).angle * float(want[k, INDEX["jawOpen"]]))
    got = rig.pose.bones["jaw_master"].rotation_quaternion
    assert abs(got.dot(expect)) == pytest.approx(1.0, abs=1e-5)
    assert bpy.ops.emotalk.regenerate("EXEC_DEFAULT", True, take=action.name) == {"FINISHED"}
    assert len(scene_writer.takes_of(rig)) == 2


def test_bake_cli_onto_a_rig_in_a_blend(rig, tmp_path, speech_wav, tiny_checkpoint):
    hero = tmp_path / "hero.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(hero))
    out = tmp_path / "out.blend"
    proc = subprocess.run([sys.executable, "-m", "emotalk_blender", "bake", str(speech_wav), "-o", str(out),
                           "--target-blend", str(hero), "--object", "rig", "--checkpoint", str(tiny_checkpoint)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    bpy.ops.wm.open_mainfile(filepath=str(out))
    baked = bpy.data.objects["rig"]
    assert scene_writer.is_take(baked.animation_data.action)
    assert len(baked.emotalk.channels) == NUM_BLENDSHAPES  # the mapping is saved with the file


def test_head_motion_goes_into_the_rig_take(rig):
    """Head motion (issue 25's writer) keys Rigify's head bone in the same take as the face."""
    weights = _take(jawOpen=1.0)
    head = np.zeros((len(weights), 3), np.float32)
    head[1:, 1] = 20.0  # yaw 20 degrees
    take = scene_writer.write_take(rig, weights, start_frame=1, head=head)
    assert rig.animation_data.action.name == take.action  # one Action plays the face and the head
    bpy.context.scene.frame_set(2)
    assert rig.pose.bones["jaw_master"].rotation_quaternion.angle > 0.1
    assert rig.pose.bones["head"].matrix_basis.to_quaternion().angle == pytest.approx(np.radians(20), abs=0.02)


def _custom_rig():
    """An armature of its own (not Rigify): a jaw (quaternion) and a brow (Euler XZY), posed by Actions
    named as other tools name them."""
    arm = bpy.data.armatures.new("Face")
    obj = bpy.data.objects.new("FaceRig", arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for name, head, tail in (("jaw", (0, 0, 0), (0, -0.1, -0.05)), ("brow_L", (0.03, -0.1, 0.1), (0.05, -0.1, 0.1))):
        bone = arm.edit_bones.new(name)
        bone.head, bone.tail = head, tail
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.pose.bones["brow_L"].rotation_mode = "XZY"
    rig_mapping.new_pose_action(obj, "pose_JawOpen", {"jaw": {"rotation_quaternion": Quaternion((1, 0, 0), 0.5)}})
    rig_mapping.new_pose_action(obj, "BROW-INNER-UP", {"brow_L": {"rotation_euler": (0.2, -0.1, 0.3),
                                                                  "location": (0, 0.01, 0)}})
    rig_mapping.new_pose_action(obj, "MouthSmile_L", {"jaw": {"location": (0.002, 0, 0)}})
    return obj


def test_custom_rig_fuzzy_mapping_gains_euler_and_saving(blender, tmp_path):
    obj = _custom_rig()
    mapping = rig_mapping.mapping_of(obj)  # automatic, nothing stored yet
    assert mapping.channels == {"jawOpen": ("pose_JawOpen", 1.0), "browInnerUp": ("BROW-INNER-UP", 1.0),
                                "mouthSmileLeft": ("MouthSmile_L", 1.0)}
    assert len(mapping.unmatched) == NUM_BLENDSHAPES - 3  # the unmapped channels are listed
    assert bpy.ops.emotalk.auto_map() == {"FINISHED"}
    next(r for r in obj.emotalk.channels if r.arkit == "jawOpen").gain = 0.5

    scene_writer.write_take(obj, _take(jawOpen=1.0, browInnerUp=1.0), start_frame=1)
    bpy.context.scene.frame_set(2)
    assert obj.pose.bones["jaw"].rotation_quaternion.angle == pytest.approx(0.25, abs=1e-5)  # the gain
    assert tuple(obj.pose.bones["brow_L"].rotation_euler) == pytest.approx((0.2, -0.1, 0.3), abs=1e-5)
    assert tuple(obj.pose.bones["brow_L"].location) == pytest.approx((0, 0.01, 0), abs=1e-6)

    path = tmp_path / "custom.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    obj = bpy.data.objects["FaceRig"]
    reopened = rig_mapping.mapping_of(obj)  # the stored rows came back with the file
    assert reopened.channels["jawOpen"] == ("pose_JawOpen", 0.5) and len(reopened.channels) == 3


def test_poses_from_a_pose_library_blend(blender, tmp_path):
    obj = _custom_rig()
    library = tmp_path / "poses.blend"
    poses = {a for a in bpy.data.actions}
    bpy.data.libraries.write(str(library), poses, fake_user=True)
    for action in poses:
        bpy.data.actions.remove(action)
    assert not rig_mapping.mapping_of(obj).channels
    assert bpy.ops.emotalk.map_pose_library(filepath=str(library)) == {"FINISHED"}
    assert sorted(rig_mapping.mapping_of(obj).channels) == ["browInnerUp", "jawOpen", "mouthSmileLeft"]
    with pytest.raises(RuntimeError, match="no such .blend"):
        bpy.ops.emotalk.map_pose_library(filepath=str(tmp_path / "missing.blend"))


def test_axis_angle_bone_is_a_one_line_error_and_changes_nothing(blender):
    obj = _custom_rig()
    obj.pose.bones["jaw"].rotation_mode = "AXIS_ANGLE"
    before = sorted(a.name for a in bpy.data.actions)
    with pytest.raises(EmoTalkError, match="'jaw' uses axis-angle"):
        scene_writer.write_take(obj, _take(jawOpen=1.0), start_frame=1)
    assert sorted(a.name for a in bpy.data.actions) == before and obj.animation_data is None


def test_mixed_character_whose_rig_has_no_poses_keeps_its_shape_keys(blender):
    rig = bpy.data.objects.new("Bare", bpy.data.armatures.new("Bare"))
    bpy.context.scene.collection.objects.link(rig)
    face = arkit_mesh()
    face.emotalk.rig = rig
    take = scene_writer.write_take(face, _take(jawOpen=1.0), start_frame=1)
    assert face.data.shape_keys.animation_data.action.name == take.action
    assert any("'Bare' has no pose" in w for w in take.warnings) and rig.animation_data is None


def test_import_motion_onto_the_rig(rig, tmp_path):
    """A take from a .npy (released layout) imported onto the armature plays on its bones."""
    path = tmp_path / "line.npy"
    np.save(path, _take(frames=4, jawOpen=1.0))
    assert bpy.ops.emotalk.import_motion(filepath=str(path), start_frame=1) == {"FINISHED"}
    (action,) = scene_writer.takes_of(rig)
    assert action.name == "EmoTalk_line"
    bpy.context.scene.frame_set(3)
    assert rig.pose.bones["jaw_master"].rotation_quaternion.angle > 0.1
