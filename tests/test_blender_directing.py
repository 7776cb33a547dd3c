"""Directing from Blender: the panel's settings, emotion markers on the timeline, takes that
remember their settings and Regenerate, with the shipped default model and real speech."""
from __future__ import annotations

import dataclasses
import json

import bpy
import numpy as np
import pytest
from blender_support import arkit_mesh

from emotalk_blender.blender import directing, scene_writer
from emotalk_blender.engine import pipeline
from emotalk_blender.engine.arkit import INDEX

pytest_plugins = ["blender_support"]  # the `blender` fixture
SMILE = [INDEX["mouthSmileLeft"], INDEX["mouthSmileRight"]]


def _generate(audio, **kw):
    assert bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(audio), **kw) == {"FINISHED"}
    obj = bpy.context.active_object
    take = scene_writer.takes_of(obj)[-1]
    return take, scene_writer.read_take(obj, scene=bpy.context.scene)


def _engine(audio, **kw):
    return pipeline.generate(str(audio), pipeline.GenerateSettings(**kw))


def test_settings_have_one_name_everywhere(blender):
    fields = {f.name for f in dataclasses.fields(pipeline.GenerateSettings)}
    for name in directing.FIELDS:
        assert name == "use_markers" or name in fields, name
        for op in (bpy.ops.emotalk.generate, bpy.ops.emotalk.regenerate):
            assert name in op.get_rna_type().properties, name
        assert hasattr(bpy.context.scene.emotalk, name), name


def test_named_emotion_and_strengths_from_the_operator(blender, speech_wav):
    arkit_mesh()
    take, values = _generate(speech_wav, emotion_source="named", emotion="happy", emotion_mix=0.8, lip_open=0.1,
                             gaze=0.5, gaze_seed=3)
    want = _engine(speech_wav, emotion_source="named", emotion="happy", emotion_mix=0.8, lip_open=0.1, gaze=0.5,
                   gaze_seed=3)
    np.testing.assert_allclose(values, want, atol=1e-6)
    stored = json.loads(take["emotalk"][directing.SETTINGS_KEY])
    assert stored["emotion"] == "happy" and stored["emotion_mix"] == pytest.approx(0.8)
    assert stored["lip_open"] == pytest.approx(0.1) and stored["gaze_seed"] == 3
    assert "happy 0.8" in directing.summary(take) and "lip_open 0.1" in directing.summary(take)


def test_markers_switch_the_emotion_at_their_frame(blender, speech_wav):
    scene = blender
    arkit_mesh()
    scene.timeline_markers.new("happy", frame=46)  # the take starts at frame 1: take frame 45 = 1.5 s
    scene.timeline_markers.new("camera 2", frame=20)  # not an emotion: ignored
    take, values = _generate(speech_wav, use_markers=True, crossfade=6, smooth=False, blinks=False)
    want = _engine(speech_wav, emotion_track="1.5:happy", crossfade=6, smooth=False, blinks=False)
    np.testing.assert_allclose(values, want, atol=1e-6)
    voice = _engine(speech_wav, smooth=False, blinks=False)
    np.testing.assert_allclose(values[:45], voice[:45], atol=1e-5)  # before the marker: the voice's own
    assert np.abs(values[45] - voice[45]).max() > 1e-3  # at the marker's frame it moves
    assert values[60:, SMILE].mean() > voice[60:, SMILE].mean() + 0.1
    assert json.loads(take["emotalk"][directing.SETTINGS_KEY])["emotion_track"] == "1.5000:happy:1"


def test_no_markers_equals_one_marker_at_the_first_frame(blender, speech_wav):
    scene = blender
    arkit_mesh()
    _, plain = _generate(speech_wav, emotion_source="named", emotion="sad", emotion_mix=0.7, use_markers=True)
    scene.timeline_markers.new("sad 0.7", frame=1)
    _, marked = _generate(speech_wav, use_markers=True)
    np.testing.assert_array_equal(plain, marked)


def test_regenerate_with_nothing_changed_gives_the_same_values(blender, speech_wav):
    scene = blender
    arkit_mesh()
    scene.timeline_markers.new("angry 0.6", frame=31)
    first, values = _generate(speech_wav, emotion_source="named", emotion="happy", use_markers=True, seed=5,
                              upper_face=1.3, blink_rate=2.0, level=0.6)
    scene.emotalk.emotion = "sad"  # the panel changed since: Regenerate uses the take's own settings
    assert bpy.ops.emotalk.regenerate("EXEC_DEFAULT", True, take=first.name) == {"FINISHED"}
    obj = bpy.context.active_object
    again = scene_writer.takes_of(obj)[-1]
    assert again.name != first.name
    np.testing.assert_array_equal(scene_writer.read_take(obj, scene=scene), values)
    # with a change: the stored settings, and that one replaced
    assert bpy.ops.emotalk.regenerate("EXEC_DEFAULT", True, take=first.name, level=0.2) == {"FINISHED"}
    changed = scene_writer.takes_of(obj)[-1]
    stored = json.loads(changed["emotalk"][directing.SETTINGS_KEY])
    assert stored["level"] == pytest.approx(0.2) and stored["emotion"] == "happy" and stored["seed"] == 5
    assert not np.array_equal(scene_writer.read_take(obj, scene=scene), values)


def test_regenerate_errors(blender, speech_wav):
    arkit_mesh()
    with pytest.raises(RuntimeError, match="No take named 'nope'"):
        bpy.ops.emotalk.regenerate("EXEC_DEFAULT", True, take="nope")
    with pytest.raises(RuntimeError, match="upper_smooth must be an odd window"):
        bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(speech_wav), upper_smooth=4)
    with pytest.raises(RuntimeError, match="marker 'angry 1.5': strength must lie in 0..1"):
        bpy.context.scene.timeline_markers.new("angry 1.5", frame=10)
        bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(speech_wav), use_markers=True)
    assert not scene_writer.takes_of(bpy.context.active_object)  # no take was made
