"""Capture of one video as an engine Job (the Blender operator polls it from its modal timer)."""
from __future__ import annotations

from ..jobs import Job
from .base import CaptureBackend
from .video import VideoInfo


class CaptureJob(Job):
    """``capture_video(info, backend)`` on a worker thread; the backend is closed when the work ends."""

    def __init__(self, info: VideoInfo, backend: CaptureBackend, smooth: bool = True):
        self.info, self.backend, self.smooth = info, backend, smooth
        super().__init__(self._capture, name="EmoTalk capture")

    def _capture(self, progress, cancel):
        from .capture import capture_video

        try:
            return capture_video(self.info, self.backend, smooth=self.smooth, progress=progress, cancel=cancel)
        finally:
            self.backend.close()
