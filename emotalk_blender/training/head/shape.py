"""The default head's skin as a signed distance field: soft unions of ellipsoids and capsules.

Units are metres, Blender's orientation (+Z up, face towards -Y, character's left at +X). The
landmarks below are the single source of the proportions; the mesh builder casts rays from
``RAY_ORIGIN`` onto the zero level set of ``head_sdf``.
"""
from __future__ import annotations

import numpy as np

# ---- landmarks (metres); left-side points, the right side is mirrored (x -> -x)
RAY_ORIGIN = np.array([0.0, 0.0, -0.032])
EYE_CENTRE = np.array([0.0315, -0.0635, 0.012])  # left eyeball centre
EYE_RADIUS = 0.0122
LID_THICKNESS = 0.0016  # lid shell radius = EYE_RADIUS + LID_THICKNESS
MOUTH_Z = -0.050  # height of the lip line
MOUTH_CORNER = np.array([0.0235, -0.0835, -0.0515])  # left corner of the lips
JAW_HINGE = np.array([0.0, -0.004, -0.006])  # the jaw rotates about the x axis through here


def _ellipsoid(p, c, r):
    """Approximate signed distance to an ellipsoid (Quilez's bound, exact sign)."""
    q = (p - c) / r
    k0 = np.linalg.norm(q, axis=-1)
    k1 = np.linalg.norm(q / r, axis=-1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _capsule(p, a, b, ra, rb):
    """Round cone from a (radius ra) to b (radius rb), linear radius (good enough for blends)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    closest = a + t[..., None] * ab
    return np.linalg.norm(p - closest, axis=-1) - (ra + (rb - ra) * t)


def _smin(a, b, k):
    """Polynomial smooth minimum (soft union) with blend radius k."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _smax(a, b, k):
    return -_smin(-a, -b, k)


def head_sdf(p: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) of the skin at points p (..., 3)."""
    # The field is evaluated on |x| so both halves are exact mirror images.
    p = np.array(p, dtype=float)
    p[..., 0] = np.abs(p[..., 0])
    d = _ellipsoid(p, [0.0, 0.014, 0.036], [0.0735, 0.096, 0.088])  # cranium
    d = _smin(d, _ellipsoid(p, [0.0, -0.022, -0.028], [0.054, 0.058, 0.07]), 0.02)  # face mass
    d = _smin(d, _ellipsoid(p, [0.0, -0.014, -0.070], [0.043, 0.055, 0.030]), 0.02)  # mandible
    d = _smin(d, _ellipsoid(p, [0.0, -0.064, -0.093], [0.018, 0.016, 0.015]), 0.02)  # chin
    d = _smin(d, _ellipsoid(p, [0.044, -0.052, -0.002], [0.020, 0.023, 0.016]), 0.016)  # cheekbone
    d = _smin(d, _ellipsoid(p, [0.033, -0.060, -0.030], [0.020, 0.022, 0.022]), 0.028)  # cheek
    d = _smin(d, _ellipsoid(p, [0.0, -0.064, -0.052], [0.029, 0.024, 0.029]), 0.016)  # muzzle
    d = _smin(d, _ellipsoid(p, [0.044, -0.008, -0.068], [0.012, 0.024, 0.018]), 0.03)  # jaw angle
    d = _smin(d, _capsule(p, [0.0, 0.010, -0.07], [0.0, 0.022, -0.22], 0.05, 0.056), 0.025)  # neck
    # brow ridge and the raised brows
    d = _smin(d, _capsule(p, [0.0, -0.077, 0.030], [0.044, -0.066, 0.034], 0.0065, 0.005), 0.014)
    d = _smin(d, _capsule(p, [0.011, -0.084, 0.035], [0.046, -0.071, 0.040], 0.0026, 0.0018), 0.0035)
    # eye sockets carved out, then the lid shells over the eyeballs
    d = _smax(d, -_ellipsoid(p, EYE_CENTRE + [0.0, -0.012, -0.001], np.array([0.019, 0.012, 0.014])), 0.008)
    d = _smin(d, np.linalg.norm(p - EYE_CENTRE, axis=-1) - (EYE_RADIUS + LID_THICKNESS), 0.004)
    # nose: bridge, tip, wings
    d = _smin(d, _capsule(p, [0.0, -0.080, 0.018], [0.0, -0.101, -0.016], 0.0055, 0.0085), 0.008)
    d = _smin(d, _ellipsoid(p, [0.0, -0.100, -0.020], [0.0095, 0.010, 0.0085]), 0.006)
    d = _smin(d, _ellipsoid(p, [0.0115, -0.088, -0.024], [0.0075, 0.0085, 0.0065]), 0.005)
    # lips (the mouth slit is cut by the mesh topology, not by the field)
    d = _smin(d, _ellipsoid(p, [0.0, -0.0845, MOUTH_Z + 0.0048], [0.024, 0.0085, 0.0062]), 0.005)
    d = _smin(d, _ellipsoid(p, [0.0, -0.0825, MOUTH_Z - 0.0058], [0.021, 0.0090, 0.0068]), 0.005)
    # ears (stylised: flattened shells on the sides)
    d = _smin(d, _ellipsoid(p, [0.073, 0.016, 0.010], [0.011, 0.016, 0.025]), 0.006)
    return d


def cast_rays(directions: np.ndarray, origin=RAY_ORIGIN, t_max: float = 0.30,
              step: float = 0.0012) -> np.ndarray:
    """Outermost skin point along each ray from ``origin`` (march inwards, then bisect)."""
    dirs = np.asarray(directions, float)
    n = dirs.shape[0]
    hi = np.full(n, t_max)  # outside
    lo = np.full(n, np.nan)
    t = t_max
    todo = np.ones(n, bool)
    while todo.any() and t > 0:
        t -= step
        idx = np.flatnonzero(todo)
        inside = head_sdf(origin + t * dirs[idx]) < 0
        hit = idx[inside]
        lo[hit] = t
        hi[hit] = t + step
        todo[hit] = False
    if todo.any():
        raise RuntimeError("head field: some rays found no surface")
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        inside = head_sdf(origin + mid[:, None] * dirs) < 0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return origin + (0.5 * (lo + hi))[:, None] * dirs
