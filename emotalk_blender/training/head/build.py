"""Topology and neutral pose of the default head.

The skin is a latitude/longitude grid (poles at the crown and under the neck) whose rays from
``shape.RAY_ORIGIN`` land on the skin field. The mouth and the two eyes are slits along grid
rows: inside a slit the row is split into an upper and a lower copy, the slit is opened in
parameter space (almond eyes, touching lips), and its rim is extruded inwards (lid thickness;
lip insides continuing into a closed mouth bag), so an open jaw or eye shows no hole. Eyeballs,
tongue and teeth are separate closed meshes.

Every vertex carries attributes the targets use: ``part``, grid ``col``/``row``, ``side``
(+1 upper copy, -1 lower copy, 0 otherwise), parameters ``az``/``el`` (degrees) and ``ring``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from . import shape

PARTS = ("skin", "mouth_bag", "eyeball_left", "eyeball_right", "tongue", "teeth_upper", "teeth_lower")
SKIN, BAG, EYE_L, EYE_R, TONGUE, TEETH_UP, TEETH_LO = range(len(PARTS))


def _az_el(p, origin=shape.RAY_ORIGIN):
    """Azimuth (0 = front, + towards +X) and elevation of p seen from the ray origin, degrees."""
    d = np.asarray(p, float) - origin
    return np.degrees(np.arctan2(d[0], -d[1])), np.degrees(np.arctan2(d[2], np.hypot(d[0], d[1])))


def _direction(az, el):
    a, e = np.radians(az), np.radians(el)
    return np.stack([np.sin(a) * np.cos(e), -np.cos(a) * np.cos(e), np.sin(e)], axis=-1)


def _segments(breaks, spacings):
    """Samples from breakpoints, each segment evenly spaced at about the given spacing."""
    out = [breaks[0]]
    for a, b, s in zip(breaks[:-1], breaks[1:], spacings):
        n = max(1, int(round((b - a) / s)))
        out.extend(np.linspace(a, b, n + 1)[1:])
    return np.array(out)


def _lip_line_elevation() -> float:
    """Elevation of the ray that meets the lips exactly at height ``MOUTH_Z`` (secant solve)."""
    def z_at(el):
        return float(shape.cast_rays(_direction(np.array([0.0]), np.array([el])))[0, 2]) - shape.MOUTH_Z
    a, b = _az_el([0.0, -0.09, shape.MOUTH_Z])[1], _az_el([0.0, -0.06, shape.MOUTH_Z])[1]
    fa, fb = z_at(a), z_at(b)
    for _ in range(8):
        if abs(fb) < 1e-7 or fb == fa:
            break
        a, b, fa = b, b - fb * (b - a) / (fb - fa), fb
        fb = z_at(b)
    return float(b)


@dataclass
class Features:
    """Where the slits lie in parameter space (degrees)."""
    mouth_el: float
    mouth_az: float  # corner, left side
    eye_el: float
    eye_az_in: float
    eye_az_out: float

    @classmethod
    def from_landmarks(cls):
        mouth_az, _ = _az_el(shape.MOUTH_CORNER)
        mouth_el = _lip_line_elevation()
        rs = shape.EYE_RADIUS + shape.LID_THICKNESS
        e = shape.EYE_CENTRE
        _, eye_el = _az_el(e + rs * np.array([0.0, -1.0, -0.06]))
        a_in, a_out = np.radians(50.0), np.radians(62.0)
        eye_az_in, _ = _az_el(e + rs * np.array([-np.sin(a_in), -np.cos(a_in), 0.0]))
        eye_az_out, _ = _az_el(e + rs * np.array([np.sin(a_out), -np.cos(a_out), 0.0]))
        if abs(mouth_az - eye_az_in) < 1.0:  # one grid column for both corners: no sliver faces
            mouth_az = eye_az_in
        return cls(float(mouth_el), float(mouth_az), float(eye_el), float(eye_az_in), float(eye_az_out))


@dataclass
class MeshBuilder:
    verts: list = field(default_factory=list)
    faces: list = field(default_factory=list)
    attrs: dict = field(default_factory=lambda: {k: [] for k in ("part", "col", "row", "side", "az", "el", "ring")})

    def add(self, p, part, col=-1, row=-1, side=0, az=np.nan, el=np.nan, ring=-1) -> int:
        self.verts.append(np.asarray(p, float))
        for k, v in zip(("part", "col", "row", "side", "az", "el", "ring"), (part, col, row, side, az, el, ring)):
            self.attrs[k].append(v)
        return len(self.verts) - 1

    def add_many(self, pts, part, **kw) -> np.ndarray:
        start = len(self.verts)
        for i, p in enumerate(pts):
            self.add(p, part, **{k: (v[i] if np.ndim(v) else v) for k, v in kw.items()})
        return np.arange(start, len(self.verts))


def _almond(s, peak):
    """0 at both corners, 1 at s = peak; a smooth eyelid/lip opening profile."""
    s = np.clip(s, 0.0, 1.0)
    a = np.log(0.5) / np.log(peak)  # move the maximum of sin(pi s^a) to s = peak
    return np.sin(np.pi * s ** a)


@dataclass
class HeadMesh:
    verts: np.ndarray
    face_sizes: np.ndarray
    face_indices: np.ndarray
    attrs: dict
    features: Features
    mirror: np.ndarray  # index of each vertex's mirror image (x -> -x)


EYE_OPEN_UP, EYE_OPEN_DOWN = 5.8, 3.8  # eye slit opening above/below the row, degrees
MOUTH_OPEN = 0.12  # lips part by a hair in the neutral pose, degrees each way
SLIT_FALLOFF = 13.0  # rows within this many degrees make room for an opening


def build_head() -> HeadMesh:
    f = Features.from_landmarks()
    breaks = sorted({0.0, f.eye_az_in, f.mouth_az, f.eye_az_out, 58.0, 105.0, 180.0})
    spacing = {58.0: 2.2, 105.0: 2.6, 180.0: 6.0}  # by segment end; the face is finer
    half_cols = _segments(breaks, [spacing.get(b, 1.25) for b in breaks[1:]])
    cols = np.concatenate([-half_cols[:0:-1], half_cols[:-1]])  # -180 excluded (same as +180)
    cols = np.concatenate([cols, [180.0]])
    cols = cols[1:] if cols[0] == -180.0 else cols
    rows = _segments([-90.0, -62.0, -30.0, f.mouth_el, 8.0, f.eye_el, 50.0, 64.0, 90.0],
                     [6.0, 3.0, 1.3, 1.4, 1.2, 1.5, 3.0, 6.0])
    n_c, n_r = len(cols), len(rows)
    j_m = int(np.argmin(abs(rows - f.mouth_el)))
    j_e = int(np.argmin(abs(rows - f.eye_el)))
    ic = lambda a: int(np.argmin(abs(cols - a)))  # noqa: E731
    mouth_cols = (ic(-f.mouth_az), ic(f.mouth_az))
    eye_cols = {+1: (ic(f.eye_az_in), ic(f.eye_az_out)), -1: (ic(-f.eye_az_out), ic(-f.eye_az_in))}

    # Parameter-space positions (az, el) of every grid vertex; each slit is opened by pushing
    # the rows of its columns apart (additively, so the eye and mouth warps do not interfere).
    az = np.repeat(cols[:, None], n_r, 1)
    el_up = np.repeat(rows[None, :], n_c, 0)  # upper copies on slit rows, every other vertex
    el_lo = el_up.copy()  # lower copies on slit rows

    def open_slit(c0, c1, j, h_up, h_lo):
        t_up = np.clip((rows - rows[j]) / SLIT_FALLOFF, 0, 1)
        t_lo = np.clip((rows[j] - rows) / SLIT_FALLOFF, 0, 1)
        above, below = rows > rows[j], rows < rows[j]
        for c in range(c0 + 1, c1):
            # s runs from the inner (nasal / central) corner outwards on both sides
            lo_, hi_ = sorted((abs(cols[c0]), abs(cols[c1])))
            s = (abs(cols[c]) - lo_) / (hi_ - lo_) if cols[c0] * cols[c1] > 0 else \
                (cols[c] - cols[c0]) / (cols[c1] - cols[c0])
            hu, hl = h_up(s), h_lo(s)
            push = np.where(above, hu * (1 - t_up) ** 2, 0.0) - np.where(below, hl * (1 - t_lo) ** 2, 0.0)
            el_up[c] += push
            el_lo[c] += push
            el_up[c, j] += hu
            el_lo[c, j] -= hl

    open_slit(*mouth_cols, j_m, lambda s: MOUTH_OPEN * np.sin(np.pi * s), lambda s: MOUTH_OPEN * np.sin(np.pi * s))
    for c0, c1 in eye_cols.values():  # upper lid peaks nasally, lower lid temporally
        open_slit(c0, c1, j_e, lambda s: EYE_OPEN_UP * _almond(s, 0.42),
                  lambda s: EYE_OPEN_DOWN * _almond(s, 0.58))

    mb = MeshBuilder()
    grid = np.full((n_c, n_r), -1)
    lower = {}  # (c, j) -> index of the lower copy on a slit row
    in_slit = lambda c, j: (j == j_m and mouth_cols[0] < c < mouth_cols[1]) or (  # noqa: E731
        j == j_e and any(a < c < b for a, b in eye_cols.values()))
    for j in range(1, n_r - 1):
        for c in range(n_c):
            if in_slit(c, j):
                grid[c, j] = mb.add(None, SKIN, c, j, +1, az[c, j], el_up[c, j])
                lower[c, j] = mb.add(None, SKIN, c, j, -1, az[c, j], el_lo[c, j])
            else:
                grid[c, j] = mb.add(None, SKIN, c, j, 0, az[c, j], el_up[c, j])
    bottom = mb.add(None, SKIN, -1, 0, 0, 0.0, -90.0)
    top = mb.add(None, SKIN, -1, n_r - 1, 0, 0.0, 90.0)
    skin_idx = np.arange(len(mb.verts))
    a = np.array(mb.attrs["az"], float)[skin_idx]
    e = np.array(mb.attrs["el"], float)[skin_idx]
    pts = shape.cast_rays(_direction(a, e))
    for i, p in zip(skin_idx, pts):
        mb.verts[i] = p

    def v(c, j, below_slit):
        c %= n_c
        if below_slit and (c, j) in lower:
            return lower[c, j]
        return grid[c, j]

    for j in range(1, n_r - 2):
        for c in range(n_c):
            # quad between rows j (lower) and j+1; a slit row seen from below uses lower copies
            mb.faces.append([v(c, j, False), v(c + 1, j, False), v(c + 1, j + 1, True), v(c, j + 1, True)])
    for c in range(n_c):
        mb.faces.append([bottom, v(c + 1, 1, False), v(c, 1, False)])
        mb.faces.append([top, v(c, n_r - 2, True), v(c + 1, n_r - 2, True)])

    feats = f
    _eye_rims(mb, grid, lower, eye_cols, j_e)
    _mouth_bag(mb, grid, lower, mouth_cols, j_m)
    for side in (+1, -1):
        _eyeball(mb, side)
    _tongue(mb)
    _teeth(mb)

    verts = np.array(mb.verts, float)
    sizes = np.array([len(fc) for fc in mb.faces], np.int32)
    flat = np.array([i for fc in mb.faces for i in fc], np.int32)
    attrs = {k: np.array(vals) for k, vals in mb.attrs.items()}
    mirror = _mirror_map(verts, attrs["part"])
    # Exact symmetry: average each vertex with its mirrored partner.
    m = np.array([-1.0, 1.0, 1.0])
    verts = 0.5 * (verts + verts[mirror] * m)
    return HeadMesh(verts, sizes, flat, attrs, feats, mirror)


def _rim_loop(grid, lower, c0, c1, j):
    """Closed loop around a slit: upper copies corner to corner, then lower copies back."""
    upper = [grid[c, j] for c in range(c0, c1 + 1)]
    low = [lower[c, j] for c in range(c1 - 1, c0, -1)]
    return upper + low


def _eye_rims(mb, grid, lower, eye_cols, j):
    """Extrude each eye opening towards the eyeball: the lids get a visible thickness."""
    for side, (c0, c1) in eye_cols.items():
        centre = shape.EYE_CENTRE * [side, 1, 1]
        loop = _rim_loop(grid, lower, c0, c1, j)
        inner = []
        for i in loop:
            p = mb.verts[i]
            d = p - centre
            q = centre + d / np.linalg.norm(d) * (shape.EYE_RADIUS - 0.0006)
            q = q + np.array([0.0, 0.0012, 0.0])  # tuck the rim slightly behind the margin
            inner.append(mb.add(q, SKIN, mb.attrs["col"][i], j, mb.attrs["side"][i],
                                mb.attrs["az"][i], mb.attrs["el"][i], ring=1))
        _bridge(mb, loop, inner)


def _bridge(mb, a, b, closed=True):
    """Quads joining loop a to loop b, wound consistently with the faces already using loop a."""
    n = len(a)
    used = {(f[k], f[(k + 1) % len(f)]) for f in mb.faces if a[0] in f for k in range(len(f))}
    flip = any((a[k], a[(k + 1) % n]) in used for k in range(n))  # edge taken: go the other way
    for k in range(n if closed else n - 1):
        k2 = (k + 1) % n
        quad = [a[k], a[k2], b[k2], b[k]]
        mb.faces.append(quad[::-1] if flip else quad)
    return flip


BAG_RINGS = (  # (depth y or None for "just behind the lip", x scale, half-opening z)
    (None, 1.0, 0.0012),
    (-0.074, 1.04, 0.0045),
    (-0.064, 1.12, 0.011),
    (-0.050, 1.12, 0.0145),
    (-0.038, 0.95, 0.0135),
    (-0.030, 0.60, 0.009),
)


def _mouth_bag(mb, grid, lower, mouth_cols, j):
    """Lip insides continuing into a closed cavity behind the lips."""
    loop = _rim_loop(grid, lower, mouth_cols[0], mouth_cols[1], j)
    pts = np.array([mb.verts[i] for i in loop])
    sides = np.array([mb.attrs["side"][i] for i in loop])
    xc = np.abs(pts[:, 0]).max()
    prev = loop
    for k, (depth, sx, half) in enumerate(BAG_RINGS, start=1):
        prof = np.sqrt(np.clip(1 - (pts[:, 0] / xc) ** 2, 0, 1))  # elliptic cross-section
        ring = []
        for i, p in enumerate(pts):
            if depth is None:
                q = p + np.array([0.0, 0.0042, sides[i] * half * prof[i]])
            else:
                q = np.array([p[0] * sx, depth, shape.MOUTH_Z - 0.002 + sides[i] * half * (0.25 + 0.75 * prof[i])])
            ring.append(mb.add(q, BAG, side=int(sides[i]), az=mb.attrs["az"][loop[i]], ring=k))
        flip = _bridge(mb, prev, ring)
        prev = ring
    cap = mb.add([0.0, -0.026, shape.MOUTH_Z - 0.002], BAG, side=0, az=0.0, ring=len(BAG_RINGS) + 1)
    n = len(prev)
    for k in range(n):
        mb.faces.append([prev[(k + 1) % n], prev[k], cap] if flip else [prev[k], prev[(k + 1) % n], cap])


def _uv_sphere(n_seg, n_ring):
    """Unit sphere with poles on -Y (front) and +Y; rings of n_seg vertices."""
    pts = [np.array([0.0, -1.0, 0.0])]
    for r in range(1, n_ring):
        th = np.pi * r / n_ring
        for s in range(n_seg):
            ph = 2 * np.pi * s / n_seg
            pts.append(np.array([np.sin(th) * np.cos(ph), -np.cos(th), np.sin(th) * np.sin(ph)]))
    pts.append(np.array([0.0, 1.0, 0.0]))
    faces = []
    ring = lambda r, s: 1 + (r - 1) * n_seg + s % n_seg  # noqa: E731
    for s in range(n_seg):
        faces.append([0, ring(1, s + 1), ring(1, s)])
    for r in range(1, n_ring - 1):
        for s in range(n_seg):
            faces.append([ring(r, s), ring(r, s + 1), ring(r + 1, s + 1), ring(r + 1, s)])
    last = len(pts) - 1
    for s in range(n_seg):
        faces.append([last, ring(n_ring - 1, s), ring(n_ring - 1, s + 1)])
    return np.array(pts), faces


def _add_closed(mb, pts, faces, part, flip=False, side=0):
    start = len(mb.verts)
    for p in pts:
        mb.add(p, part, side=side)
    for fc in faces:
        fc = [start + i for i in fc]
        mb.faces.append(fc[::-1] if flip else fc)


def _eyeball(mb, side):
    pts, faces = _uv_sphere(24, 16)
    theta = np.arccos(np.clip(-pts[:, 1], -1, 1))
    r = np.where(theta < 0.42, 1.0 + 0.11 * np.cos(theta / 0.42 * np.pi / 2) ** 2, 1.0)  # cornea bulge
    r = np.where((theta > 0.42) & (theta < 0.5), 0.985, r)  # limbus groove
    pts = pts * (r * shape.EYE_RADIUS)[:, None] + shape.EYE_CENTRE
    pts[:, 0] *= side
    _add_closed(mb, pts, faces, EYE_L if side > 0 else EYE_R, flip=side > 0, side=side)


TONGUE_CENTRE = np.array([0.0, -0.050, shape.MOUTH_Z - 0.0075])
TONGUE_RADII = np.array([0.0155, 0.022, 0.0052])


def _tongue(mb):
    pts, faces = _uv_sphere(16, 12)
    pts = pts * TONGUE_RADII + TONGUE_CENTRE
    pts[:, 2] -= 0.004 * ((pts[:, 0] / TONGUE_RADII[0]) ** 2)  # a groove-less rounded top, sides lower
    _add_closed(mb, pts, faces, TONGUE, flip=True)


def _teeth(mb):
    """Two rows of teeth as bent boxes behind the lips (upper fixed, lower moves with the jaw)."""
    for part, z0, z1 in ((TEETH_UP, shape.MOUTH_Z + 0.0045, shape.MOUTH_Z - 0.0020),
                         (TEETH_LO, shape.MOUTH_Z - 0.0022, shape.MOUTH_Z - 0.0085)):
        n = 17
        angles = np.linspace(-1.05, 1.05, n)
        rx, ry, cy = 0.021, 0.016, -0.0595  # arch: x = rx sin a, y = cy - ry cos a
        pts, faces = [], []
        for a in angles:
            for rad in (1.0, 0.82):  # outer and inner surface of the arch
                for z in (z0, z1):
                    pts.append([rad * rx * np.sin(a), cy - rad * ry * np.cos(a), z])
        q = lambda k, inner, low: 4 * k + 2 * inner + low  # noqa: E731
        for k in range(n - 1):
            for (a0, b0), (a1, b1) in (((0, 0), (0, 1)), ((0, 1), (1, 1)), ((1, 1), (1, 0)), ((1, 0), (0, 0))):
                faces.append([q(k, a0, b0), q(k + 1, a0, b0), q(k + 1, a1, b1), q(k, a1, b1)])
        faces.append([q(0, 0, 0), q(0, 0, 1), q(0, 1, 1), q(0, 1, 0)])
        faces.append([q(n - 1, 0, 0), q(n - 1, 1, 0), q(n - 1, 1, 1), q(n - 1, 0, 1)])
        _add_closed(mb, np.array(pts), faces, part)


def _mirror_map(verts, part):
    """Mirror partner of every vertex: nearest mirrored position within the matching part."""
    swap = {EYE_L: EYE_R, EYE_R: EYE_L}
    mirror = np.full(len(verts), -1)
    mirrored = verts * [-1.0, 1.0, 1.0]
    for p in np.unique(part):
        src = np.flatnonzero(part == p)
        dst = np.flatnonzero(part == swap.get(p, p))
        dist, k = cKDTree(verts[dst]).query(mirrored[src])
        if dist.max() > 1e-6:
            raise RuntimeError(f"head mesh is not mirror-symmetric in part {PARTS[p]} ({dist.max():.2e} m)")
        mirror[src] = dst[k]
    if not (mirror[mirror] == np.arange(len(verts))).all():
        raise RuntimeError("head mesh mirror map is not an involution")
    return mirror
