"""Vertex metrics between two takes on a template set (as used by EmoTalk and its baselines).

- LVE (lip vertex error): per frame the maximum L2 error over the ``lips`` region, averaged over
  frames.
- EVE (emotional vertex error): the same over the ``eyes`` and ``forehead`` regions together.
- Mean vertex error: L2 error averaged over the ``face`` region (all vertices if the set has
  none) and frames.

Takes may be given as vertices (T, V, 3) or as weights (T, 52); with weights the difference is
formed directly as ``(W_a - W_b) @ D`` on the region's vertices only (the neutral cancels), so
long takes never build full-head arrays. Units are the set's (metres for the default head).
"""
from __future__ import annotations

import numpy as np

from ..arkit import NUM_BLENDSHAPES
from ..errors import EmoTalkError
from .templates import TemplateSet


def _region(ts: TemplateSet, names) -> np.ndarray:
    return np.unique(np.concatenate([ts.region(n) for n in names]))


def _face(ts: TemplateSet) -> np.ndarray:
    return ts.regions["face"] if "face" in ts.regions else np.arange(ts.num_vertices)


def _errors(ts: TemplateSet, a, b, idx: np.ndarray) -> np.ndarray:
    """Per-frame, per-vertex L2 errors (T, len(idx)) between takes a and b."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape:
        raise EmoTalkError(f"the two takes differ in shape: {a.shape} vs {b.shape}")
    if a.ndim == 2 and a.shape[1] == NUM_BLENDSHAPES:  # weights
        diff = (a - b) @ ts.deltas[:, idx].reshape(NUM_BLENDSHAPES, -1)
        return np.linalg.norm(diff.reshape(a.shape[0], idx.size, 3), axis=-1)
    if a.ndim == 3 and a.shape[1:] == (ts.num_vertices, 3):  # vertices
        return np.linalg.norm(a[:, idx] - b[:, idx], axis=-1)
    raise EmoTalkError(f"a take must be weights (T, {NUM_BLENDSHAPES}) or vertices "
                       f"(T, {ts.num_vertices}, 3) for template set {ts.name!r}, got {a.shape}")


def lve(ts: TemplateSet, a, b) -> float:
    """Lip vertex error: mean over frames of the max L2 error over the lip vertices."""
    return float(_errors(ts, a, b, ts.region("lips")).max(axis=1).mean())


def eve(ts: TemplateSet, a, b) -> float:
    """Emotional vertex error: mean over frames of the max L2 error over eyes + forehead."""
    return float(_errors(ts, a, b, _region(ts, ("eyes", "forehead"))).max(axis=1).mean())


def mean_vertex_error(ts: TemplateSet, a, b) -> float:
    """Mean L2 error over the face vertices and frames."""
    return float(_errors(ts, a, b, _face(ts)).mean())


def vertex_metrics(ts: TemplateSet, a, b) -> dict[str, float]:
    """All three metrics: ``{"lve": ..., "eve": ..., "mve": ...}`` in the set's units."""
    return {"lve": lve(ts, a, b), "eve": eve(ts, a, b), "mve": mean_vertex_error(ts, a, b)}
