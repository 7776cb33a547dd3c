"""Where a model's emotion presets are read and written, and what a presets clip must hold.

Nothing is ever written inside the installed extension (its shipped model and presets stay as shipped):

- a user's own checkpoint (``--checkpoint X``): its presets live beside it, ``X.presets.npz``;
- a shipped model: presets made for it go to the user folder, ``USER_DIR/presets/NAME.presets.npz``, which
  ``--emotion`` and the sidebar then read instead of the shipped file (it starts as a copy of the shipped
  emotions, so the ones not made again are kept).

``USER_DIR`` is ``$EMOTALK_USER_DIR`` when set, else the platform's per-user data folder
(``~/.local/share/emotalk_blender`` on Linux, ``~/Library/Application Support/emotalk_blender`` on macOS,
``%APPDATA%\\emotalk_blender`` on Windows). numpy only.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from .. import paths
from .emotion_parsing import EmotionError
from .presets_file import PRESETS_SUFFIX, Presets, load_presets, presets_path

USER_DIR_ENV = "EMOTALK_USER_DIR"
SILENCE_DBFS = -50.0  # a clip whose loudest 50 ms stays below this holds no speech to take an emotion from
_WINDOW = 800  # 50 ms at 16 kHz


def user_dir() -> Path:
    """The per-user data folder (``$EMOTALK_USER_DIR`` first)."""
    if os.environ.get(USER_DIR_ENV):
        return Path(os.environ[USER_DIR_ENV])
    if os.name == "nt":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "emotalk_blender"


def _shipped_folders() -> tuple[Path, ...]:
    return paths.PACKAGE_DIR.resolve(), paths.resource("models").resolve()


def is_shipped(path) -> bool:
    """Whether ``path`` lies inside the installed extension (or the repository's shipped models folder)."""
    try:
        p = Path(path).resolve()
    except (OSError, ValueError):  # a NUL in the name, a symlink loop: no such file, nothing shipped
        return False
    return any(p == f or f in p.parents for f in _shipped_folders())


def user_presets_path(checkpoint) -> Path:
    return user_dir() / "presets" / presets_path(checkpoint).name


def read_path(checkpoint) -> Path:
    """The presets file ``--emotion`` reads for ``checkpoint``: for a shipped model the user's own when made."""
    if is_shipped(checkpoint):
        user = user_presets_path(checkpoint)
        if user.is_file():
            return user
    return presets_path(checkpoint)


def write_path(checkpoint, output=None) -> Path:
    """Where ``presets`` writes: ``output`` (a ``.npz`` outside the extension), else beside a user's
    checkpoint, else (a shipped model) the user folder. EmotionError naming the file otherwise."""
    if output is None:
        return user_presets_path(checkpoint) if is_shipped(checkpoint) else presets_path(checkpoint)
    if "\0" in str(output):
        raise EmotionError(f"{output!r}: a file name cannot hold a NUL character")
    target = Path(output)
    if not target.name.endswith(".npz"):
        raise EmotionError(f"{target}: a presets file is NAME{PRESETS_SUFFIX}, not {target.suffix or 'a bare name'}")
    if is_shipped(target):
        raise EmotionError(f"{target}: inside the installed extension, whose files stay as shipped; write the "
                           f"presets elsewhere (default for the shipped model: {user_presets_path(checkpoint)})")
    return target


def base_path(checkpoint, target: Path) -> Path | None:
    """The presets the new ones are added to: the target's own, else (the user file of a shipped model) the
    shipped ones; None when there are none."""
    if target.is_file():
        return target
    shipped = presets_path(checkpoint)
    if target == user_presets_path(checkpoint) and shipped.is_file():
        return shipped
    return None


def check_speech(audio: np.ndarray, path) -> None:
    """EmotionError unless the clip's loudest 50 ms reaches SILENCE_DBFS (a preset from silence is no emotion)."""
    audio = np.asarray(audio, np.float64)
    n = len(audio) // _WINDOW * _WINDOW
    frames = audio[:n].reshape(-1, _WINDOW) if n else audio[None, :]
    loudest = float(np.sqrt((frames ** 2).mean(axis=1)).max()) if audio.size else 0.0
    level = 20 * np.log10(loudest) if loudest > 0 else -np.inf
    if level < SILENCE_DBFS:
        raise EmotionError(f"{path}: silent (its loudest 50 ms is {level:.0f} dBFS, below {SILENCE_DBFS:.0f}); "
                           "a preset needs speech in that emotion")


def check_dim(presets, emotion_dim: int, path) -> None:
    """EmotionError when presets already in ``path`` are of another model (another feature size)."""
    for name, v in presets.features.items():
        if v.shape != (emotion_dim,):
            raise EmotionError(f"{path}: holds presets of {v.shape[-1]} features ({name}), this model makes "
                               f"{emotion_dim}: they are another model's; choose another -o")


# --- a take's presets, read once ----------------------------------------------------------------
_PRESETS: dict = {}


def presets_for(checkpoint: str | os.PathLike) -> tuple[Path, Presets]:
    """The presets beside ``checkpoint`` (cached by file and mtime)."""
    path = read_path(checkpoint)  # a shipped model's: the user's own presets when made (above)
    try:
        key = (os.path.realpath(path), os.path.getmtime(path))
    except OSError:
        key = None
    if key is None or key not in _PRESETS:
        presets = load_presets(path)  # a missing file raises here, naming it
        _PRESETS.clear()
        _PRESETS[key] = presets
    return path, _PRESETS[key]
