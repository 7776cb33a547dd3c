"""Takes as data: a (T, 52) weight array moved onto another time grid, and mixed onto a
character's own channels. numpy only (no bpy): the Blender writer, Live Link Face import and
video capture all resample through here.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..arkit import INDEX
from ..constants import FPS


def resample(values: np.ndarray, times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``values`` (T, C) sampled at increasing ``times`` -> (len(grid), C) float32, linear in time.

    Grid points outside ``times`` hold the first or last value.
    """
    values = np.asarray(values)
    out = np.empty((len(grid), values.shape[1]), np.float32)
    for c in range(values.shape[1]):
        out[:, c] = np.interp(grid, times, values[:, c])
    return out


def resampled_length(frames: int, fps: float, source_fps: float = FPS) -> int:
    """Frames at ``fps`` covering ``frames`` source frames: the last reaches (or just passes) the end."""
    return int(np.ceil((frames - 1) * fps / source_fps - 1e-9)) + 1


def resample_to_fps(weights: np.ndarray, fps: float, source_fps: float = FPS) -> np.ndarray:
    """A take at ``source_fps`` (default 30) on the ``fps`` grid: frame k is the motion at k / fps s.

    Keeps the take on the audio's clock. The same rate returns ``weights`` unchanged.
    """
    if abs(fps - source_fps) < 1e-9:
        return weights
    grid = np.arange(resampled_length(len(weights), fps, source_fps)) * (source_fps / fps)
    return resample(weights, np.arange(len(weights)), grid)


def source_frames(count: int, fps: float, start: float = 0.0, source_fps: float = FPS) -> np.ndarray:
    """Where ``count`` source frames (at ``source_fps``) fall on an ``fps`` timeline starting at ``start``."""
    return start + np.arange(count) * (fps / source_fps)


def mix_to_targets(weights: np.ndarray, channels: Mapping[str, tuple[str, float]]) -> dict[str, np.ndarray]:
    """Per target channel, the sum of the ARKit channels mapped to it, each scaled by its gain.

    ``weights`` is (T, 52) in the released order; ``channels`` maps an ARKit name to
    (target name, gain). Targets come out in the order they are first named.
    """
    mixed: dict[str, np.ndarray] = {}
    for arkit_name, (target, gain) in channels.items():
        curve = weights[:, INDEX[arkit_name]] * np.float32(gain)
        mixed[target] = mixed[target] + curve if target in mixed else curve
    return mixed
