"""The Blender side: properties, preferences, operators and the sidebar, over the engine.

Registration attaches PropertyGroups to Scene, Object and WindowManager; unregistration removes
every class, property, timer and handler it added (a running Generate job is cancelled first).
"""
from __future__ import annotations


def addon_name() -> str:
    """The module name Blender knows the add-on by (``bl_ext.<repo>.<id>`` as an extension)."""
    parts = __package__.split(".")
    return ".".join(parts[:3]) if parts[0] == "bl_ext" else parts[0]


def _classes():
    from . import operators, panels, prefs, props

    return props.classes + prefs.classes + operators.classes + panels.classes


_registered = []


def register():
    import bpy

    from . import prefs, props

    classes = _classes()
    bpy.utils.register_classes_factory(classes)[0]()
    _registered[:] = classes
    for owner, attr, group in props.POINTERS:
        setattr(owner, attr, bpy.props.PointerProperty(type=group))
    prefs.add_python_path(prefs.get()["python_path"])


def unregister():
    import bpy

    from . import operators, props

    operators.stop_all_jobs()
    for owner, attr, _ in props.POINTERS:
        if hasattr(owner, attr):
            delattr(owner, attr)
    bpy.utils.register_classes_factory(tuple(_registered))[1]()
    _registered.clear()
