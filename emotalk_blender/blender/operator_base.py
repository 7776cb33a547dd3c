"""What the take-making operators share: the error report, the disabled reason, and one shape for
Generate, Regenerate and Capture (a prepare step, the long work, a finish step).

``TakeJobOperator`` runs ``prepare`` (every check that needs no long work; the scene untouched), then
either the work here (``execute``: scripts, background mode) or in a worker over an engine Job
(``invoke``: the UI, job_modal.py), then ``finish`` on the main thread with what ``prepare`` returned.
"""
from __future__ import annotations

import functools

import bpy

from ..engine.errors import EmoTalkError
from . import job_modal


def reports(*errors):
    """Decorator for an operator's ``execute``: any of ``errors`` becomes one ERROR report and CANCELLED."""
    def decorate(method):
        @functools.wraps(method)
        def run(self, context):  # Blender checks the argument count of execute
            try:
                return method(self, context)
            except errors as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
        return run
    return decorate


reports_errors = reports(EmoTalkError)  # the project's one-line errors


def job_running_reason(context) -> str:
    """Why a take operator cannot start now ("" when it can)."""
    job = getattr(context.window_manager, "emotalk_job", None)
    return "A Generate or Capture job is running: wait for it or press Cancel" if job is not None and job.running \
        else ""


def poll_with_reason(cls, context, reason: str) -> bool:
    """A poll that says why it fails: Blender shows ``reason`` on the greyed button (poll_message_set)."""
    if reason and hasattr(cls, "poll_message_set"):
        cls.poll_message_set(reason)
    return not reason


class TakeJobOperator(job_modal.JobModal):
    """Mixin for an operator that makes a take: subclasses define ``prepare(context) -> plan`` (with
    ``plan.obj``), ``work(plan, progress=None, cancel=None)``, ``job(plan)`` (the same work as an engine
    Job) and ``finish(context, plan, result)``; ``errors`` are reported as one line."""

    errors: tuple = (EmoTalkError,)
    start_message = "Starting"

    @classmethod
    def disabled_reason(cls, context) -> str:
        return job_running_reason(context)

    @classmethod
    def poll(cls, context):
        return poll_with_reason(cls, context, cls.disabled_reason(context))

    def execute(self, context):
        try:
            plan = self.prepare(context)
            self.finish(context, plan, self.work(plan))
        except self.errors as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}

    def invoke(self, context, event):
        if bpy.app.background:  # no event loop: timers would never fire
            return self.execute(context)
        try:
            self._plan = self.prepare(context)
        except self.errors as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return self.start_job(context, self.job(self._plan), self._plan.obj, self.start_message)

    def finish_job(self, context, obj, result):
        self.finish(context, self._plan._replace(obj=obj), result)
