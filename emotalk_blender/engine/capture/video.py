"""Video in through the system ffmpeg: probe (ffprobe), stream RGB frames, read the audio track.

Frames come through a pipe as rawvideo rgb24, one at a time, so memory stays at one frame whatever
the length. Variable frame rate (phones record it) is made constant at the average rate by ffmpeg,
so frame ``i`` is at ``start + i / fps`` seconds. Audio comes out as mono 16 kHz float32.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from ..constants import SAMPLE_RATE
from .base import CaptureError

INSTALL_FFMPEG = "install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg)"


@dataclass(frozen=True)
class VideoInfo:
    """What ffprobe says about a video: frame size after rotation, rate, length, audio."""

    path: str
    width: int
    height: int
    fps: float
    fps_text: str  # the exact rate as ffmpeg writes it ("30000/1001")
    frames: int  # estimate (container count or duration x rate); decoding gives the true count
    duration: float  # seconds
    start: float  # first video timestamp, seconds
    has_audio: bool
    audio_start: float = 0.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CaptureError(f"{name} not found on PATH: {INSTALL_FFMPEG}")
    return path


def _float(value, default: float = 0.0) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if np.isfinite(out) else default


def _rotation(stream: dict) -> int:
    for side in stream.get("side_data_list", ()):
        if "rotation" in side:
            return int(_float(side["rotation"])) % 360
    return int(_float(stream.get("tags", {}).get("rotate"))) % 360


def check_file(path) -> str:
    """``path`` as a string when it is an existing file; a one-line CaptureError otherwise."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CaptureError(f"{path}: no such video file")
    if os.path.isdir(path):
        raise CaptureError(f"{path}: is a folder, not a video file")
    return path


def probe(path) -> VideoInfo:
    """The first video stream's size, rate, length, and whether there is an audio stream."""
    path = check_file(path)
    cmd = [_tool("ffprobe"), "-v", "error", "-show_streams", "-show_format", "-of", "json", path]
    run = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if run.returncode != 0:
        why = (run.stderr.strip().splitlines() or ["ffprobe failed"])[-1]
        raise CaptureError(f"{path}: not a readable video ({why.replace(path + ': ', '')})")
    data = json.loads(run.stdout or "{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    if video is None:
        raise CaptureError(f"{path}: has no video stream")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    rate_text = video.get("avg_frame_rate") or "0/0"
    if rate_text in ("0/0", "0/1"):
        rate_text = video.get("r_frame_rate") or "0/0"
    try:
        rate = Fraction(rate_text)
    except (ValueError, ZeroDivisionError):
        rate = Fraction(0)
    if rate <= 0:
        raise CaptureError(f"{path}: the video has no frame rate (a still image?)")
    duration = _float(video.get("duration")) or _float(data.get("format", {}).get("duration"))
    frames = int(_float(video.get("nb_frames"))) or int(round(duration * float(rate)))
    if frames <= 0:
        raise CaptureError(f"{path}: the video has no frames")
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if _rotation(video) in (90, 270):  # ffmpeg turns the frames upright when it decodes
        width, height = height, width
    if width <= 0 or height <= 0:
        raise CaptureError(f"{path}: the video has no frame size")
    return VideoInfo(path=path, width=width, height=height, fps=float(rate),
                     fps_text=f"{rate.numerator}/{rate.denominator}", frames=frames, duration=duration,
                     start=_float(video.get("start_time")), has_audio=audio is not None,
                     audio_start=_float(audio.get("start_time")) if audio else 0.0)


def _stderr_line(err, path: str) -> str:
    err.seek(0)
    lines = err.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1].replace(path + ": ", "") if lines else "ffmpeg failed"


def frames(info: VideoInfo) -> Iterator[np.ndarray]:
    """Every frame of ``info.path`` as an (H, W, 3) uint8 RGB array, at the constant rate ``info.fps``.

    Closing the iterator early (cancel) stops ffmpeg.
    """
    cmd = [_tool("ffmpeg"), "-nostdin", "-v", "error", "-i", info.path, "-map", "0:v:0", "-an", "-sn",
           "-fps_mode", "cfr", "-r", info.fps_text, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    size = info.width * info.height * 3
    with tempfile.TemporaryFile() as err:  # a pipe for stderr could fill up and stall ffmpeg
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, bufsize=size)
        count = 0
        try:
            while True:
                buf = proc.stdout.read(size)
                if len(buf) < size:
                    break
                count += 1
                yield np.frombuffer(buf, np.uint8).reshape(info.height, info.width, 3)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            code = proc.wait()
        if code != 0 or count == 0:
            raise CaptureError(f"{info.path}: cannot decode the video ({_stderr_line(err, info.path)})")


def read_audio(info: VideoInfo) -> np.ndarray | None:
    """The first audio stream as mono 16 kHz float32 (None when the video has none)."""
    if not info.has_audio:
        return None
    cmd = [_tool("ffmpeg"), "-nostdin", "-v", "error", "-i", info.path, "-map", "0:a:0", "-vn",
           "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"]
    with tempfile.TemporaryFile() as err:
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err)
        if run.returncode != 0:
            raise CaptureError(f"{info.path}: cannot decode the audio track ({_stderr_line(err, info.path)})")
    audio = np.frombuffer(run.stdout, np.float32).copy()
    if len(audio) == 0:
        return None
    if not np.isfinite(audio).all():
        raise CaptureError(f"{info.path}: the audio track holds NaN or infinite samples")
    return audio


def save_wav(path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Mono float samples as 16-bit PCM WAV, atomically (the standard library's ``wave``)."""
    pcm = (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) * 32767.0).round().astype("<i2")
    with atomic_open(path, "wb") as fh:
        with wave.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
    return Path(path)
