"""The modal half of Generate, Regenerate and Capture: an engine Job in a worker, drained by a timer.

The worker never touches bpy; the timer copies its progress into the window manager's job display,
Esc or the Cancel button stops it, and the operator's ``finish_job(context, obj, result)`` writes the
take on the main thread. Every exit path removes the timer and clears the display.
"""
from __future__ import annotations

import bpy

from ..engine.errors import EmoTalkError

_running: list = []  # modal operators with a live job, stopped on unregister


def stop_all() -> None:
    for op in list(_running):
        op.stop(bpy.context)
    _running.clear()


def redraw(context) -> None:
    screen = getattr(context, "screen", None)
    for area in (screen.areas if screen else ()):
        if area.type == "VIEW_3D":
            area.tag_redraw()


class JobModal:
    """Mixin: ``start_job`` from ``invoke``; subclasses define ``job_label`` and ``finish_job``."""

    job_label = "Job"

    def start_job(self, context, job, obj, message: str = "Starting"):
        self._object_name = obj.name
        self._job = job.start()
        display = context.window_manager.emotalk_job
        display.running, display.progress, display.message, display.cancel_requested = True, 0.0, message, False
        self._timer = context.window_manager.event_timer_add(0.1, window=context.window)
        context.window_manager.modal_handler_add(self)
        _running.append(self)
        return {"RUNNING_MODAL"}

    def stop(self, context):
        """Cancel the worker, remove the timer, clear the job display (every exit path)."""
        self._job.cancel()
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        display = getattr(context.window_manager, "emotalk_job", None)
        if display is not None:
            display.running, display.progress, display.message = False, 0.0, ""
        if self in _running:
            _running.remove(self)
        redraw(context)

    def modal(self, context, event):
        display = context.window_manager.emotalk_job
        if event.type == "ESC" or display.cancel_requested:
            self._job.cancel()
        if event.type not in {"TIMER", "ESC"} and not display.cancel_requested:
            return {"PASS_THROUGH"}
        state = self._job.poll()
        if state == "running":
            display.progress, display.message = self._job.progress, self._job.message
            redraw(context)
            return {"PASS_THROUGH"}
        self.stop(context)
        if state == "cancelled":
            self.report({"INFO"}, f"{self.job_label} cancelled: the scene is unchanged")
            return {"CANCELLED"}
        if state == "error":
            error = self._job.error
            self.report({"ERROR"}, str(error) if isinstance(error, EmoTalkError)
                        else f"{type(error).__name__}: {error}")
            return {"CANCELLED"}
        try:
            self.finish_job(context, bpy.data.objects.get(self._object_name), self._job.result)
        except EmoTalkError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}

    def cancel(self, context):  # Blender calls this when the window closes mid-job
        self.stop(context)
