"""MediaPipe's Face Landmarker with blendshapes as a capture backend (PyPI ``mediapipe``, Apache-2.0).

The model bundle ``face_landmarker.task`` is not in the wheel: the user points ``--capture-model`` or
the Preferences at it. It gives ``_neutral`` plus 51 of the 52 ARKit names; tongueOut stays 0.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import numpy as np

from ..arkit import INDEX, NUM_BLENDSHAPES
from .base import CaptureError, Crop, clamp_crop

INSTALL_HINT = ("install it with `pip install -r requirements-capture.txt` (mediapipe 1.2.3), or in Blender "
                "with Preferences > Install MediaPipe")
MODEL_HINT = "point --capture-model (or Preferences > Capture model) at MediaPipe's face_landmarker.task"
MISSING_CHANNELS = ("tongueOut",)  # MediaPipe's blendshape head has no tongue


def import_mediapipe():
    """The ``mediapipe`` module, or a CaptureError saying how to install it."""
    try:
        import mediapipe
        from mediapipe.tasks.python import vision  # noqa: F401  (the part we use must import too)
    except ImportError as exc:
        broken = exc.name is not None and exc.name != "mediapipe" and not exc.name.startswith("mediapipe.")
        why = f"mediapipe does not import ({exc})" if broken else "the mediapipe package is not installed"
        raise CaptureError(f"the MediaPipe capture backend is unavailable: {why}; {INSTALL_HINT}") from None
    return mediapipe


@contextmanager
def _quiet_native_stderr():
    """MediaPipe's C++ side prints start-up INFO/WARNING lines straight to fd 2: hide those."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (Blender on Windows)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def check_model(model_path) -> str:
    """``model_path`` as a string when it names an existing file; a one-line CaptureError otherwise."""
    if not model_path:
        raise CaptureError(f"no MediaPipe model file given: {MODEL_HINT}")
    path = os.fspath(model_path)
    if not os.path.isfile(path):
        raise CaptureError(f"{path}: no such MediaPipe model file ({MODEL_HINT})")
    return path


class MediaPipeBackend:
    """Face Landmarker in VIDEO mode (tracking between frames); one face, the first found."""

    name = "mediapipe"
    missing_channels = MISSING_CHANNELS

    def __init__(self, model_path, crop: Crop | None = None, head_pose: bool = False):
        path = check_model(model_path)
        mp = import_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self.crop = crop  # checked against each video's size by capture_video
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=path), running_mode=vision.RunningMode.VIDEO,
            num_faces=1, output_face_blendshapes=True, output_facial_transformation_matrixes=head_pose)
        try:
            with _quiet_native_stderr():
                self._landmarker = vision.FaceLandmarker.create_from_options(options)
                # the first frame logs too: run it on a blank image while stderr is hidden
                self._landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                           data=np.zeros((64, 64, 3), np.uint8)), 0)
        except (RuntimeError, ValueError) as exc:
            raise CaptureError(f"{path}: not a MediaPipe Face Landmarker model ({exc})") from None
        self._time_ms = 1000.0
        self._step_ms = 1000.0 / 30.0
        self._order: list[int] | None = None  # category position -> ARKit index (-1: not ours)
        self.head_pose = head_pose
        self.last_matrix: np.ndarray | None = None  # with head_pose: the last frame's face-to-camera 4x4

    def begin_video(self, fps: float) -> None:
        """Frames that follow are a new video at ``fps``: timestamps keep rising, with a gap."""
        self._step_ms = 1000.0 / float(fps)
        self._time_ms += 1000.0

    def weights(self, rgb: np.ndarray) -> np.ndarray | None:
        if self.crop is not None:
            inside = clamp_crop(self.crop, rgb.shape[1], rgb.shape[0])
            if inside is None:  # an empty image is a native RET_CHECK failure, not "no face"
                return None
            x, y, w, h = inside
            rgb = rgb[y:y + h, x:x + w]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._landmarker.detect_for_video(image, int(round(self._time_ms)))
        self._time_ms += self._step_ms
        if self.head_pose:
            mats = result.facial_transformation_matrixes
            self.last_matrix = np.asarray(mats[0], np.float64) if mats else None
        if not result.face_blendshapes:
            return None
        categories = result.face_blendshapes[0]
        if self._order is None:
            self._order = [INDEX.get(c.category_name, -1) for c in categories]
        out = np.zeros(NUM_BLENDSHAPES, np.float32)
        for k, c in zip(self._order, categories):
            if k >= 0:
                out[k] = c.score
        return out

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None


def load(model_path=None, crop: Crop | None = None, head_pose: bool = False) -> MediaPipeBackend:
    """The MediaPipe backend with ``model_path`` (face_landmarker.task); ``head_pose`` keeps each frame's
    facial transformation matrix in ``last_matrix`` (see head_pose.py for the angles)."""
    return MediaPipeBackend(model_path, crop=crop, head_pose=head_pose)
