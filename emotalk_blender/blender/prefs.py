"""Add-on preferences: model checkpoint, backend, device, default template set, where torch comes from.

The shipped default model runs on NumPy (a stock Blender has it); the released checkpoint and
GPUs need PyTorch, which *Install PyTorch* here downloads into the extension's user folder
(``installer.py``). An existing torch folder can still be set as *Python packages*.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import bpy
from bpy.props import EnumProperty, StringProperty

from ..engine.errors import EmoTalkError
from . import addon_name, installer
from .pref_values import _status, forget_status, get

TORCH_FORMATS = (".pt", ".pth", ".bin", ".ckpt")  # torch pickles: only the torch backend reads them
BACKEND_ITEMS = (("AUTO", "Auto", "PyTorch when installed, else NumPy"),
                 ("TORCH", "PyTorch", "PyTorch (the released checkpoint, CUDA)"),
                 ("NUMPY", "NumPy", "NumPy only: the default model on the CPU, nothing to install"))


def add_python_path(path: str) -> bool:
    """Put a user-chosen site-packages folder on sys.path (for torch); True when added."""
    path = bpy.path.abspath(path) if path else ""
    if path and os.path.isdir(path) and path not in sys.path:
        sys.path.append(path)
        return True
    return False


def _python_path_changed(self, context):
    add_python_path(self.python_path)
    forget_status()


def _model_changed(self, context):
    forget_status()


class EMOTALK_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = addon_name()

    checkpoint: StringProperty(
        name="Checkpoint", subtype="FILE_PATH", update=_model_changed,
        description="EmoTalk checkpoint (e.g. the released EmoTalk.pth, which needs PyTorch); empty "
                    "uses the shipped default model")
    backend: EnumProperty(name="Backend", default="AUTO", items=BACKEND_ITEMS, update=_model_changed)
    device: EnumProperty(
        name="Device", default="AUTO", update=_model_changed,
        items=(("AUTO", "Auto", "CUDA when available, else CPU"),
               ("cpu", "CPU", "Run on the CPU"),
               ("cuda", "CUDA", "Run on the NVIDIA GPU (PyTorch CUDA build)")))
    precision: EnumProperty(
        name="Precision", default="AUTO", update=_model_changed,
        items=(("AUTO", "Auto", "fp16 on CUDA, bf16 on CPUs with native bf16 (AVX-512 BF16, AMX), else fp32"),
               ("fp32", "fp32", "Full precision (the NumPy backend's only format)"),
               ("bf16", "bf16", "bfloat16: about 3x faster on CPUs with native bf16 (PyTorch)"),
               ("fp16", "fp16", "Half precision on CUDA (PyTorch)")))
    template: StringProperty(
        name="Default template set", subtype="FILE_PATH",
        description="Template set (.npz) used by Create head; empty uses the shipped default head")
    torch_build: EnumProperty(name="PyTorch build", items=installer.BUILD_ITEMS, default="cpu",
                              description="CPU build, or a CUDA build for NVIDIA GPUs (much larger)")
    package_index: StringProperty(
        name="Package index",
        description="pip index URL (or a local folder) for Install PyTorch; empty uses PyTorch's own "
                    "index for the chosen build")
    capture_model: StringProperty(
        name="Capture model", subtype="FILE_PATH",
        description="MediaPipe's face_landmarker.task (or a ResNet capture model) for Capture from video")
    python_path: StringProperty(
        name="Python packages", subtype="DIR_PATH", update=_python_path_changed,
        description="Another folder holding torch (pip install --target FOLDER torch), used as well")

    def draw(self, context):
        layout = self.layout
        try:
            layout.prop(self, "checkpoint")
            row = layout.row()
            row.prop(self, "backend")
            row.prop(self, "device")
            row.prop(self, "precision")
            layout.prop(self, "template")
            row = layout.row()
            shown = status(context)
            row.label(text=shown.text, icon="INFO" if shown.ok else "ERROR")
            row.operator("emotalk.check_model", text="", icon="FILE_REFRESH")
            installer.draw(layout, self)
            layout.prop(self, "python_path")
            from . import capture_ops

            capture_ops.draw_preferences(layout, self)
        except Exception as exc:  # draw code must never raise into the UI
            layout.label(text=f"EmoTalk preferences: {type(exc).__name__}: {exc}", icon="ERROR")


@dataclass(frozen=True)
class Status:
    """A line for the user and whether it is good news (the icon): data, not text to match."""
    text: str
    ok: bool = True


@dataclass(frozen=True)
class TorchMissing:
    """These settings need PyTorch and it is not installed: what needs it, and what to press."""
    what: str

    problem = property(lambda self: f"{self.what} needs PyTorch, which is not installed")
    remedy = "press Install PyTorch in Preferences > Add-ons > EmoTalk"

    def __str__(self) -> str:
        return f"{self.problem}: {self.remedy}"


def torch_missing(checkpoint: str | None, backend: str = "auto", device: str | None = None) -> TorchMissing | None:
    """What needs PyTorch when these settings do and it is not installed, else None."""
    checkpoint = checkpoint or ""
    torch_file = checkpoint.lower().endswith(TORCH_FORMATS)
    if not (torch_file or backend == "torch" or (device or "").startswith("cuda")) or installer.torch_found():
        return None
    return TorchMissing(os.path.basename(checkpoint) if torch_file else ("CUDA" if device else "The PyTorch backend"))


def missing_torch(context=None) -> TorchMissing | None:
    """``torch_missing`` for the configured preferences; never raises (the panels draw it)."""
    try:
        settings = get(context)
        return torch_missing(settings["checkpoint"], settings["backend"], settings["device"])
    except Exception:  # a draw must not fail over a status message
        return None


def check_torch(checkpoint: str | None, backend: str = "auto", device: str | None = None) -> None:
    """Before generating: a one-line EmoTalkError naming the missing piece and the button."""
    missing = torch_missing(checkpoint, backend, device)
    if missing:
        raise EmoTalkError(str(missing))


def status(context=None) -> Status:
    """The model status for the Preferences and the sidebar; never raises."""
    try:
        missing = missing_torch(context)
        if missing:
            return Status(str(missing), ok=False)
        return _status["checked"] or Status("Model not checked yet (press the refresh button)")
    except Exception as exc:  # shown as text, never a traceback in a panel
        return Status(f"Status unavailable: {type(exc).__name__}: {exc}", ok=False)


def status_line(context=None) -> str:
    """The model status as one line (scripts, tests)."""
    return status(context).text


def check_model() -> str:
    """Load the configured model once and remember which it is or why it does not load."""
    settings = get()
    missing = missing_torch()
    if missing:
        checked = Status(str(missing), ok=False)
    else:
        try:
            from ..engine import pipeline

            checked = Status(pipeline.model_status(settings["checkpoint"], settings["device"],
                                                   backend=settings["backend"], precision=settings["precision"]))
        except Exception as exc:  # shown to the user as text, never raised into a UI draw
            checked = Status(f"Not loaded: {type(exc).__name__}: {exc}", ok=False)
    _status["checked"] = checked
    return checked.text


classes = (EMOTALK_AP_preferences,)
