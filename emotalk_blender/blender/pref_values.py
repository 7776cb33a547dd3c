"""The add-on preferences as plain values, and the remembered model status (no UI here).

Read by the Preferences panel (``prefs.py``), the installer and the operators; kept apart from
``prefs.py`` so that the installer, which the panel draws, does not import the panel back.
"""
from __future__ import annotations

import bpy

from . import addon_name

_status: dict = {"checked": None}  # the last Check model's prefs.Status; None = not checked since the last change


def forget_status() -> None:
    _status["checked"] = None


def get(context=None) -> dict:
    """The preferences as plain values; defaults when the add-on is not enabled (scripts, tests)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(addon_name())
    prefs = addon.preferences if addon is not None else None

    def value(name, default):
        return getattr(prefs, name) if prefs is not None else default

    device = value("device", "AUTO")
    return {
        "checkpoint": bpy.path.abspath(value("checkpoint", "")) or None,
        "backend": value("backend", "AUTO").lower(),  # GenerateSettings.backend: auto, torch, numpy
        "device": None if device == "AUTO" else device,
        "precision": value("precision", "AUTO").lower(),  # GenerateSettings.precision: auto, fp32, bf16, fp16
        "template": bpy.path.abspath(value("template", "")) or None,
        "python_path": value("python_path", ""),
        "package_index": value("package_index", "").strip(),
    }
