"""The 52 ARKit targets of the default head, as offsets from the neutral.

Each target is a displacement field: rigid rotations (jaw about its hinge, eyelids and eyeballs
about the eye centre) or translations shaped by smooth compact falloffs. Only the character's
LEFT side (+X) of each Left/Right pair is written here; the Right target is its exact mirror
image through the vertex mirror map, and unsided targets are symmetrised the same way, so
every pair mirrors to the last bit.
"""
from __future__ import annotations

import numpy as np

from ...engine.arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from . import shape
from .build import BAG, EYE_L, SKIN, SLIT_FALLOFF, TEETH_LO, TONGUE, HeadMesh

MIRROR = np.array([-1.0, 1.0, 1.0])
JAW_ANGLE = 0.25  # radians the jaw opens at jawOpen = 1
EYE_LOOK_UPDOWN, EYE_LOOK_SIDE = 0.36, 0.42  # eyeball rotations (radians)


def _smooth(t):
    """Smoothstep of t clamped to [0, 1]."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _fall(p, centre, radii):
    """Compact smooth bump: 1 at ``centre``, 0 outside the ellipsoid of ``radii``."""
    d2 = (((p - centre) / radii) ** 2).sum(axis=-1)
    return np.clip(1.0 - d2, 0.0, None) ** 3


def _rot_x(p, centre, angle):
    """Offsets that rotate points p about the x axis through centre by angle (per point)."""
    q = p - centre
    c, s = np.cos(angle), np.sin(angle)
    out = np.stack([q[:, 0], q[:, 1] * c - q[:, 2] * s, q[:, 1] * s + q[:, 2] * c], axis=1)
    return out - q


def _rot_z(p, centre, angle):
    q = p - centre
    c, s = np.cos(angle), np.sin(angle)
    out = np.stack([q[:, 0] * c - q[:, 1] * s, q[:, 0] * s + q[:, 1] * c, q[:, 2]], axis=1)
    return out - q


def vertex_normals(verts, sizes, flat):
    """Area-weighted vertex normals (fan triangulation of every face)."""
    n = np.zeros_like(verts)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for k in range(3, sizes.max() + 1):
        sel = starts[sizes == k]
        for j in range(1, k - 1):
            a, b, c = flat[sel], flat[sel + j], flat[sel + j + 1]
            fn = np.cross(verts[b] - verts[a], verts[c] - verts[a])
            for idx in (a, b, c):
                np.add.at(n, idx, fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


class _Ctx:
    """Per-vertex quantities the targets share."""

    def __init__(self, head: HeadMesh):
        self.head = head
        a = head.attrs
        self.p = head.verts
        self.x, self.y, self.z = head.verts.T
        self.part, self.side, self.ring = a["part"], a["side"], a["ring"]
        self.az, self.el, self.col, self.row = a["az"], a["el"], a["col"], a["row"]
        self.f = head.features
        self.skin = self.part == SKIN
        self.bag = self.part == BAG
        self.soft = self.skin | self.bag  # the deformable surface (not teeth, tongue, eyes)
        self.normals = vertex_normals(head.verts, head.face_sizes, head.face_indices)
        # +1 above the lip line, -1 below, 0 at the corners (for skin and the mouth bag)
        lip_side = np.where(self.el > self.f.mouth_el + 1e-9, 1, np.where(self.el < self.f.mouth_el - 1e-9, -1, 0))
        self.lip_side = np.where(self.bag, self.side, np.where(self.side != 0, self.side, lip_side))
        self.corner = head.verts[self._corner_index()]
        self.gate_left = _smooth((self.x + 0.002) / 0.012)  # sided targets leave the right alone
        self.jaw_w = self._jaw_weight()
        self.lips = self._lip_band()

    def _corner_index(self):
        cand = np.flatnonzero(self.skin & (self.side == 0) & (np.abs(self.el - self.f.mouth_el) < 1e-9)
                              & (np.abs(self.az - self.f.mouth_az) < 1e-6))
        return int(cand[0])

    def _jaw_weight(self):
        """How much each vertex follows the jaw: 1 below the lip line, 0 above, blended beyond
        the corners along a line rising towards the ear, faded towards the nape and the neck."""
        f = self.f
        a = np.abs(np.nan_to_num(self.az))
        beyond = np.clip(a - f.mouth_az, 0, None)
        el_b = np.minimum(f.mouth_el + 0.30 * beyond, -4.0)  # never above the cheekbones
        width = np.where(beyond > 0, np.minimum(1.5 + 0.2 * beyond, 8.0), 1e-6)
        w = _smooth((el_b - self.el) / (2 * width) + 0.5)
        w = np.where((beyond == 0) & (self.side == -1), 1.0, w)
        w = np.where((beyond == 0) & (self.side == 1), 0.0, w)
        w = w * (1 - _smooth((a - 75) / 35)) * (1 - _smooth((-self.el - 44) / 18))
        w = np.where(self.skin, w, 0.0)
        w = np.where(self.bag, np.where(self.side < 0, 1.0, np.where(self.side > 0, 0.0, 0.5)), w)
        w = np.where((self.part == TONGUE) | (self.part == TEETH_LO), 1.0, w)
        return w

    def _lip_band(self):
        """1 on the lips near the lip line, fading over ~14 mm up/down and past the corners."""
        xc = abs(self.corner[0])
        vert = np.clip(1 - ((self.z - shape.MOUTH_Z) / 0.014) ** 2, 0, None) ** 2
        lat = np.clip(1 - (np.clip(np.abs(self.x) - xc, 0, None) / 0.012) ** 2, 0, None) ** 2
        front = _smooth((-0.055 - self.y) / 0.015)
        band = np.where(self.skin, vert * lat * front, 0.0)
        band = np.where(self.bag & (self.ring == 1), lat, band)
        band = np.where(self.bag & (self.ring == 2), 0.5 * lat, band)
        return band

    def jaw_rotation(self, angle=JAW_ANGLE):
        """Offsets of the full jaw rotation (unweighted) for every vertex."""
        return _rot_x(self.p, shape.JAW_HINGE, angle)


def _eye(ctx: _Ctx):
    """Per-column lid data of the left eye: margin angles about the eye centre."""
    e = shape.EYE_CENTRE
    phi = np.arctan2(ctx.z - e[2], -(ctx.y - e[1]))  # 0 looking forward, + upwards
    slit_row = ctx.row == int(ctx.row[(ctx.skin & (ctx.side != 0) & (ctx.az > ctx.f.eye_az_in))].max())
    gap = np.zeros(ctx.p.shape[0])
    phi_up = np.zeros(ctx.p.shape[0])
    phi_lo = np.zeros(ctx.p.shape[0])
    cols = np.unique(ctx.col[ctx.skin & slit_row & (ctx.side != 0) & (ctx.az > 0)])
    for c in cols:
        u = np.flatnonzero(ctx.skin & slit_row & (ctx.col == c) & (ctx.side == 1) & (ctx.ring == -1))[0]
        lo = np.flatnonzero(ctx.skin & slit_row & (ctx.col == c) & (ctx.side == -1) & (ctx.ring == -1))[0]
        same = ctx.col == c
        gap[same] = phi[u] - phi[lo]
        phi_up[same] = phi[u]
        phi_lo[same] = phi[lo]
    dist = np.linalg.norm(ctx.p - e, axis=1)
    near = ctx.skin & (ctx.x > 0) & (dist < 0.021)
    upper = near & (ctx.row >= ctx.row[slit_row].max()) & (ctx.side >= 0)
    lower = near & (ctx.row <= ctx.row[slit_row].max()) & (ctx.side <= 0)
    return phi, gap, phi_up, phi_lo, upper, lower, dist


def _lid_offsets(ctx, amount_up, amount_lo):
    """Rotate the left lids about the eye centre: the upper margin by ``amount_up`` x gap
    (negative closes), the lower by ``amount_lo`` x gap (positive raises)."""
    phi, gap, phi_up, phi_lo, upper, lower, dist = _eye(ctx)
    e = shape.EYE_CENTRE
    fade = 1 - _smooth((dist - 0.0165) / 0.0045)
    g_up = (1 - _smooth((phi - phi_up - 0.22) / 0.40)) * fade * upper
    g_lo = (1 - _smooth((phi_lo - phi - 0.15) / 0.35)) * fade * lower
    raise_by = amount_up * gap * g_up + amount_lo * gap * g_lo  # in phi: + moves up
    return _rot_x(ctx.p, e, -raise_by)  # a rotation by +a about +x lowers phi by a


def _left_targets(ctx: _Ctx) -> dict[str, np.ndarray]:
    p, x, y, z = ctx.p, ctx.x, ctx.y, ctx.z
    soft, skin = ctx.soft, ctx.skin
    gl = ctx.gate_left
    up, lo = ctx.lip_side > 0, ctx.lip_side < 0
    C = ctx.corner
    t = {}
    vec = lambda v: np.asarray(v, float)[None, :]  # noqa: E731
    z_brow = _smooth((z - 0.016) / 0.008) * skin

    # ---- brows
    t["browDownLeft"] = vec([-0.0015, -0.001, -0.0048]) * (
        _fall(p, [0.026, -0.084, 0.036], [0.026, 0.03, 0.017]) * z_brow * gl)[:, None]
    t["browInnerUp"] = vec([0.0, -0.0005, 0.0065]) * (
        (_fall(p, [0.013, -0.086, 0.036], [0.02, 0.03, 0.03])
         + _fall(p, [-0.013, -0.086, 0.036], [0.02, 0.03, 0.03])) * z_brow)[:, None]
    t["browOuterUpLeft"] = vec([0.0, 0.0, 0.0058]) * (
        _fall(p, [0.043, -0.073, 0.038], [0.02, 0.03, 0.022]) * z_brow * gl)[:, None]

    # ---- cheeks and nose
    puff = (_fall(p, [0.042, -0.072, -0.040], [0.022, 0.03, 0.022])
            + _fall(p, [-0.042, -0.072, -0.040], [0.022, 0.03, 0.022])) * skin
    t["cheekPuff"] = ctx.normals * (0.011 * puff)[:, None]
    t["cheekSquintLeft"] = (vec([0.0, -0.001, 0.0042])
                            * (_fall(p, [0.038, -0.075, -0.012], [0.02, 0.03, 0.02]) * skin * gl)[:, None]
                            + _lid_offsets(ctx, 0.0, 0.15))
    t["noseSneerLeft"] = vec([0.0008, -0.0004, 0.0042]) * (
        _fall(p, [0.012, -0.088, -0.010], [0.014, 0.03, 0.02]) * skin * gl)[:, None]

    # ---- eyes
    t["eyeBlinkLeft"] = _lid_offsets(ctx, -0.995, 0.0)
    t["eyeWideLeft"] = _lid_offsets(ctx, 0.30, -0.12)
    t["eyeSquintLeft"] = (_lid_offsets(ctx, -0.10, 0.32)
                          + vec([0.0, -0.0008, 0.0022])
                          * (_fall(p, shape.EYE_CENTRE + [0.0, -0.012, -0.016], [0.016, 0.03, 0.01])
                             * skin * gl)[:, None])
    ball = (ctx.part == EYE_L)[:, None]
    e = shape.EYE_CENTRE
    t["eyeLookUpLeft"] = _rot_x(p, e, np.full(len(p), -EYE_LOOK_UPDOWN)) * ball
    t["eyeLookDownLeft"] = _rot_x(p, e, np.full(len(p), EYE_LOOK_UPDOWN)) * ball
    t["eyeLookInLeft"] = _rot_z(p, e, np.full(len(p), -EYE_LOOK_SIDE)) * ball
    t["eyeLookOutLeft"] = _rot_z(p, e, np.full(len(p), EYE_LOOK_SIDE)) * ball

    # ---- jaw
    jw = ctx.jaw_w[:, None]
    J = ctx.jaw_rotation()
    t["jawOpen"] = J * jw
    t["jawForward"] = vec([0.0, -0.0075, 0.0]) * jw
    t["jawLeft"] = vec([0.0095, 0.0, 0.0]) * jw

    # ---- mouth
    lips = ctx.lips
    t["mouthClose"] = J * (0.5 * lips * np.where(up, 1.0, np.where(lo, -1.0, 0.0)))[:, None]
    u = np.clip(x / abs(C[0]), -1, 1)
    open_prof = np.cos(u * np.pi / 2)
    sgn = np.where(up, 1.0, np.where(lo, -1.0, 0.0))
    t["mouthFunnel"] = np.stack([-0.22 * x * lips, -0.0085 * lips, 0.0042 * sgn * open_prof * lips], 1)
    t["mouthPucker"] = np.stack([-0.42 * x * lips, -0.0115 * lips, -0.0012 * sgn * lips * (1 - open_prof * 0.3)], 1)
    around = _fall(p, [0.0, -0.085, shape.MOUTH_Z], [0.05, 0.04, 0.032]) * soft
    t["mouthLeft"] = vec([0.0095, 0.0005, 0.0]) * around[:, None]
    corner_f = lambda r, dc=(0, 0, 0): _fall(p, C + np.asarray(dc), r) * soft * gl  # noqa: E731
    t["mouthSmileLeft"] = (vec([0.0062, 0.0032, 0.0068]) * corner_f([0.026, 0.03, 0.024])[:, None]
                           + vec([0.0, -0.001, 0.003])
                           * (_fall(p, [0.036, -0.075, -0.024], [0.018, 0.03, 0.018]) * skin * gl)[:, None])
    t["mouthFrownLeft"] = vec([0.0015, 0.0, -0.006]) * corner_f([0.022, 0.03, 0.022])[:, None]
    t["mouthDimpleLeft"] = vec([0.0025, 0.0055, 0.0004]) * corner_f([0.02, 0.03, 0.02], (0.003, 0.0, 0.0))[:, None]
    t["mouthStretchLeft"] = vec([0.0068, 0.0016, -0.0032]) * corner_f([0.028, 0.03, 0.026])[:, None]
    side_lip = lambda c: _fall(p, c, [0.021, 0.03, 0.022]) * soft * gl  # noqa: E731
    t["mouthLowerDownLeft"] = vec([0.0, -0.001, -0.0058]) * (
        side_lip([0.011, -0.09, shape.MOUTH_Z - 0.004]) * (lo + 0.5 * (ctx.lip_side == 0)))[:, None]
    t["mouthUpperUpLeft"] = vec([0.0, -0.001, 0.0055]) * (
        side_lip([0.011, -0.09, shape.MOUTH_Z + 0.004]) * (up + 0.5 * (ctx.lip_side == 0)))[:, None]
    press = side_lip([0.012, -0.09, shape.MOUTH_Z]) * lips
    t["mouthPressLeft"] = np.stack([0.001 * press, 0.0014 * press, -0.38 * (z - shape.MOUTH_Z) * press], 1)
    roll_w_lo = lips * lo * _smooth((abs(C[0]) + 0.002 - np.abs(x)) / 0.01)
    roll_w_up = lips * up * _smooth((abs(C[0]) + 0.002 - np.abs(x)) / 0.01)
    t["mouthRollLower"] = _rot_x(p, np.array([0.0, -0.079, shape.MOUTH_Z - 0.0065]), -0.75 * roll_w_lo)
    t["mouthRollUpper"] = _rot_x(p, np.array([0.0, -0.081, shape.MOUTH_Z + 0.0062]), 0.75 * roll_w_up)
    # Shrugs push one lip; the other lip's edge follows so the lips never cross.
    zc = np.where(up, np.maximum(z, shape.MOUTH_Z), np.minimum(z, shape.MOUTH_Z))
    at_line = p.copy()
    at_line[:, 2] = shape.MOUTH_Z
    f_lo = np.where(lo | (ctx.lip_side == 0), _fall(p, [0.0, -0.085, -0.066], [0.032, 0.035, 0.03]),
                    _fall(at_line, [0.0, -0.085, -0.066], [0.032, 0.035, 0.03])
                    * _smooth(1 - (zc - shape.MOUTH_Z) / 0.008))
    t["mouthShrugLower"] = vec([0.0, -0.0028, 0.0036]) * (f_lo * soft)[:, None]
    f_up = np.where(up | (ctx.lip_side == 0), _fall(p, [0.0, -0.09, -0.040], [0.03, 0.035, 0.02]),
                    _fall(at_line, [0.0, -0.09, -0.040], [0.03, 0.035, 0.02])
                    * _smooth(1 - (shape.MOUTH_Z - zc) / 0.008))
    t["mouthShrugUpper"] = vec([0.0, -0.0022, 0.0032]) * (f_up * soft)[:, None]

    # ---- tongue: out between parted lips (the jaw drops a little to let it through)
    tongue = (ctx.part == TONGUE)
    tip = _smooth((-(y - (-0.050))) / 0.022)  # 0 at the back of the tongue, 1 at the tip
    t_out = np.stack([np.zeros_like(x), -0.037 * np.ones_like(x), -0.004 - 0.004 * tip], 1) * tongue[:, None]
    t["tongueOut"] = 0.38 * J * jw + t_out
    return t


def compute_targets(head: HeadMesh) -> np.ndarray:
    """The 52 offsets (52, V, 3) float32 in ``ARKIT_NAMES`` order."""
    ctx = _Ctx(head)
    left = _left_targets(ctx)
    m = head.mirror
    out = np.zeros((NUM_BLENDSHAPES,) + head.verts.shape, np.float64)
    for i, name in enumerate(ARKIT_NAMES):
        if name.endswith("Right"):
            out[i] = left[name[:-5] + "Left"][m] * MIRROR
        elif name in left:
            d = left[name]
            out[i] = d if name.endswith("Left") else 0.5 * (d + d[m] * MIRROR)
        else:
            raise KeyError(f"no displacement written for {name}")
    out[np.abs(out) < 1e-7] = 0.0  # exact zeros outside the falloffs: smaller files
    return out.astype(np.float32)


__all__ = ["compute_targets", "vertex_normals", "SLIT_FALLOFF"]
