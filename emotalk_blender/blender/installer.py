"""Install PyTorch from the Preferences: the operators and what the Preferences draw of it.

pip runs in a subprocess (``engine/install/pip_install.py``) with Blender's own Python into the extension's
user folder; a timer polls it and redraws the Preferences. In background mode there is no event
loop, so the operator waits for pip instead. The folder goes on ``sys.path`` at register().
"""
from __future__ import annotations

import importlib.util
import os
import sys

import bpy
from bpy.props import EnumProperty, StringProperty

from ..engine.install import pip_install
from . import addon_name

BUILD_ITEMS = tuple((key, f"{b.label} ({b.download})", f"PyTorch {b.label} build, {b.download} download")
                    for key, b in pip_install.TORCH_BUILDS.items())
_state: dict = {"job": None, "status": "", "module": "torch"}


def install_folder(create: bool = True) -> str:
    """Where Install PyTorch puts packages: the extension's user folder (kept across updates)."""
    try:
        return bpy.utils.extension_path_user(addon_name(), path="site-packages", create=create)
    except ValueError:  # enabled as a legacy add-on or from the source tree, not as an extension
        base = bpy.utils.user_resource("DATAFILES", path="emotalk_blender", create=create)
        path = os.path.join(base, "site-packages")
        if create:
            os.makedirs(path, exist_ok=True)
        return path


def log_path() -> str:
    return os.path.join(os.path.dirname(install_folder(create=False)), "install.log")


def add_install_folder() -> None:
    """Put an earlier install on sys.path (register(): torch installed last session is found)."""
    folder = install_folder(create=False)
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.append(folder)


def torch_found() -> bool:
    """Whether ``import torch`` would find a module, without importing it (safe in draw code)."""
    if "torch" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def running() -> bool:
    job = _state["job"]
    return job is not None and job.running


def status_text() -> str:
    """One line about PyTorch: the install in progress, its outcome, or whether torch is present."""
    job = _state["job"]
    if job is not None and job.running:
        return job.message
    if _state["status"]:
        return _state["status"]
    if "torch" in sys.modules:
        return f"PyTorch {getattr(sys.modules['torch'], '__version__', '')} is loaded"
    if torch_found():
        return "PyTorch is installed"
    return "PyTorch is not installed (the NumPy backend runs the default model)"


def log_tail(n: int = 6) -> list[str]:
    job = _state["job"]
    if job is not None:
        return job.tail(n)
    try:
        with open(log_path(), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f.readlines()[-n:]]
    except OSError:
        return []


def _finish(job: pip_install.PipInstall) -> str:
    result = job.result
    if result.ok:
        _ok, text = pip_install.activate(job.target, _state["module"])
    elif result.cancelled:
        text = "Install cancelled"
    else:
        text = f"Install failed: {result.reason}"
    _state["status"] = text
    from . import pref_values

    pref_values.forget_status()  # the model status may change now that torch is (or is not) there
    return text


def _redraw() -> None:
    for window in getattr(bpy.context.window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type in {"PREFERENCES", "VIEW_3D"}:
                area.tag_redraw()


def _poll():
    """Timer: redraw while pip runs; finish on the main thread when it is done."""
    job = _state["job"]
    if job is None:
        return None
    if job.running:
        _redraw()
        return 0.25
    _finish(job)
    _redraw()
    return None


def stop() -> None:
    """unregister(): cancel a running install and drop the timer."""
    job = _state["job"]
    if job is not None and job.running:
        job.cancel()
        job.wait(10)
    if bpy.app.timers.is_registered(_poll):
        bpy.app.timers.unregister(_poll)


class EMOTALK_OT_install_torch(bpy.types.Operator):
    """Download PyTorch with Blender's own Python into this extension's user folder"""

    bl_idname = "emotalk.install_torch"
    bl_label = "Install PyTorch"

    build: EnumProperty(name="Build", items=BUILD_ITEMS, default="cpu")
    # Scripts and tests may install another package the same way (from the configured index).
    packages: StringProperty(default="", options={"HIDDEN", "SKIP_SAVE"})
    module: StringProperty(default="torch", options={"HIDDEN", "SKIP_SAVE"})
    index: StringProperty(default="", options={"HIDDEN", "SKIP_SAVE"})  # another package's own index (PyPI)

    def execute(self, context):
        from . import pref_values

        if running():
            self.report({"ERROR"}, "An install is already running")
            return {"CANCELLED"}
        build = pip_install.TORCH_BUILDS[self.build]
        index = pref_values.get(context)["package_index"] or self.index or build.index_url
        index_url = pip_install.index_url_of(index)
        if pip_install.is_remote(index_url) and not bpy.app.online_access:
            self.report({"ERROR"}, "Online access is off: allow it in Preferences > System > Network "
                                   "to download PyTorch")
            return {"CANCELLED"}
        packages = self.packages.split() or [pip_install.TORCH_REQUIREMENT]
        _state["module"] = self.module or "torch"
        _state["status"] = ""
        job = pip_install.PipInstall(packages, install_folder(), index_url, log_path=log_path(),
                                     min_free_bytes=0 if self.packages else build.disk_bytes)
        _state["job"] = job.start()
        if bpy.app.background:  # no event loop: wait here
            job.wait()
            text = _finish(job)
            self.report({"INFO"} if job.result.ok else {"ERROR"}, text)
            return {"FINISHED"} if job.result.ok else {"CANCELLED"}
        bpy.app.timers.register(_poll, first_interval=0.25)
        self.report({"INFO"}, f"Installing PyTorch {build.label} ({build.download}) into {job.target}")
        return {"FINISHED"}


class EMOTALK_OT_cancel_install(bpy.types.Operator):
    """Stop the running PyTorch install"""

    bl_idname = "emotalk.cancel_install"
    bl_label = "Cancel Install"

    def execute(self, context):
        job = _state["job"]
        if job is not None and job.running:
            job.cancel()
        return {"FINISHED"}


class EMOTALK_OT_install_log(bpy.types.Operator):
    """Copy the full install log to the clipboard, or open it"""

    bl_idname = "emotalk.install_log"
    bl_label = "Install Log"

    action: EnumProperty(items=(("COPY", "Copy", "Copy the log to the clipboard"),
                                ("OPEN", "Open", "Open the log in the system's text viewer")))

    def execute(self, context):
        path = log_path()
        if not os.path.isfile(path):
            self.report({"ERROR"}, "No install log yet")
            return {"CANCELLED"}
        if self.action == "OPEN":
            bpy.ops.wm.path_open(filepath=path)
        else:
            with open(path, encoding="utf-8", errors="replace") as f:
                context.window_manager.clipboard = f.read()
            self.report({"INFO"}, f"Copied {path}")
        return {"FINISHED"}


def draw(layout, addon_prefs) -> None:
    """The Preferences' PyTorch box."""
    box = layout.box()
    box.label(text="PyTorch (the released checkpoint, NVIDIA GPUs)", icon="PACKAGE")
    box.label(text=status_text(), icon="INFO")
    job = _state["job"]
    if job is not None and job.running:
        row = box.row()
        row.progress(factor=job.fraction, type="BAR", text=job.message[:90])
        row.operator(EMOTALK_OT_cancel_install.bl_idname, text="", icon="CANCEL")
    else:
        row = box.row(align=True)
        row.prop(addon_prefs, "torch_build", text="")
        build = pip_install.TORCH_BUILDS[addon_prefs.torch_build]
        op = row.operator(EMOTALK_OT_install_torch.bl_idname, icon="IMPORT",
                          text=f"Install PyTorch ({build.download}, approximate)")
        op.build = addon_prefs.torch_build
        if not bpy.app.online_access:
            box.label(text="Online access is off (Preferences > System > Network)", icon="ERROR")
    box.prop(addon_prefs, "package_index")
    lines = log_tail(6)
    if lines:
        col = box.column(align=True)
        col.scale_y = 0.8
        for line in lines:
            col.label(text=line[:120])
        row = box.row(align=True)
        row.operator(EMOTALK_OT_install_log.bl_idname, text="Copy Log", icon="COPYDOWN").action = "COPY"
        row.operator(EMOTALK_OT_install_log.bl_idname, text="Open Log", icon="FILE_TEXT").action = "OPEN"
    box.label(text=f"Folder: {install_folder(create=False)}")


classes = (EMOTALK_OT_install_torch, EMOTALK_OT_cancel_install, EMOTALK_OT_install_log)
