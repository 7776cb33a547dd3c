"""Capture from video in real Blender: a GRID clip becomes a take with the video's sound, on the scene's rate."""
import bpy
import numpy as np
import pytest

from blender_support import HAS_AUDIO, arkit_mesh, expected_value, snapshot
from capture_support import GRID, MODEL, ffmpeg, needs_grid, needs_mediapipe
from emotalk_blender.blender import compat, scene_writer
from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.engine.capture.base import load_capture_backend
from emotalk_blender.engine.capture.capture import capture_video
from emotalk_blender.engine.capture.job import CaptureJob
from emotalk_blender.engine.capture.video import probe

pytest_plugins = ["blender_support"]  # the `blender` fixture
pytestmark = [needs_mediapipe, needs_grid]


def capture(path, **kw):
    # ('EXEC_DEFAULT', True): push an undo step as a click in the UI does.
    return bpy.ops.emotalk.capture_video("EXEC_DEFAULT", True, filepath=str(path), capture_model=str(MODEL), **kw)


def engine_capture(path):
    backend = load_capture_backend("mediapipe", MODEL)
    try:
        return capture_video(str(path), backend)
    finally:
        backend.close()


def test_capture_makes_a_take_with_sound_at_the_scene_rate(blender):
    obj = arkit_mesh(fps=24)
    bpy.ops.ed.undo_push(message="before capture")
    assert capture(GRID[0], start_frame=5) == {"FINISHED"}
    take = engine_capture(GRID[0]).weights
    scene = bpy.context.scene
    key = obj.data.shape_keys
    action = key.animation_data.action
    assert scene_writer.is_take(action) and action["emotalk"]["capture"] == "mediapipe"
    assert scene.frame_start == 5 and scene.frame_end - 5 == int(np.ceil((len(take) - 1) / 30 * 24 - 1e-9))
    for f in (0, 11, 30, scene.frame_end - 6):
        scene.frame_set(5 + f)
        want = np.interp(f * 30 / 24, np.arange(len(take)), take[:, INDEX["jawOpen"]])
        assert key.key_blocks["jawOpen"].value == pytest.approx(expected_value(obj, "jawOpen", want), abs=1e-5)
    if HAS_AUDIO:
        strips = [s for s in compat.all_strips(scene) if s.type == "SOUND"]
        assert len(strips) == 1 and compat.strip_start(strips[0]) == 5
        assert bpy.path.abspath(strips[0].sound.filepath) == str(GRID[0])
        assert abs(compat.strip_duration(strips[0]) - len(take) / 30 * 24) <= 1.5
    bpy.ops.ed.undo()
    assert not [a for a in bpy.data.actions if scene_writer.is_take(a)]


def test_video_without_audio_makes_a_take_without_sound(blender, tmp_path):
    silent = tmp_path / "silent.mpg"
    ffmpeg("-i", str(GRID[1]), "-an", "-c:v", "copy", str(silent))
    arkit_mesh()
    assert capture(silent) == {"FINISHED"}
    assert not [s for s in compat.all_strips(bpy.context.scene) if s.type == "SOUND"]
    assert bpy.context.scene.frame_end == 90  # 3 s of video at 30 fps, from frame 1


def test_bad_video_and_missing_model_are_reports_and_change_nothing(blender, tmp_path):
    arkit_mesh()
    before = snapshot()
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    with pytest.raises(RuntimeError, match="notes.mp4: not a readable video"):
        capture(notes)
    with pytest.raises(RuntimeError, match="no such MediaPipe model file"):
        bpy.ops.emotalk.capture_video(filepath=str(GRID[0]), capture_model=str(tmp_path / "none.task"))
    assert snapshot() == before


def test_cancelled_capture_job_leaves_scene_unchanged(blender):
    arkit_mesh()
    before = snapshot()
    job = CaptureJob(probe(GRID[0]), load_capture_backend("mediapipe", MODEL))
    job.cancel()
    job.start()
    assert job.wait(timeout=60) == "cancelled"
    assert snapshot() == before


def test_invoke_in_background_runs_synchronously(blender):
    arkit_mesh()
    assert bpy.ops.emotalk.capture_video("INVOKE_DEFAULT", filepath=str(GRID[0]),
                                         capture_model=str(MODEL)) == {"FINISHED"}
    assert bpy.context.scene.emotalk.last_take
