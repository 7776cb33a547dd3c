"""Add-on preferences: model checkpoint, device, default template set, where torch comes from.

torch is not bundled in the extension (see README, "Installing torch"): the add-on uses torch
from Blender's Python when present, else from a site-packages folder the user chooses here.
Nothing is downloaded at run time.
"""
from __future__ import annotations

import os
import sys

import bpy
from bpy.props import EnumProperty, StringProperty

from . import addon_name


def add_python_path(path: str) -> bool:
    """Put a user-chosen site-packages folder on sys.path (for torch); True when added."""
    path = bpy.path.abspath(path) if path else ""
    if path and os.path.isdir(path) and path not in sys.path:
        sys.path.append(path)
        return True
    return False


def _python_path_changed(self, context):
    add_python_path(self.python_path)


class EMOTALK_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = addon_name()

    checkpoint: StringProperty(
        name="Checkpoint", subtype="FILE_PATH",
        description="EmoTalk checkpoint (e.g. the released EmoTalk.pth); empty uses the shipped "
                    "default model")
    device: EnumProperty(
        name="Device", default="AUTO",
        items=(("AUTO", "Auto", "CUDA when available, else CPU"),
               ("cpu", "CPU", "Run on the CPU"),
               ("cuda", "CUDA", "Run on the NVIDIA GPU")))
    template: StringProperty(
        name="Default template set", subtype="FILE_PATH",
        description="Template set (.npz) used by Create head; empty uses the shipped default head")
    python_path: StringProperty(
        name="Python packages", subtype="DIR_PATH", update=_python_path_changed,
        description="Folder holding torch, scipy and soundfile (pip install --target FOLDER ...) "
                    "when Blender's own Python lacks them")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "checkpoint")
        layout.prop(self, "device")
        layout.prop(self, "template")
        layout.prop(self, "python_path")
        row = layout.row()
        row.label(text=status_line(), icon="INFO")
        row.operator("emotalk.check_model", text="", icon="FILE_REFRESH")


_status = {"text": "Model not checked yet (press the refresh button)"}


def status_line() -> str:
    return _status["text"]


def check_model() -> str:
    """Load the configured model once and remember which it is or why it does not load."""
    settings = get()
    try:
        from ..engine import pipeline
    except ImportError as exc:  # torch or scipy missing from Blender's Python
        text = f"Engine unavailable: {exc} (set Python packages in these preferences)"
    else:
        text = pipeline.model_status(settings["checkpoint"], settings["device"])
    _status["text"] = text
    return text


def get(context=None) -> dict:
    """The preferences as plain values; defaults when the add-on is not enabled (scripts, tests)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(addon_name())
    prefs = addon.preferences if addon is not None else None
    value = (lambda name, default: getattr(prefs, name) if prefs is not None else default)
    device = value("device", "AUTO")
    return {
        "checkpoint": bpy.path.abspath(value("checkpoint", "")) or None,
        "device": None if device == "AUTO" else device,
        "template": bpy.path.abspath(value("template", "")) or None,
        "python_path": value("python_path", ""),
    }


classes = (EMOTALK_AP_preferences,)
