"""The modal half of Generate and Capture (blender/job_modal.py), driven as Blender's timer drives it.

In background mode Blender runs no event loop, so the test feeds ``modal`` the TIMER and ESC events
itself (a stand-in carrying ``type``, all ``modal`` reads) with the real window manager and a real job.
"""
import time
from types import SimpleNamespace

import bpy

from blender_support import arkit_mesh, snapshot
from emotalk_blender.blender import job_modal
from emotalk_blender.engine import pipeline
from emotalk_blender.engine.jobs import GenerateJob

pytest_plugins = ["blender_support"]  # the `blender` fixture


class Driver(job_modal.JobModal):
    job_label = "Generate"

    def __init__(self, job, obj):
        self.reports, self.finished = [], None
        self._job, self._object_name, self._timer = job.start(), obj.name, None
        bpy.context.window_manager.emotalk_job.running = True
        job_modal._running.append(self)

    def report(self, kind, message):
        self.reports.append((next(iter(kind)), message))

    def finish_job(self, context, obj, result):
        self.finished = (obj.name, result)


def drive(op, event_type="TIMER", timeout=120.0):
    """Feed ``modal`` events until it stops passing through; the progress seen on the way."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        state = op.modal(bpy.context, SimpleNamespace(type=event_type))
        if state != {"PASS_THROUGH"}:
            return state, seen
        seen.append(bpy.context.window_manager.emotalk_job.progress)
        time.sleep(0.02)
    raise AssertionError("the job never ended")


def test_timer_drains_progress_then_finishes_on_the_main_thread(blender, long_speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    settings = pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint))
    op = Driver(GenerateJob(str(long_speech_wav), settings), obj)  # 50 s: three windows, progress between
    state, seen = drive(op)
    assert state == {"FINISHED"} and op.finished[0] == obj.name
    assert op.finished[1].shape == pipeline.generate(str(long_speech_wav), settings).shape
    assert seen and max(seen) > 0  # progress reached the display while the worker ran
    display = bpy.context.window_manager.emotalk_job
    assert not display.running and display.message == "" and op not in job_modal._running


def test_esc_cancels_and_leaves_the_scene_unchanged(blender, long_speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    before = snapshot()
    op = Driver(GenerateJob(str(long_speech_wav), pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint))), obj)
    state, _ = drive(op, "ESC")
    assert state == {"CANCELLED"} and op.finished is None
    assert op.reports == [("INFO", "Generate cancelled: the scene is unchanged")]
    assert snapshot() == before and not bpy.context.window_manager.emotalk_job.running


def test_a_failing_job_is_one_line_and_nothing_is_written(blender, speech_wav, tmp_path):
    obj = arkit_mesh()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    op = Driver(GenerateJob(str(speech_wav), pipeline.GenerateSettings(checkpoint=str(bad))), obj)
    state, _ = drive(op)
    assert state == {"CANCELLED"} and op.finished is None
    (kind, message), = op.reports
    assert kind == "ERROR" and str(bad) in message and "\n" not in message


def test_stop_all_stops_every_running_job(blender, long_speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    op = Driver(GenerateJob(str(long_speech_wav), pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint))), obj)
    job_modal.stop_all()  # what unregister does
    assert op._job.wait(timeout=120) == "cancelled" and not job_modal._running
    assert not bpy.context.window_manager.emotalk_job.running
