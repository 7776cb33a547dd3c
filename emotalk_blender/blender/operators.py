"""Operators: Generate from audio, Create head, retarget, import/export, preview.

``emotalk.generate`` runs synchronously from scripts and in background mode (``execute``); from
the UI (``invoke``) it is modal: inference in a worker thread, a timer drains its progress queue,
Esc or the Cancel button stops it, and the take is written on the main thread at the end (bpy is
never touched from the worker). Every failure is a report, and the scene is left as it was.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import bpy
from bpy.props import IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..engine.direction import emotion_reading
from ..engine.arkit import NUM_BLENDSHAPES
from ..engine.audio.decoding import check_audio_path
from ..engine.errors import AudioError, EmoTalkError
from ..engine.jobs import GenerateJob
from ..engine.settings import GenerateSettings
from . import controls_props, operator_base, script_defaults
from .operator_base import reports_errors
from . import compat, directing, head_motion_writer, job_modal, prefs, retarget, rig_mapping, rigify_face, scene_writer
from .props import MAX_FRAME

stop_all_jobs = job_modal.stop_all  # running modal operators (Generate, Capture), stopped on unregister


def blend_path(path: str, what: str = "audio file") -> str:
    """An operator's file path made absolute; ``//`` is relative to the saved .blend file.

    An empty path, or a ``//`` path while the .blend is unsaved (it would resolve against
    whatever the working directory is), is an EmoTalkError that says so.
    """
    if not path.strip():
        raise (AudioError if what == "audio file" else EmoTalkError)(f"no {what} chosen")
    if path.startswith("//") and not bpy.data.filepath:
        raise (AudioError if what == "audio file" else EmoTalkError)(
            f"{path}: a path relative to the .blend file, but this .blend is not saved yet: save it "
            f"first or choose the {what} by its full path")
    return os.path.abspath(bpy.path.abspath(path))


def _settings(op, context):
    """The engine's checked GenerateSettings for an operator's values and the preferences (the one check:
    the pipeline, the head motion and the take's record trust it)."""
    p = prefs.get(context)
    checkpoint = blend_path(op.checkpoint, "checkpoint") if op.checkpoint else p["checkpoint"]
    prefs.check_torch(checkpoint, p["backend"], p["device"])  # names the missing piece and the button
    direction, ignored = directing.settings_fields(op, context, lambda path: blend_path(path, "emotion reference"))
    if ignored:
        op.report({"INFO"}, f"Markers that name no emotion are ignored: {', '.join(ignored)}")
    return GenerateSettings(**{**direction, "checkpoint": checkpoint, "device": p["device"],
                               "backend": p["backend"], "precision": p["precision"]}).validated()


def _meta(op, context, settings):
    return {"audio": blend_path(op.filepath), "level": op.level,
            "person": op.person, "smooth": op.smooth, "blinks": op.blinks, "seed": op.seed,
            "checkpoint": op.checkpoint or prefs.get(context)["checkpoint"] or "default",
            directing.SETTINGS_KEY: directing.take_settings(op, settings)}


def _finish_take(op, context, obj, weights, settings):
    take = scene_writer.write_take(
        obj, weights, scene=context.scene, start_frame=op.start_frame,
        audio_path=blend_path(op.filepath), meta=_meta(op, context, settings),
        head=head_motion_writer.head_for(op, blend_path(op.filepath), len(weights), settings))
    reading = emotion_reading.LAST.get("reading")  # set by this take's generate (engine/direction/emotion_reading.py)
    context.scene.emotalk.last_take = take.summary() + (f"; {reading.summary()}" if reading is not None else "")
    for warning in take.warnings:
        op.report({"WARNING"}, warning)
    if take.unmatched:
        op.report({"WARNING"}, f"{len(take.unmatched)} ARKit channels have no shape key (or pose): "
                               f"{', '.join(take.unmatched)}")
    op.report({"INFO"}, take.summary())
    return take


class GeneratePlan(NamedTuple):
    """What Generate's prepare step found: the object to animate, the audio, the checked settings."""
    obj: object
    audio: str
    settings: GenerateSettings


class _Generate(operator_base.TakeJobOperator, controls_props.OperatorControls):
    """Generate and Regenerate (Blender registers no subclass of a registered operator: a mixin)."""

    bl_idname = "emotalk.generate"
    bl_label = "Generate from audio"
    bl_options = {"REGISTER", "UNDO"}
    job_label = "Generate"
    errors = (EmoTalkError, ImportError)  # ImportError: a backend's module missing

    # The controls (level, style, emotion, strengths...) come from their table, defaults the CLI's.
    filepath: StringProperty(name="Audio", subtype="FILE_PATH", options=compat.blend_relative_path())
    start_frame: IntProperty(name="Start frame", default=1, min=-MAX_FRAME, max=MAX_FRAME)
    checkpoint: StringProperty(name="Checkpoint", subtype="FILE_PATH", options={"SKIP_SAVE"},
                               description="Model checkpoint; empty: the one in Preferences")

    def _target(self, context):
        """The object to animate, after every check that needs no inference (scene untouched)."""
        check_audio_path(blend_path(self.filepath))
        scene_writer.check_start_frame(self.start_frame)
        obj = context.active_object
        if rig_mapping.is_rig(obj):  # a face rig: one pose per channel
            rig_mapping.check_rig(obj)
            return obj
        retarget.shape_keys_of(obj)
        scene_writer.check_persistent(obj)
        retarget.check_mapped(obj)
        return obj

    def prepare(self, context) -> GeneratePlan:
        obj = self._target(context)
        return GeneratePlan(obj, blend_path(self.filepath), _settings(self, context))

    def work(self, plan: GeneratePlan):
        from ..engine import pipeline

        return pipeline.generate(plan.audio, plan.settings)

    def job(self, plan: GeneratePlan):
        return GenerateJob(plan.audio, plan.settings)

    def finish(self, context, plan: GeneratePlan, weights):
        _finish_take(self, context, plan.obj, weights, plan.settings)


class EMOTALK_OT_cancel(bpy.types.Operator):
    """Stop the running Generate (the scene is left unchanged)"""

    bl_idname = "emotalk.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        context.window_manager.emotalk_job.cancel_requested = True
        return {"FINISHED"}


class EMOTALK_OT_create_head(bpy.types.Operator):
    """Create a head with the 52 ARKit shape keys from a template set"""

    bl_idname = "emotalk.create_head"
    bl_label = "Create head"
    bl_options = {"REGISTER", "UNDO"}

    template: StringProperty(name="Template set", description="Template set name (in "
                             "flame_templates) or .npz path; empty: the preferences' default")

    @reports_errors
    def execute(self, context):
        from ..engine.formats import templates
        from . import head_mesh

        name = self.template or prefs.get(context)["template"] or ""
        path = templates.resolve_template(bpy.path.abspath(name))  # a '//' path: next to the .blend
        ts = templates.load_template_set(path)
        obj = head_mesh.build_head_object(ts, name=ts.name or "EmoTalkHead",
                                          collection=context.collection)
        for other in context.view_layer.objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        return {"FINISHED"}


class EMOTALK_OT_auto_map(bpy.types.Operator):
    """Map the 52 ARKit channels onto the active object's shape keys (an armature's: pose Actions) by name
    (editable after)"""

    bl_idname = "emotalk.auto_map"
    bl_label = "Auto-map channels"
    bl_options = {"REGISTER", "UNDO"}

    @reports_errors
    def execute(self, context):
        if not rig_mapping.is_rig(context.active_object):
            retarget.shape_keys_of(context.active_object)
        fill = rig_mapping.auto_fill if rig_mapping.is_rig(context.active_object) else retarget.auto_fill
        mapping = fill(context.active_object)
        self.report({"INFO"}, f"{len(mapping.channels)}/{NUM_BLENDSHAPES} channels mapped"
                    + (f"; unmatched: {', '.join(mapping.unmatched)}" if mapping.unmatched else ""))
        return {"FINISHED"}


class EMOTALK_OT_import_motion(bpy.types.Operator, ImportHelper):
    """Import a take from a released-layout .npy or a Live Link Face CSV onto the active object"""

    bl_idname = "emotalk.import_motion"
    bl_label = "Import motion (.npy / Live Link Face CSV)"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default="*.npy;*.csv", options={"HIDDEN"})
    start_frame: IntProperty(name="Start frame", default=1, min=-MAX_FRAME, max=MAX_FRAME)

    @reports_errors
    def execute(self, context):
        from ..engine.formats import livelinkface, motion_io

        path = blend_path(self.filepath, "motion file")
        obj = context.active_object
        rig_mapping.check_rig(obj) if rig_mapping.is_rig(obj) else retarget.shape_keys_of(obj)
        scene_writer.check_persistent(obj)
        weights = (livelinkface.read_csv(path) if path.lower().endswith(".csv")
                   else motion_io.load_motion_npy(path))
        head = head_motion_writer.head_file(path, len(weights))  # Live Link Face head columns, NAME.head.npy
        take = scene_writer.write_take(
            obj, weights, scene=context.scene, start_frame=self.start_frame,
            name=f"EmoTalk_{os.path.splitext(os.path.basename(path))[0]}",
            meta={"source": os.path.abspath(path)}, head=head)
        context.scene.emotalk.last_take = take.summary()
        self.report({"INFO"}, take.summary())
        return {"FINISHED"}


class EMOTALK_OT_export_motion(bpy.types.Operator, ExportHelper):
    """Export the active object's take (as it plays now) to .npy or Live Link Face CSV, 30 fps"""

    bl_idname = "emotalk.export_motion"
    bl_label = "Export motion (.npy / Live Link Face CSV)"

    filename_ext = ".npy"
    filter_glob: StringProperty(default="*.npy;*.csv", options={"HIDDEN"})
    check_extension = None  # both .npy and .csv are accepted as typed

    @reports_errors
    def execute(self, context):
        from ..engine.formats import livelinkface, motion_io

        from ..engine.atomic import check_writable

        path = blend_path(self.filepath, "export file")
        check_writable(path)
        weights = scene_writer.read_take(context.active_object, scene=context.scene)
        if path.lower().endswith(".csv"):
            livelinkface.write_csv(path, weights, head=head_motion_writer.read_head(context.active_object,
                                                                                    context.scene))
        else:
            motion_io.save_motion_npy(path, weights)
        self.report({"INFO"}, f"Wrote {len(weights)} frames to {path}")
        return {"FINISHED"}


class _TakeOperator:
    """An operator on one take of the active object, named by its Action."""

    bl_options = {"REGISTER", "UNDO"}
    action: StringProperty(name="Take", description="Name of the take's Action")

    @reports_errors
    def execute(self, context):
        action = bpy.data.actions.get(self.action)
        if action is None:
            raise EmoTalkError(f"No take named {self.action!r}")
        self.run(context, action)
        return {"FINISHED"}


class EMOTALK_OT_use_take(_TakeOperator, bpy.types.Operator):
    """Play this take on the active object again (its sound strip and frame range too)"""

    bl_idname = "emotalk.use_take"
    bl_label = "Use take"

    def run(self, context, action):
        take = scene_writer.use_take(context.active_object, action, scene=context.scene)
        context.scene.emotalk.last_take = take.summary()


class EMOTALK_OT_delete_take(_TakeOperator, bpy.types.Operator):
    """Delete this take (its Action and sound strip); undo brings it back"""

    bl_idname = "emotalk.delete_take"
    bl_label = "Delete take"

    def run(self, context, action):
        scene_writer.delete_take(context.active_object, action, scene=context.scene)


class EMOTALK_OT_check_model(bpy.types.Operator):
    """Load the configured model and show which one is active (or why it does not load)"""

    bl_idname = "emotalk.check_model"
    bl_label = "Check model"

    def execute(self, context):
        self.report({"INFO"}, prefs.check_model())
        return {"FINISHED"}


class EMOTALK_OT_generate(_Generate, bpy.types.Operator):
    """Generate facial animation from a voice recording onto the active object's shape keys"""


class EMOTALK_OT_regenerate(_Generate, bpy.types.Operator):
    """Make a new take from this take's stored settings (audio, model, emotion, strengths...); any setting
    given here, or changed afterwards in Adjust Last Operation, replaces the stored one"""

    bl_idname = "emotalk.regenerate"
    bl_label = "Regenerate take"

    take: StringProperty(name="Take", description="Name of the take's Action whose settings are used")

    def _load(self):
        """The take's stored settings (each value checked) into every property not set by the caller."""
        action = bpy.data.actions.get(self.take)
        if action is None or not scene_writer.is_take(action):
            raise EmoTalkError(f"No take named {self.take!r}")
        for name, value in directing.stored_settings(action).items():
            if not self.properties.is_property_set(name):
                setattr(self, name, value)

    def prepare(self, context) -> GeneratePlan:
        self._load()
        return super().prepare(context)


# Scripts start from the defaults, not the last call's values (script_defaults.py).
for _op in (EMOTALK_OT_create_head, EMOTALK_OT_use_take, EMOTALK_OT_delete_take):
    script_defaults.skip_save(_op)
for _op in (EMOTALK_OT_generate, EMOTALK_OT_regenerate):  # the controls: as their table says (controls_props.py)
    script_defaults.skip_save(_op, names=("filepath", "start_frame", "checkpoint", "take"))
script_defaults.skip_save(EMOTALK_OT_import_motion, names=("start_frame",))  # the file browser keeps its path

classes = (EMOTALK_OT_generate, EMOTALK_OT_cancel, EMOTALK_OT_create_head, EMOTALK_OT_auto_map,
           EMOTALK_OT_import_motion, EMOTALK_OT_export_motion, EMOTALK_OT_use_take,
           EMOTALK_OT_delete_take, EMOTALK_OT_check_model, EMOTALK_OT_regenerate) + rigify_face.classes
