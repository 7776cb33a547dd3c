"""Live Link Face CSV, the capture world's interchange format, read and written.

Layout: header ``Timecode,BlendShapeCount,EyeBlinkLeft,...,TongueOut,HeadYaw,...,RightEyeRoll``:
``Timecode``, ``BlendShapeCount`` (which holds 61), then 61 values: the 52 blendshapes in Apple's
order with PascalCase names, then 9 head and eye rotations.
Timecode is ``HH:MM:SS:FF.sss`` (frame number plus sub-frame fraction) at the timecode rate, which
is not the row rate: the iPhone writes a 60 fps timecode while rows may come at 30 per second.
Import therefore converts timecodes to seconds and resamples linearly onto the 30 fps grid.
"""
from __future__ import annotations

import csv
import numbers
import re
from pathlib import Path

import numpy as np

from ..arkit import APPLE_ORDER, INDEX, NUM_BLENDSHAPES, pascal
from ..atomic import atomic_open
from ..constants import FPS
from .motion_io import MotionFileError, check_motion
from ..motion.takes import resample

# The 9 rotation columns that follow the blendshapes, in radians (llf_rotations.py: the head motion and
# eye rotations; zeros when a take has no head motion).
ROTATION_COLUMNS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
                    "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
VALUE_COLUMNS = tuple(pascal(n) for n in APPLE_ORDER) + ROTATION_COLUMNS
HEADER = ("Timecode", "BlendShapeCount") + VALUE_COLUMNS

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{1,2}):(\d{1,2})[:;.](\d{1,6})(?:\.(\d{1,12}))?$", re.ASCII)
_TIMECODE_RATES = (24, 25, 30, 48, 50, 60)
MAX_VALUE = 10.0  # blendshape weights are 0..1; far beyond is not a weight (and 1e300 overflows float32)
MAX_FRAMES = 1 << 20  # ~9.7 h at 30 fps (about Blender's frame range): a longer span is a broken timecode


def _parse_timecode(text: str, where: str):
    m = _TIMECODE.match(text.strip())
    if not m:
        raise MotionFileError(f"{where}: bad timecode {text!r} (expected HH:MM:SS:FF.sss)")
    h, mi, s, f = (int(g) for g in m.groups()[:4])
    if h > 23 or mi > 59 or s > 59:
        raise MotionFileError(f"{where}: bad timecode {text!r} (hours 0..23, minutes and seconds 0..59)")
    frac = float("0." + m.group(5)) if m.group(5) else 0.0
    return h * 3600 + mi * 60 + s, f + frac


def _timecode_rate(seconds: np.ndarray, frames: np.ndarray, path) -> int:
    """The timecode's frame rate: the frame count just before a seconds rollover, else a guess."""
    rollover = np.nonzero(np.diff(seconds) > 0)[0]
    top = frames.max()
    if len(rollover):
        top = max(top, frames[rollover].max())
    # The smallest standard rate above every frame number seen; 30 when frames stay below 30.
    for rate in _TIMECODE_RATES:
        if rate > top and rate >= 30:
            return rate
    for rate in _TIMECODE_RATES:
        if rate > top:
            return rate
    raise MotionFileError(f"{path}: timecode frame number {top:g} is above every standard rate "
                          f"({', '.join(map(str, _TIMECODE_RATES))} fps)")


def read_csv(path, timecode_fps: int | None = None) -> np.ndarray:
    """Read a Live Link Face CSV into (T, 52) float32 at 30 fps in the released order.

    ``timecode_fps`` is the timecode's frame rate; None infers it from the frame numbers.
    """
    times, raw = read_csv_timed(path, timecode_fps)
    times = times - times[0]
    count = int(np.floor(times[-1] * FPS + 1e-6)) + 1
    if count > MAX_FRAMES:
        raise MotionFileError(f"{path}: its timecodes span {times[-1]:.0f} s, more than {MAX_FRAMES} frames at "
                              f"{FPS} fps: the timecode is broken")
    return check_motion(resample(raw, times, np.arange(count) / FPS), str(path))


def read_csv_timed(path, timecode_fps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times, rows) of a Live Link Face CSV: each row's timecode in seconds of the day (increasing),
    and its (N, 52) float64 values in the released order, not resampled (to match a video's timecode).
    """
    path = Path(path)
    if timecode_fps is not None and (isinstance(timecode_fps, bool) or not isinstance(timecode_fps, numbers.Integral)
                                     or timecode_fps <= 0):
        raise MotionFileError(f"{path}: timecode rate {timecode_fps!r} is not a positive whole number")
    if not path.is_file():
        raise MotionFileError(f"{path}: no such Live Link Face CSV")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionFileError(f"{path}: unreadable ({exc})") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise MotionFileError(f"{path}: no data rows (needs a header and at least one row)")
    header = [c.strip() for c in rows[0]]
    for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if len(header) == 1 and sep in header[0]:
            raise MotionFileError(f"{path}: fields separated by {name}; a Live Link Face CSV separates them by "
                                  "commas (re-export it, or replace the separator)")
    if not header or header[0] != "Timecode":
        raise MotionFileError(f"{path}: not a Live Link Face CSV (first column must be Timecode)")
    column = {name.lower(): i for i, name in enumerate(header)}
    missing = [pascal(n) for n in APPLE_ORDER if pascal(n).lower() not in column]
    if missing:
        raise MotionFileError(f"{path}: missing blendshape columns {', '.join(missing)}")
    cols = [column[pascal(n).lower()] for n in APPLE_ORDER]
    targets = [INDEX[n] for n in APPLE_ORDER]

    n = len(rows) - 1
    secs = np.empty(n, np.int64)
    frames = np.empty(n, np.float64)
    raw = np.zeros((n, NUM_BLENDSHAPES), np.float64)
    for r, row in enumerate(rows[1:]):
        where = f"{path}: row {r + 2}"
        if len(row) < len(header):
            raise MotionFileError(f"{where}: {len(row)} columns, header has {len(header)}")
        secs[r], frames[r] = _parse_timecode(row[0], where)
        try:
            values = [float(row[c]) for c in cols]
        except ValueError as exc:
            raise MotionFileError(f"{where}: not a number ({exc})") from None
        for c, v in zip(cols, values):
            if not abs(v) <= MAX_VALUE:  # NaN too
                raise MotionFileError(f"{where}: {header[c]} value {v:g} is not a blendshape weight (expected 0..1)")
        raw[r, targets] = values
    rate = timecode_fps or _timecode_rate(secs, np.floor(frames), path)
    times = secs + frames / rate
    # Midnight rollover during a take: keep time increasing.
    times = times + 86400.0 * np.concatenate([[0], np.cumsum(np.diff(times) < -43200)])
    if np.any(np.diff(times) <= 0):
        bad = int(np.nonzero(np.diff(times) <= 0)[0][0]) + 3
        raise MotionFileError(f"{path}: row {bad}: timecode does not increase "
                              f"(timecode rate {rate} fps)")
    return times, raw


def _format_timecode(total_frames: int, rate: int, start_seconds: int) -> str:
    secs, frame = divmod(total_frames, rate)
    secs += start_seconds
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h % 24:02d}:{m:02d}:{s:02d}:{frame:02d}.000"


def write_csv(path, weights, timecode_fps: int = 60, start_seconds: int = 0, head=None) -> Path:
    """Write (T, 52) released-order weights at 30 fps as a Live Link Face CSV.

    Timecodes follow the iPhone app (a 60 fps timecode by default, two timecode frames per row).
    The rotation columns: the head from ``head`` ((T, 3) degrees, engine/direction/head_motion.py; zeros
    without), the eyes from the eyeLook weights (llf_rotations.py). Blendshape values are clamped
    to 0..1, the range Live Link Face consumers expect (the network can overshoot slightly, e.g.
    -0.09); ``.npy`` keeps them raw.
    """
    from .llf_rotations import rotation_columns

    path = Path(path)
    arr = np.clip(check_motion(weights, str(path)), 0.0, 1.0)
    rotations = rotation_columns(arr, head)
    if isinstance(timecode_fps, bool) or not isinstance(timecode_fps, numbers.Integral) or timecode_fps <= 0 \
            or timecode_fps % FPS:
        raise MotionFileError(f"{path}: timecode rate {timecode_fps!r} is not a positive multiple of {FPS}")
    if isinstance(start_seconds, bool) or not isinstance(start_seconds, numbers.Integral) or start_seconds < 0:
        raise MotionFileError(f"{path}: start_seconds {start_seconds!r} is not a whole number >= 0")
    step = timecode_fps // FPS
    order = [INDEX[n] for n in APPLE_ORDER]
    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(HEADER)
        for t, (frame, rot) in enumerate(zip(arr[:, order], rotations)):
            out.writerow([_format_timecode(t * step, timecode_fps, start_seconds), len(VALUE_COLUMNS)]
                         + [f"{v:.10f}" for v in frame] + [f"{v:.10f}" for v in rot])
    return path
