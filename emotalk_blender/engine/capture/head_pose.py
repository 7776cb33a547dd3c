"""Head pose (pitch, yaw, roll in degrees) from MediaPipe's facial transformation matrix, numpy only.

MediaPipe's Face Landmarker gives per face a 4x4 matrix that maps its canonical face model into
camera space. Both frames are right-handed with x to the image's right, y up and z toward the
camera; the canonical face looks along +z and its +x side is the subject's left (landmark 263,
the left eye's outer corner, has x > 0). A frontal, upright face therefore has rotation I.

We write the rotation as R = Ry(yaw) @ Rx(-pitch) @ Rz(-roll) (standard right-handed rotations
about the camera's axes) so that the signs read as an animator expects:

- pitch > 0: chin up (the face's forward axis R[:, 2] tilts up, toward +y);
- yaw > 0: turning to the subject's left (forward tilts toward +x, the subject's left);
- roll > 0: tilting toward the subject's left shoulder (the face's up axis R[:, 1] tilts to +x).

Multiplying out, R[1] = (-sin(roll) cos(pitch), cos(roll) cos(pitch), sin(pitch)) and
R[0, 2] / R[2, 2] = tan(yaw), hence the formulas in ``angles``. The same conventions as
``engine/direction/head_motion.py`` (column 0 pitch, 1 yaw, 2 roll).
"""
from __future__ import annotations

import numpy as np


def rotation_part(matrix) -> np.ndarray:
    """The nearest rotation to the matrix's upper-left 3x3 (MediaPipe's fit may carry a little scale)."""
    m = np.asarray(matrix, np.float64)[:3, :3]
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    if np.linalg.det(r) < 0:  # a reflection is no head pose: flip the weakest axis
        u[:, -1] *= -1
        r = u @ vt
    return r


def angles(matrix) -> np.ndarray:
    """(3,) float64 degrees: pitch, yaw, roll of a 4x4 (or 3x3) face-to-camera matrix."""
    r = rotation_part(matrix)
    pitch = np.arcsin(np.clip(r[1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[0, 2], r[2, 2])
    roll = np.arctan2(-r[1, 0], r[1, 1])
    return np.degrees([pitch, yaw, roll])


def matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """The 3x3 rotation of the given degrees (the inverse of ``angles``; for tests and previews)."""
    p, y, r = np.radians([pitch, yaw, roll])

    def rx(a):
        return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])

    def ry(a):
        return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])

    def rz(a):
        return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])

    return ry(y) @ rx(-p) @ rz(-r)
