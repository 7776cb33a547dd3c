"""Where shipped resources live: beside the package when installed as an extension, else in the repo."""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # emotalk_blender/
REPO_DIR = PACKAGE_DIR.parent


def resource(*parts: str) -> Path:
    """``models/...`` or ``flame_templates/...``: inside the installed extension, else at the repo root."""
    for base in (PACKAGE_DIR, REPO_DIR):
        p = base.joinpath(*parts)
        if p.exists():
            return p
    return REPO_DIR.joinpath(*parts)


def default_checkpoint() -> Path:
    """The small default model the project trains and ships (safetensors: read with or without torch)."""
    return resource("models", "emotalk_default.safetensors")
