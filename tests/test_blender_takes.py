"""Switching between takes: each generate is a take; an earlier one can play again or be deleted."""
import bpy
import pytest

from blender_support import arkit_mesh, expected_value, needs_audio
from emotalk_blender.blender import compat, scene_writer
from emotalk_blender.engine import pipeline
from emotalk_blender.engine.arkit import INDEX

pytest_plugins = ["blender_support"]  # the `blender` fixture


def _generate(audio, ckpt, seed, level):
    return bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(audio), checkpoint=str(ckpt), seed=seed,
                                    level=level)


def _plays(obj, take, frames):
    scene = bpy.context.scene
    key = obj.data.shape_keys
    for k in frames:
        scene.frame_set(scene.frame_start + k)
        for name in ("jawOpen", "eyeBlinkLeft", "browInnerUp"):
            if key.key_blocks[name].value != pytest.approx(expected_value(obj, name, take[k, INDEX[name]]), abs=1e-6):
                return False
    return True


def test_use_and_delete_takes(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    bpy.ops.ed.undo_push(message="before takes")
    assert _generate(speech_wav, tiny_checkpoint, 1, 1.0) == {"FINISHED"}
    assert _generate(speech_wav, tiny_checkpoint, 2, 0.0) == {"FINISHED"}
    first, second = scene_writer.takes_of(obj)
    take1, take2 = (pipeline.generate(str(speech_wav), pipeline.GenerateSettings(
        checkpoint=str(tiny_checkpoint), seed=seed, level=level)) for seed, level in ((1, 1.0), (2, 0.0)))
    frames = (0, len(take1) // 2, len(take1) - 1)
    assert _plays(obj, take2, frames) and not _plays(obj, take1, frames)

    assert bpy.ops.emotalk.use_take("EXEC_DEFAULT", True, action=first.name) == {"FINISHED"}
    assert obj.data.shape_keys.animation_data.action == first
    assert _plays(obj, take1, frames) and not _plays(obj, take2, frames)
    assert (bpy.context.scene.frame_start, bpy.context.scene.frame_end) == (1, len(take1))

    name2 = second.name
    assert bpy.ops.emotalk.delete_take("EXEC_DEFAULT", True, action=name2) == {"FINISHED"}
    assert name2 not in bpy.data.actions and [a.name for a in scene_writer.takes_of(obj)] == [first.name]
    assert _plays(obj, take1, frames)  # the playing take is untouched
    bpy.ops.ed.undo()
    assert name2 in bpy.data.actions  # one undo brings the deleted take back


@needs_audio
def test_use_take_switches_the_sound_heard(blender, speech_wav, long_speech_wav, tiny_checkpoint):
    arkit_mesh()
    assert _generate(speech_wav, tiny_checkpoint, 1, 1.0) == {"FINISHED"}
    assert _generate(long_speech_wav, tiny_checkpoint, 1, 1.0) == {"FINISHED"}
    obj = bpy.context.active_object
    first, second = scene_writer.takes_of(obj)
    strips = {s.get(scene_writer.TAKE_TAG): s for s in compat.all_strips(bpy.context.scene)}
    assert strips[first.name].mute and not strips[second.name].mute
    bpy.ops.emotalk.use_take(action=first.name)
    assert not strips[first.name].mute and strips[second.name].mute
    bpy.ops.emotalk.delete_take(action=second.name)
    assert [s.get(scene_writer.TAKE_TAG) for s in compat.all_strips(bpy.context.scene)] == [first.name]


def test_only_takes_can_be_used_or_deleted(blender):
    obj = arkit_mesh()
    own = bpy.data.actions.new("ArtistAction")
    with pytest.raises(RuntimeError, match="not an EmoTalk take"):  # bpy.ops raises on an ERROR report
        bpy.ops.emotalk.delete_take(action=own.name)
    with pytest.raises(RuntimeError, match="not an EmoTalk take"):
        bpy.ops.emotalk.use_take(action=own.name)
    assert "ArtistAction" in bpy.data.actions and scene_writer.takes_of(obj) == []
