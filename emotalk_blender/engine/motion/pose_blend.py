"""Blend one pose per ARKit channel into bone transforms, frame by frame (numpy only, no bpy).

A pose is each bone's local transform at weight 1 relative to rest: a location offset, a
rotation (as a rotation vector, axis * angle, i.e. twice the quaternion logarithm) and a scale
offset. Per frame, with channel weights w_c:

    location = sum_c w_c * loc_c        scale = 1 + sum_c w_c * (scale_c - 1)
    rotation = exp(sum_c w_c * log(q_c))  (a weighted sum of rotation vectors, then back to a quaternion)

Why rotation vectors: the sum is independent of the channels' order (a chain of quaternion
products is not), one channel at weight w is exactly slerp(rest, pose, w), rotations about one
axis add exactly, poses up to 180 degrees keep their direction (the shortest arc is taken), and
the result is always a unit quaternion (no drift, no normalisation of a sum that may pass near 0).
All weights 0 give the rest transform exactly.

Quaternions are (w, x, y, z) as in Blender; Euler orders are Blender's ('XYZ' applies X first).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


def quat_to_rotvec(q) -> np.ndarray:
    """Unit quaternions (..., 4) -> rotation vectors (..., 3) on the shortest arc (angle <= pi)."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)  # q and -q are one rotation: take w >= 0
    v = q[..., 1:]
    s = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    # angle / s, with its limit 2 / w (w = 1 there) where s -> 0
    scale = np.where(s > 1e-12, angle / np.maximum(s, 1e-300), 2.0)
    return v * scale


def rotvec_to_quat(r) -> np.ndarray:
    """Rotation vectors (..., 3) -> unit quaternions (..., 4), (w, x, y, z)."""
    r = np.asarray(r, np.float64)
    angle = np.linalg.norm(r, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half) / angle, with its Taylor series near 0 (exact to float64 below 1e-4)
    k = np.where(angle > 1e-4, np.sin(half) / np.maximum(angle, 1e-300), 0.5 - angle ** 2 / 48.0)
    return np.concatenate([np.cos(half), r * k], axis=-1)


def _axis_matrix(axis: int, angle) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(np.shape(angle) + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1.0
    m[..., i, i] = c
    m[..., j, j] = c
    m[..., j, i] = s
    m[..., i, j] = -s
    return m


def quat_to_matrix(q) -> np.ndarray:
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quat(m) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> unit quaternions with w >= 0 (Shepperd's method)."""
    m = np.asarray(m, np.float64)
    t = np.trace(m, axis1=-2, axis2=-1)
    cands = np.stack([
        np.stack([1 + t, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + 2 * m[..., 0, 0] - t, m[..., 0, 1] + m[..., 1, 0],
                  m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 + 2 * m[..., 1, 1] - t,
                  m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                  1 + 2 * m[..., 2, 2] - t], -1),
    ], -2)  # (..., 4, 4): row k is 4 * q * q[k], best conditioned where q[k] is largest
    diag = np.stack([1 + t, 1 + 2 * m[..., 0, 0] - t, 1 + 2 * m[..., 1, 1] - t, 1 + 2 * m[..., 2, 2] - t], -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def euler_to_quat(e, order: str = "XYZ") -> np.ndarray:
    """Blender Euler angles (..., 3) in ``order`` -> quaternions (w >= 0)."""
    e = np.asarray(e, np.float64)
    m = np.broadcast_to(np.eye(3), e.shape[:-1] + (3, 3))
    for axis_name in order:  # the first letter is applied first
        axis = "XYZ".index(axis_name)
        m = _axis_matrix(axis, e[..., axis]) @ m
    return matrix_to_quat(m)


def quat_to_euler(q, order: str = "XYZ") -> np.ndarray:
    """Quaternions (..., 4) -> Blender Euler angles (..., 3) in ``order`` (middle angle in [-pi/2, pi/2])."""
    m = quat_to_matrix(q)
    a, b, c = ("XYZ".index(n) for n in order)
    s = 1.0 if (a, b, c) in ((0, 1, 2), (1, 2, 0), (2, 0, 1)) else -1.0  # even permutation of X, Y, Z
    out = np.empty(m.shape[:-2] + (3,))
    out[..., b] = np.arcsin(np.clip(-s * m[..., c, a], -1.0, 1.0))
    out[..., a] = np.arctan2(s * m[..., c, b], m[..., c, c])
    out[..., c] = np.arctan2(s * m[..., b, a], m[..., a, a])
    return out


@dataclass
class Poses:
    """One pose per channel for ``bones``: arrays (C, B, 3) relative to rest."""

    channels: list[str]
    bones: list[str]
    location: np.ndarray  # offsets from the rest location
    rotation: np.ndarray  # rotation vectors (axis * angle, radians)
    scale: np.ndarray  # offsets from scale 1

    def used(self, eps: float = 0.0) -> dict[str, np.ndarray]:
        """Per transform part, which bones any pose moves (B,) bool: the parts worth keying."""
        return {part: np.abs(getattr(self, part)).max(axis=(0, 2)) > eps
                for part in ("location", "rotation", "scale")} if self.channels else {
                part: np.zeros(len(self.bones), bool) for part in ("location", "rotation", "scale")}


def blend(weights, poses: Poses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame bone transforms for channel ``weights`` (T, C), columns in ``poses.channels`` order.

    Returns (location (T, B, 3), quaternion (T, B, 4), scale (T, B, 3)), float64.
    """
    w = np.asarray(weights, np.float64)
    count, bones = len(w), len(poses.bones)

    def mix(part):
        # Channel by channel over the entries its pose moves: poses are sparse (a channel moves a few
        # bones), and this needs no BLAS threads, which stall on a busy machine for so small a product.
        flat = np.asarray(part, np.float64).reshape(len(part), -1)
        out = np.zeros((count, flat.shape[1]))
        for c in range(len(flat)):
            cols = np.flatnonzero(flat[c])
            if len(cols):
                out[:, cols] += w[:, c:c + 1] * flat[c, cols]
        return out.reshape(count, -1, 3)

    used = poses.used()
    quat = np.zeros((count, bones, 4))
    quat[..., 0] = 1.0
    scale = np.ones((count, bones, 3))
    turned, scaled = np.flatnonzero(used["rotation"]), np.flatnonzero(used["scale"])
    if len(turned):  # only the bones some pose turns: the others stay at rest exactly
        quat[:, turned] = rotvec_to_quat(mix(np.asarray(poses.rotation)[:, turned]))
    if len(scaled):
        scale[:, scaled] += mix(np.asarray(poses.scale)[:, scaled])
    return mix(poses.location), quat, scale
