"""The Blender side: properties, preferences, operators, panels and scene writing; imports bpy and ``engine``.

Registration attaches PropertyGroups to Scene, Object and WindowManager; unregistration removes
every class, property, timer and handler it added (a running Generate job is cancelled first).
"""
from __future__ import annotations

from contextlib import suppress


def addon_name() -> str:
    """The module name Blender knows the add-on by (``bl_ext.<repo>.<id>`` as an extension)."""
    parts = __package__.split(".")
    return ".".join(parts[:3]) if parts[0] == "bl_ext" else parts[0]


def _classes():
    from . import capture_ops, head_identity, installer, operators, panels, prefs, props

    return (props.classes + prefs.classes + installer.classes + operators.classes + panels.classes
            + capture_ops.classes + head_identity.classes)


_registered = []


def register():
    import bpy

    from . import capture_ops, installer, prefs, props

    classes = _classes()
    bpy.utils.register_classes_factory(classes)[0]()
    _registered[:] = classes
    for owner, attr, group in (*props.POINTERS, *capture_ops.POINTERS):
        setattr(owner, attr, bpy.props.PointerProperty(type=group))
    prefs.add_python_path(prefs.get()["python_path"])
    installer.add_install_folder()  # torch installed from the Preferences in an earlier session


def unregister():
    import bpy

    from . import capture_ops, installer, operators, props

    operators.stop_all_jobs()
    installer.stop()
    for owner, attr, _ in (*props.POINTERS, *capture_ops.POINTERS):
        with suppress(AttributeError):  # register() may have stopped before adding it
            delattr(owner, attr)
    bpy.utils.register_classes_factory(tuple(_registered))[1]()
    _registered.clear()
