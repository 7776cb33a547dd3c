"""Work on a worker thread, polled like the modal operator does (no bpy): result, progress, cancel, errors."""
from __future__ import annotations

import threading

import numpy as np

from emotalk_blender.engine import pipeline
from emotalk_blender.engine.errors import AudioError, Cancelled
from emotalk_blender.engine.jobs import GenerateJob, Job


def _poll_until_done(job, seen=None):
    while job.poll() == "running":
        if seen is not None:
            seen.append(job.progress)
        job._thread.join(0.01)
    return job.state


def test_job_runs_to_the_engine_result_with_progress(speech_wav, tiny_checkpoint):
    job = GenerateJob(str(speech_wav), pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint)))
    seen = []
    job.start()
    assert _poll_until_done(job, seen) == "done"
    want = pipeline.generate(str(speech_wav), pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint)))
    np.testing.assert_array_equal(job.result, want)
    assert job.progress == 1.0
    assert seen == sorted(seen)  # progress only moves forward


def test_progress_messages_reach_the_main_thread_in_order():
    step = threading.Event()

    def work(progress, cancel):
        progress(0.25, "a quarter")
        step.wait(10)
        progress(0.75, "three quarters")
        return "result"

    job = Job(work).start()
    while job.message != "a quarter":
        assert job.poll() == "running"
        job._thread.join(0.01)
    assert job.progress == 0.25
    step.set()
    assert job.wait(10) == "done" and job.result == "result"
    assert (job.progress, job.message) == (1.0, "three quarters")


def test_cancel_stops_the_engine_and_discards_the_result(long_speech_wav, tiny_checkpoint):
    job = GenerateJob(str(long_speech_wav), pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint)))
    job.start().cancel()
    assert job.poll() == "cancelled"  # at once: the main thread does not wait for the engine
    assert job.wait(timeout=120) == "cancelled" and job.cancelled
    assert not job._thread.is_alive()


def test_work_that_notices_cancel_ends_cancelled():
    started = threading.Event()

    def work(progress, cancel):
        started.set()
        cancel.wait(10)
        raise Cancelled

    job = Job(work).start()
    started.wait(10)
    job.cancel()
    assert job.wait(10) == "cancelled" and job.result is None and job.error is None


def test_errors_are_handed_to_the_main_thread(tmp_path, tiny_checkpoint):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    job = GenerateJob(str(bad), pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint))).start()
    assert job.wait(timeout=60) == "error"
    assert isinstance(job.error, AudioError) and "notes.wav" in str(job.error)
    assert job.result is None

    def broken(progress, cancel):
        raise ZeroDivisionError("inside the worker")

    job = Job(broken).start()
    assert job.wait(10) == "error" and isinstance(job.error, ZeroDivisionError)
