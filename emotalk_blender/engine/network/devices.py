"""Which compute devices this machine has, and the check of a requested one before any work.

torch is optional: without it only ``cpu`` is available (the numpy backend).
"""
from __future__ import annotations

import re

from ..errors import EmoTalkError

_NAME = re.compile(r"^(cpu|mps|cuda)(?::(\d+))?$")


class DeviceError(EmoTalkError):
    """A device that is unknown or not present on this machine."""


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def available_devices() -> list[str]:
    """``cpu``, then ``cuda:0``.. for each CUDA device, then ``mps`` when present."""
    names = ["cpu"]
    torch = _torch()
    if torch is None:
        return names
    try:
        if torch.cuda.is_available():
            names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver answers with an error rather than False
        pass
    mps = getattr(torch.backends, "mps", None)
    try:
        if mps is not None and mps.is_available():
            names.append("mps")
    except Exception:
        pass
    return names


def check_device(name: str | None) -> str:
    """The canonical name of ``name`` (``cuda`` -> ``cuda:0``) if it is available, else a one-line DeviceError.

    ``None``, ``""`` and ``auto`` mean the default: the first CUDA device when present, else ``cpu``.
    """
    text = (name or "").strip().lower()
    if text == "cpu":  # the one answer that needs no torch import
        return "cpu"
    available = available_devices()
    if text in ("", "auto"):
        return next((d for d in available if d.startswith("cuda")), "cpu")
    listing = ", ".join(available)
    m = _NAME.match(text)
    if m is None:
        raise DeviceError(f"unknown device {name!r}; use cpu, cuda, cuda:N or mps (available here: {listing})")
    kind, index = m.group(1), m.group(2)
    if kind == "cpu":
        if index not in (None, "0"):
            raise DeviceError(f"device {name!r} does not exist; available here: {listing}")
        return "cpu"
    canonical = f"cuda:{index or 0}" if kind == "cuda" else kind
    if kind == "mps" and index not in (None, "0"):
        canonical = name
    if canonical not in available:
        why = "" if _torch() is not None else " (PyTorch is not installed: only the CPU is available)"
        raise DeviceError(f"device {name!r} is not available on this machine{why}; available here: {listing}")
    return canonical
