"""A video into a take: per-frame capture, faceless frames filled, 30 fps, Savitzky-Golay 5/2.

The steps of the 3D-ETF construction (the EmoTalk supplement): the video on a 30 fps grid, 52
values per frame, Savitzky-Golay (window 5, order 2), paired with the audio. The grid is on the
audio's clock: frame k is at k / 30 s after the first audio sample and, with audio, the take has
``frames_for_samples(len(audio))`` frames, as every EmoTalk take.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..arkit import NUM_BLENDSHAPES
from ..constants import FPS, frames_for_samples
from ..errors import Cancelled
from ..motion.postprocess import smooth as savgol_smooth
from ..motion.takes import resample
from . import video
from .base import CaptureBackend, CaptureError, fit_crop

Progress = Callable[[float, str], None]


@dataclass
class Capture:
    """A captured take: (T, 52) float32 at 30 fps in the released order, and what it came from."""

    weights: np.ndarray
    audio: np.ndarray | None  # mono 16 kHz float32, None when the video has no audio
    info: video.VideoInfo
    video_frames: int  # frames decoded
    faceless: int  # of those, frames without a face (filled from their neighbours)
    backend: str
    missing_channels: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        """One line for the CLI and the Blender status bar."""
        parts = [f"{len(self.weights)} frames at {FPS} fps from {self.video_frames} video frames "
                 f"({self.info.fps:.3g} fps, {self.backend})",
                 f"{self.faceless} without a face (filled from neighbours)"]
        if self.missing_channels:
            parts.append(f"{', '.join(self.missing_channels)} not captured by {self.backend} (left 0)")
        if self.audio is None:
            parts.append("no audio track: length from the video, no sound")
        return "; ".join(parts + self.notes)


def fill_faceless(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Rows where ``found`` is False, linearly interpolated from the nearest found rows (edges held)."""
    if found.all():
        return values
    idx = np.arange(len(values))
    good = np.flatnonzero(found)
    out = values.copy()
    for c in range(values.shape[1]):
        out[~found, c] = np.interp(idx[~found], good, values[good, c])
    return out


def take_length(info: video.VideoInfo, audio: np.ndarray | None, video_frames: int) -> int:
    """Frames of the take: the audio's frame count, or without audio the video's length at 30 fps."""
    if audio is not None:
        return frames_for_samples(len(audio))
    return max(1, math.ceil(video_frames / info.fps * FPS - 1e-9))


def to_take(values: np.ndarray, info: video.VideoInfo, audio: np.ndarray | None, smooth: bool = True) -> np.ndarray:
    """Per-video-frame weights (N, 52) at ``info.fps`` -> the take (T, 52) at 30 fps on the audio clock."""
    offset = (info.start - info.audio_start) if audio is not None else 0.0
    times = offset + np.arange(len(values)) / info.fps
    grid = np.arange(take_length(info, audio, len(values))) / FPS
    out = resample(values, times, grid)
    if smooth:
        out = savgol_smooth(out)
    # Capture weights are in 0..1; the smoothing's overshoot at sharp edges is not a pose.
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def prepare(path) -> video.VideoInfo:
    """Checks on one video before any long work: the file, ffmpeg, a video stream with a rate."""
    return video.probe(path)


def capture_video(info: video.VideoInfo | str, backend: CaptureBackend, *, smooth: bool = True,
                  progress: Progress | None = None, cancel: threading.Event | None = None) -> Capture:
    """Capture every frame of a video with ``backend`` and turn the result into a take.

    Raises CaptureError when no frame has a face, Cancelled when ``cancel`` is set.
    """
    if not isinstance(info, video.VideoInfo):
        info = video.probe(info)
    fit_crop(getattr(backend, "crop", None), info.width, info.height, info.path, flag="crop")  # before any frame
    audio = video.read_audio(info)
    begin = getattr(backend, "begin_video", None)  # optional hook: tracking backends restart here
    if begin is not None:
        begin(info.fps)
    rows: list[np.ndarray] = []
    found: list[bool] = []
    empty = np.zeros(NUM_BLENDSHAPES, np.float32)
    stream = video.frames(info)
    try:
        for k, rgb in enumerate(stream):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            w = backend.weights(rgb)
            found.append(w is not None)
            rows.append(empty if w is None else np.asarray(w, np.float32).reshape(NUM_BLENDSHAPES))
            if progress is not None and k % 10 == 0:
                progress(min(0.99, k / max(1, info.frames)), f"frame {k + 1}/{info.frames}")
    finally:
        stream.close()
    mask = np.array(found, bool)
    if not mask.any():
        raise CaptureError(f"{info.path}: no face found in any of its {len(mask)} frames")
    values = fill_faceless(np.stack(rows), mask)
    weights = to_take(values, info, audio, smooth=smooth)
    if progress is not None:
        progress(1.0, "done")
    return Capture(weights=weights, audio=audio, info=info, video_frames=len(mask), faceless=int((~mask).sum()),
                   backend=getattr(backend, "name", type(backend).__name__),
                   missing_channels=tuple(getattr(backend, "missing_channels", ())))
