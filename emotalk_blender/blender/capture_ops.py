"""*Capture from video*: a video's face as a new take, with the video's sound at the start frame.

Like Generate: synchronous from scripts and in background mode (``execute``); modal from the UI
(``invoke``), the capture in a worker thread over an engine Job, a timer drains its progress, Esc or
Cancel stops it, and the take is written on the main thread (``scene_writer.write_take``: a new
add-on-owned Action, one undo step, the scene unchanged on any failure).
"""
from __future__ import annotations

import os
from typing import NamedTuple

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from ..engine.capture.base import fit_crop, load_capture_backend, parse_crop
from . import addon_name, compat, operator_base, retarget, scene_writer, script_defaults
from .props import MAX_FRAME

BACKEND_ITEMS = (("mediapipe", "MediaPipe", "MediaPipe Face Landmarker (needs the mediapipe package and "
                  "face_landmarker.task)"),
                 ("resnet", "ResNet", "The project's own capture network (a fixed face crop when no detector)"))


def capture_model(context=None) -> str:
    """The Preferences' capture model file ('' when unset or the add-on is not enabled)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(addon_name())
    path = getattr(addon.preferences, "capture_model", "") if addon is not None else ""
    return bpy.path.abspath(path) if path else ""


class EMOTALK_PG_capture(bpy.types.PropertyGroup):
    video_path: StringProperty(name="Video", subtype="FILE_PATH", options=compat.blend_relative_path(),
                            description="Video of a face speaking")
    backend: EnumProperty(name="Capture", items=BACKEND_ITEMS, default="mediapipe")
    crop: StringProperty(name="Face crop", description="Fixed crop x,y,w,h in video pixels (empty: none)")
    smooth: BoolProperty(name="Smoothing", default=True, description="Savitzky-Golay 5/2, as the 3D-ETF data")


class CapturePlan(NamedTuple):
    """What Capture's prepare step found: the object, the video, the loaded capture backend."""
    obj: object
    info: object
    backend: object


class EMOTALK_OT_capture_video(operator_base.TakeJobOperator, bpy.types.Operator):
    """Capture the face in a video onto the active object's shape keys as a new take (with its sound)"""

    bl_idname = "emotalk.capture_video"
    bl_label = "Capture from video"
    bl_options = {"REGISTER", "UNDO"}
    job_label = "Capture"
    start_message = "Capturing"

    filepath: StringProperty(name="Video", subtype="FILE_PATH", options=compat.blend_relative_path())
    backend: EnumProperty(name="Capture", items=BACKEND_ITEMS, default="mediapipe")
    capture_model: StringProperty(name="Capture model", subtype="FILE_PATH", options={"SKIP_SAVE"},
                                  description="Model file; empty: the one in Preferences")
    crop: StringProperty(name="Face crop", description="x,y,w,h in video pixels (empty: none)")
    smooth: BoolProperty(name="Smoothing", default=True)
    start_frame: IntProperty(name="Start frame", default=1, min=-MAX_FRAME, max=MAX_FRAME)

    def prepare(self, context) -> CapturePlan:
        """Every check before the long work: target, video, crop, model, backend."""
        from ..engine.capture.capture import prepare

        obj = context.active_object
        retarget.check_mapped(obj)
        from .operators import blend_path  # "//clip.mp4" in an unsaved file: says so, as Generate does

        info = prepare(blend_path(self.filepath, "video file"))
        # the crop inside the video before any frame is read (clamped, or refused when beside the picture)
        crop = fit_crop(parse_crop(self.crop, flag="Face crop"), info.width, info.height, info.path, flag="Face crop")
        task = capture_model(context)  # Preferences: MediaPipe's face_landmarker.task
        if self.backend == "resnet":  # its own weights (empty: the shipped ones); the task finds the face
            model = bpy.path.abspath(self.capture_model) if self.capture_model else None
            return CapturePlan(obj, info, load_capture_backend("resnet", model, crop=crop, face_model=task or None))
        model = bpy.path.abspath(self.capture_model) if self.capture_model else task
        return CapturePlan(obj, info, load_capture_backend(self.backend, model or None, crop=crop))

    def work(self, plan: CapturePlan):
        from ..engine.capture.capture import capture_video

        try:
            return capture_video(plan.info, plan.backend, smooth=self.smooth)
        finally:
            plan.backend.close()

    def job(self, plan: CapturePlan):
        from ..engine.capture.job import CaptureJob

        return CaptureJob(plan.info, plan.backend, smooth=self.smooth)

    def finish(self, context, plan: CapturePlan, cap):
        obj = plan.obj
        stem = os.path.splitext(os.path.basename(cap.info.path))[0]
        take = scene_writer.write_take(
            obj, cap.weights, scene=context.scene, start_frame=self.start_frame,
            audio_path=cap.info.path if cap.audio is not None else None, name=f"EmoTalk_capture_{stem}",
            meta={"video": os.path.abspath(cap.info.path), "capture": cap.backend, "smooth": self.smooth,
                  "video_frames": cap.video_frames, "faceless_frames": cap.faceless})
        context.scene.emotalk.last_take = take.summary()
        for warning in take.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"{take.summary()} ({cap.report()})")
        return take


class EMOTALK_PT_capture(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "EmoTalk"
    bl_label = "Capture from video"
    bl_parent_id = "EMOTALK_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.emotalk_capture
        layout.prop(settings, "video_path")
        row = layout.row()
        row.prop(settings, "backend", text="")
        row.prop(settings, "smooth")
        if settings.backend == "resnet":
            layout.prop(settings, "crop")
        elif not capture_model(context):
            layout.label(text="Set the capture model (face_landmarker.task) in Preferences", icon="ERROR")
        obj = context.active_object
        row = layout.row()
        row.enabled = retarget.shape_keys_of(obj, required=False) is not None if obj else False
        op = row.operator(EMOTALK_OT_capture_video.bl_idname, icon="FILE_MOVIE")
        op.filepath, op.backend, op.crop = settings.video_path, settings.backend, settings.crop
        op.smooth, op.start_frame = settings.smooth, context.scene.emotalk.start_frame


def draw_preferences(layout, addon_prefs) -> None:
    """The Preferences' capture box: the model file and Install MediaPipe (through the torch installer)."""
    import importlib.util

    from ..engine.capture import install

    box = layout.box()
    box.label(text="Capture from video", icon="FILE_MOVIE")
    box.prop(addon_prefs, "capture_model")
    found = importlib.util.find_spec(install.MODULE) is not None
    row = box.row()
    row.label(text="MediaPipe is installed" if found else "MediaPipe is not installed (about 110 MB with OpenCV)",
              icon="INFO" if found else "ERROR")
    if not found:
        op = row.operator("emotalk.install_torch", text="Install MediaPipe", icon="IMPORT")
        op.packages = " ".join(install.mediapipe_requirements())
        op.module = install.MODULE
        op.index = install.PYPI_INDEX


script_defaults.skip_save(EMOTALK_OT_capture_video)  # a script's second video gets no first crop

classes = (EMOTALK_PG_capture, EMOTALK_OT_capture_video, EMOTALK_PT_capture)
POINTERS = ((bpy.types.Scene, "emotalk_capture", EMOTALK_PG_capture),)
