"""The released demo's post-processing as one call: the oracle the real path is checked against.

The add-on's post-processing is ``direction.face_parts.finish`` (strengths, smoothing, blinks, gaze);
with default controls and no gaze it must equal these two steps of the released demo, in its order.
"""
from __future__ import annotations

import numpy as np

from emotalk_blender.engine.motion.postprocess import insert_blinks, smooth


def postprocess(weights: np.ndarray, smoothing: bool = True, blinks: bool = True, seed: int | None = 0) -> np.ndarray:
    """The demo's steps in its order: smoothing, then blinks."""
    out = np.asarray(weights, dtype=np.float32)
    if smoothing:
        out = smooth(out)
    if blinks:
        out = insert_blinks(out, seed)
    return out
