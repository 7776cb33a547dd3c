"""Per-frame vertices of a take: ``.npy`` (T, V, 3) and point caches Blender's Mesh Cache
modifier reads (PC2 and MDD), so a take can be rendered or measured outside the add-on.

PC2 (little-endian): ``b"POINTCACHE2\\0"``, int32 version 1, int32 points, float32 start frame,
float32 sample rate (frames per sample), int32 samples, then float32 xyz per point per sample.
MDD (big-endian): int32 frames, int32 points, float32 time (s) per frame, then float32 xyz.
Both store Blender's axes as is (the modifier's default forward +Y / up +Z is the identity).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import atomic
from ..constants import FPS
from ..errors import EmoTalkError

PC2_MAGIC = b"POINTCACHE2\0"


def _frames(vertices) -> np.ndarray:
    v = np.asarray(vertices, dtype=np.float32)
    if v.ndim != 3 or v.shape[2] != 3 or v.shape[0] < 1 or v.shape[1] < 1:
        raise EmoTalkError(f"vertex take must be (T, V, 3) with T, V >= 1, got {v.shape}")
    if not np.isfinite(v).all():
        raise EmoTalkError("vertex take holds NaN/inf")
    return v


def save_npy(path, vertices) -> Path:
    """(T, V, 3) float32 array as ``.npy``."""
    path = Path(path)
    atomic.save_npy(path, _frames(vertices))
    return path


def write_pc2(path, vertices, start_frame: float = 1.0, sample_rate: float = 1.0) -> Path:
    """PC2 point cache; ``start_frame`` is the scene frame of the first sample."""
    v = _frames(vertices)
    path = Path(path)
    header = np.zeros(1, dtype=[("magic", "S12"), ("version", "<i4"), ("points", "<i4"),
                                ("start", "<f4"), ("rate", "<f4"), ("samples", "<i4")])
    header[0] = (PC2_MAGIC, 1, v.shape[1], start_frame, sample_rate, v.shape[0])
    with atomic.atomic_open(path) as fh:
        fh.write(header.tobytes())
        fh.write(v.astype("<f4").tobytes())
    return path


def read_pc2(path) -> np.ndarray:
    """(T, V, 3) float32 from a PC2 file; EmoTalkError naming the file if it is malformed."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 32 or raw[:12] != PC2_MAGIC:
        raise EmoTalkError(f"{path}: not a PC2 point cache (bad header)")
    _, n_points, _, _, n_samples = np.frombuffer(raw[12:32], dtype="<i4,<i4,<f4,<f4,<i4")[0]
    expected = 32 + int(n_points) * int(n_samples) * 12
    if len(raw) != expected:
        raise EmoTalkError(f"{path}: PC2 size {len(raw)} bytes, header says {expected}")
    return np.frombuffer(raw[32:], "<f4").reshape(int(n_samples), int(n_points), 3).astype(np.float32)


def write_mdd(path, vertices, fps: float = FPS) -> Path:
    """MDD point cache (frame times at ``fps``, the first frame at time 0)."""
    v = _frames(vertices)
    path = Path(path)
    with atomic.atomic_open(path) as fh:
        fh.write(np.array([v.shape[0], v.shape[1]], ">i4").tobytes())
        fh.write((np.arange(v.shape[0]) / float(fps)).astype(">f4").tobytes())
        fh.write(v.astype(">f4").tobytes())
    return path


def read_mdd(path) -> np.ndarray:
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 8:
        raise EmoTalkError(f"{path}: not an MDD point cache (too short)")
    n_frames, n_points = (int(x) for x in np.frombuffer(raw[:8], ">i4"))
    expected = 8 + 4 * n_frames + 12 * n_frames * n_points
    if n_frames < 1 or n_points < 1 or len(raw) != expected:
        raise EmoTalkError(f"{path}: MDD size {len(raw)} bytes, header says {expected}")
    return np.frombuffer(raw[8 + 4 * n_frames:], ">f4").reshape(n_frames, n_points, 3).astype(np.float32)


def write_vertex_caches(template_set, weights, stem, formats=("npy", "pc2"),
                        start_frame: float = 1.0) -> dict[str, Path]:
    """Vertices of a take (weights (T, 52)) on a template set, written as ``stem.<format>``."""
    v = template_set.vertices(weights)
    stem = Path(stem)
    writers = {"npy": lambda p: save_npy(p, v), "pc2": lambda p: write_pc2(p, v, start_frame),
               "mdd": lambda p: write_mdd(p, v)}
    unknown = [f for f in formats if f not in writers]
    if unknown:
        raise EmoTalkError(f"unknown vertex formats {unknown} (known: {', '.join(writers)})")
    return {f: writers[f](stem.with_suffix("." + f)) for f in formats}
