"""Issue 24 in real Blender: bad stored take settings then Regenerate, an emotion track past float range, a take
too long for any scene, a relative video path in an unsaved file, and scripts that must not inherit the last
call's properties. Each failure is one report line with the scene as it was.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import bpy
import numpy as np
import pytest

from blender_support import arkit_mesh, snapshot
from capture_support import GRID, MODEL, needs_grid
from emotalk_blender.blender import directing

pytest_plugins = ["blender_support"]  # the `blender` fixture

ROOT = Path(__file__).resolve().parent.parent


def generate(audio, checkpoint, **kw):
    return bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(audio), checkpoint=str(checkpoint), **kw)


def error_of(call) -> str:
    """The one ERROR report line of an operator call that was cancelled."""
    with pytest.raises(RuntimeError) as err:
        call()
    text = str(err.value).strip()
    assert text.startswith("Error: ") and len(text.splitlines()) == 1, text
    return text[len("Error: "):]


@pytest.mark.parametrize("stored, says", [
    ('{"level": "abc"}', "level"),  # the three: replacing the whole JSON
    ("[]", "not a set of settings"),
    ('{"filepath": 5}', "filepath"),
    ({"level": "abc"}, "level"),  # ... and one field of a real take's settings changed
    ({"emotion": "joy"}, "emotion"),
    ({"level": 7.5}, "level"),
    ({"seed": True}, "seed"),
    ({"person": 1e400}, "person"),
])
def test_regenerate_refuses_bad_stored_settings(blender, speech_wav, tiny_checkpoint, stored, says):
    arkit_mesh()
    assert generate(speech_wav, tiny_checkpoint) == {"FINISHED"}
    take = next(a for a in bpy.data.actions if a.get("emotalk"))
    if isinstance(stored, dict):
        stored = json.dumps({**json.loads(take["emotalk"][directing.SETTINGS_KEY]), **stored})
    take["emotalk"][directing.SETTINGS_KEY] = stored
    before = snapshot()
    text = error_of(lambda: bpy.ops.emotalk.regenerate("EXEC_DEFAULT", True, take=take.name))
    assert text.startswith(f"Take {take.name!r}: stored settings") and says in text, text
    assert snapshot() == before


def test_an_emotion_track_past_float_range_is_one_report(blender, speech_wav, tiny_checkpoint):
    arkit_mesh()
    before = snapshot()
    text = error_of(lambda: generate(speech_wav, tiny_checkpoint, emotion_track="0:happy,1e308:angry"))
    assert "emotion_track" in text and "1e308" in text, text
    assert snapshot() == before


def test_a_take_longer_than_any_scene_does_not_advise_a_negative_start(blender, tmp_path):
    arkit_mesh()
    path = tmp_path / "long.npy"
    np.save(path, np.zeros((2_000_000, 52), np.float32))
    before = snapshot()
    text = error_of(lambda: bpy.ops.emotalk.import_motion("EXEC_DEFAULT", True, filepath=str(path)))
    assert "2000000 frames" in text and "start at frame -" not in text and "1048574" in text, text
    assert snapshot() == before


def test_capture_of_a_relative_video_in_an_unsaved_file_explains_the_path(blender, tmp_path):
    arkit_mesh()
    before = snapshot()
    os.chdir(tmp_path)
    try:
        text = error_of(lambda: bpy.ops.emotalk.capture_video("EXEC_DEFAULT", True, filepath="//clip.mp4"))
    finally:
        os.chdir(ROOT)
    assert text == ("//clip.mp4: a path relative to the .blend file, but this .blend is not saved yet: "
                    "save it first or choose the video file by its full path"), text
    assert snapshot() == before


@needs_grid
def test_capture_with_a_crop_beside_the_picture_is_refused_before_any_frame(blender):
    arkit_mesh()
    before = snapshot()
    text = error_of(lambda: bpy.ops.emotalk.capture_video("EXEC_DEFAULT", True, filepath=str(GRID[0]),
                                                          capture_model=str(MODEL), crop="1000,1000,50,50"))
    assert text == f"Face crop 1000,1000,50,50: outside the 360x288 frame of {GRID[0]}; x,y must lie inside it", text
    assert snapshot() == before


def test_a_script_does_not_inherit_the_last_calls_direction(blender, speech_wav, tiny_checkpoint):
    """The README's batch script: each call names what it changes; the rest are the operator's defaults."""
    arkit_mesh()
    assert generate(speech_wav, tiny_checkpoint, emotion_track="0:voice,1:voice", gaze=0.7, gaze_seed=4,
                    level=0.3, seed=9, upper_face=1.5, start_frame=3) == {"FINISHED"}
    assert generate(speech_wav, tiny_checkpoint) == {"FINISHED"}
    takes = sorted((a for a in bpy.data.actions if a.get("emotalk")), key=lambda a: a.name)
    stored = [json.loads(a["emotalk"][directing.SETTINGS_KEY]) for a in takes]
    plain = [s for s in stored if s["gaze"] == 0.0]
    assert len(plain) == 1, stored  # the second take did not inherit gaze 0.7
    s = plain[0]
    assert (s["emotion_track"], s["gaze_seed"], s["level"], s["seed"], s["upper_face"], s["start_frame"]) == \
        ("", 0, 1.0, 0, 1.0, 1), s
    for op in (bpy.ops.emotalk.generate, bpy.ops.emotalk.regenerate, bpy.ops.emotalk.capture_video,
               bpy.ops.emotalk.import_motion, bpy.ops.emotalk.create_head, bpy.ops.emotalk.use_take,
               bpy.ops.emotalk.delete_take):
        props = op.get_rna_type().properties
        exempt = {"rna_type", "filter_glob"} | ({"filepath"} if op.idname() == "EMOTALK_OT_import_motion" else set())
        inherited = [p.identifier for p in props if p.identifier not in exempt and not p.is_skip_save]
        assert not inherited, (op.idname(), inherited)
