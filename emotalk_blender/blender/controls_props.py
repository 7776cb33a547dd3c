"""The bpy properties of the generate controls, built from their table (engine/controls.py).

The scene's settings (the sidebar) and the Generate/Regenerate operators take the same properties;
the operators' are SKIP_SAVE unless the control's row says a script inherits it (script_defaults.py
says why), so a batch script's call starts from the defaults.
"""
from __future__ import annotations

from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..engine.controls import CONTROLS, Control
from . import compat


def _prop(c: Control, skip_save: bool):
    extra = {"SKIP_SAVE"} if skip_save and not c.inherit else set()
    common = {"name": c.label, "description": c.help}
    if c.kind == "path":
        return StringProperty(**common, subtype=c.subtype or "FILE_PATH",
                              options=compat.blend_relative_path(*extra))
    options = ({"HIDDEN"} if c.hidden else {"ANIMATABLE"}) | extra
    if c.kind == "float":
        return FloatProperty(**common, default=c.default, min=c.low, max=c.high, subtype=c.subtype or "NONE",
                             options=options)
    if c.kind == "int":
        bounds = {"min": int(c.low)} if c.low is not None else {}
        if c.high is not None:
            bounds["max"] = int(c.high)
        return IntProperty(**common, default=c.default, options=options, **bounds)
    if c.kind == "bool":
        return BoolProperty(**common, default=c.default, options=options)
    if c.kind == "enum":
        items = [i if not isinstance(i, str) else (i, i.title(), "") for i in c.items]
        return EnumProperty(**common, items=items, default=c.default, options=options)
    return StringProperty(**common, default=c.default, options=options)


def properties(skip_save: bool) -> dict:
    """{control name: bpy property} of every control (``skip_save``: the operators' kind)."""
    return {c.name: _prop(c, skip_save) for c in CONTROLS}


def mixin(name: str, skip_save: bool) -> type:
    """A class holding the controls' properties as annotations, for a PropertyGroup or an Operator to inherit."""
    return type(name, (), {"__annotations__": properties(skip_save), "__module__": __name__})


SceneControls = mixin("SceneControls", skip_save=False)  # the sidebar's (kept in the .blend, animatable)
OperatorControls = mixin("OperatorControls", skip_save=True)  # Generate's and Regenerate's
