"""The head and eye rotation columns of a Live Link Face CSV, from and to a take (numpy only).

Units and signs, as the app writes them (measured on the real take in the test fixture
/work/shared/data/livelinkface: its eye columns against its eyeLook blendshapes): radians; eye yaw
> 0 looks toward the character's right (LeftEyeYaw follows EyeLookInLeft, RightEyeYaw follows
EyeLookOutRight), eye pitch > 0 looks down; about 0.6 rad (35 degrees) for a look weight of 1 there,
``gaze.LOOK_RANGE_DEG`` here, so that a take's eyes survive the round trip. The head columns take
the same signs (yaw > 0 to the character's right, pitch > 0 chin down) and roll > 0 toward the
character's right shoulder: each the negative of the take's head motion (engine/direction/head_motion.py,
degrees, > 0 to the left, chin up, toward the left shoulder). The fixture's head columns are all
zero, so the head signs follow the eyes' rather than a measurement.
"""
from __future__ import annotations

import csv
import math

import numpy as np

from ..arkit import INDEX
from ..constants import FPS
from ..direction.gaze import LOOK_RANGE_DEG
from .motion_io import MotionFileError
from ..motion.takes import resample

HEAD_COLUMNS = ("HeadYaw", "HeadPitch", "HeadRoll")
_K = math.radians(LOOK_RANGE_DEG)  # radians of eye rotation per unit of look weight


def rotation_columns(weights: np.ndarray, head: np.ndarray | None = None) -> np.ndarray:
    """(T, 9) radians in ROTATION_COLUMNS order: head yaw, pitch, roll; left eye yaw, pitch, roll;
    right eye yaw, pitch, roll (rolls of the eyes 0)."""
    w = np.asarray(weights, np.float64)
    out = np.zeros((len(w), 9))
    if head is not None:
        h = np.radians(np.asarray(head, np.float64)[:len(w)])
        out[:len(h), 0] = -h[:, 1]  # yaw: ours > 0 is to the left
        out[:len(h), 1] = -h[:, 0]  # pitch: ours > 0 is chin up
        out[:len(h), 2] = -h[:, 2]  # roll: ours > 0 is toward the left shoulder
    c = {n: w[:, INDEX[n]] for n in INDEX if n.startswith("eyeLook")}
    out[:, 3] = (c["eyeLookInLeft"] - c["eyeLookOutLeft"]) * _K
    out[:, 4] = (c["eyeLookDownLeft"] - c["eyeLookUpLeft"]) * _K
    out[:, 6] = (c["eyeLookOutRight"] - c["eyeLookInRight"]) * _K
    out[:, 7] = (c["eyeLookDownRight"] - c["eyeLookUpRight"]) * _K
    return out


def head_from_columns(columns: np.ndarray) -> np.ndarray:
    """(T, 3) HeadYaw, HeadPitch, HeadRoll radians -> the take's (T, 3) pitch, yaw, roll degrees."""
    c = np.degrees(np.asarray(columns, np.float64))
    return np.stack([-c[:, 1], -c[:, 0], -c[:, 2]], axis=1).astype(np.float32)


def read_head(path, timecode_fps: int | None = None) -> np.ndarray | None:
    """The head rotation of a Live Link Face CSV as the take's (T, 3) degrees at 30 fps (the grid
    ``livelinkface.read_csv`` resamples to), or None when the file has no head columns or they are
    all zero (the app with head rotation off)."""
    from .livelinkface import read_csv_timed

    times, _ = read_csv_timed(path, timecode_fps)  # checks the file, and the rows' times
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    column = {name.strip().lower(): i for i, name in enumerate(rows[0])}
    if not all(n.lower() in column for n in HEAD_COLUMNS):
        return None
    cols = [column[n.lower()] for n in HEAD_COLUMNS]
    try:
        raw = np.array([[float(row[c]) for c in cols] for row in rows[1:]])
    except (ValueError, IndexError) as exc:
        raise MotionFileError(f"{path}: a head rotation is not a number ({exc})") from None
    if not np.isfinite(raw).all():
        raise MotionFileError(f"{path}: a head rotation is not finite")
    if not raw.any():
        return None
    times = times - times[0]
    count = int(np.floor(times[-1] * FPS + 1e-6)) + 1
    return head_from_columns(resample(raw, times, np.arange(count) / FPS))
