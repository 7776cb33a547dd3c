"""Long work on a worker thread, polled from the caller's thread (Blender's main thread).

The worker only runs engine code; results, progress and errors travel back through a queue that
the caller drains with ``poll()`` (the modal operator does so on its timer), so bpy is only ever
touched on the main thread.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from .errors import Cancelled

# work(progress, cancel) -> result; progress(fraction, message); cancel is a threading.Event.
Work = Callable[[Callable[[float, str], None], threading.Event], object]


class Job:
    """``work(progress, cancel)`` in a daemon thread; ``poll()`` from the main thread."""

    def __init__(self, work: Work, name: str = "EmoTalk job"):
        self.state = "new"  # new -> running -> done | cancelled | error
        self.progress = 0.0
        self.message = "Starting"
        self.result = None
        self.error: BaseException | None = None
        self._work_fn = work
        self._queue: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)

    def start(self) -> Job:
        self.state = "running"
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop at its next check (the engine: a chunk boundary); the result is discarded."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _work(self):
        try:
            self._queue.put(("done", self._work_fn(self._progress, self._cancel)))
        except Cancelled:
            self._queue.put(("cancelled", None))
        except BaseException as exc:  # handed to the main thread, reported there
            self._queue.put(("error", exc))

    def _progress(self, fraction, message):
        self._queue.put(("progress", (float(fraction), str(message))))

    def poll(self) -> str:
        """Drain the queue; returns the state. A cancel request wins over a late result."""
        while self.state == "running":
            try:
                kind, value = self._queue.get_nowait()
            except queue.Empty:
                break
            if kind == "progress":
                self.progress, self.message = value
            elif kind == "done":
                self.result, self.progress = value, 1.0
                self.state = "cancelled" if self.cancelled else "done"
            elif kind == "cancelled":
                self.state = "cancelled"
            else:
                self.error, self.state = value, "error"
        if self.state == "running" and self.cancelled:
            self.state = "cancelled"  # do not wait for the work to notice
        return self.state

    def wait(self, timeout=None) -> str:
        """Block until the worker ends (scripts and tests); returns the final state."""
        self._thread.join(timeout)
        return self.poll()


class GenerateJob(Job):
    """``pipeline.generate(audio_path, settings)`` as a Job (torch is imported on the worker)."""

    def __init__(self, audio_path, settings):
        self.audio_path = audio_path
        self.settings = settings
        super().__init__(self._generate, name="EmoTalk generate")

    def _generate(self, progress, cancel):
        from . import pipeline

        return pipeline.generate(self.audio_path, self.settings, progress=progress, cancel=cancel)
