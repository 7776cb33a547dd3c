"""Named vertex regions of the default head, defined from the neutral geometry alone.

They serve the metrics (lips -> LVE; eyes + forehead -> EVE; face -> mean error) and the tests
(every target may move vertices only inside the regions ``TARGET_REGIONS`` gives it). The
targets' falloffs are written separately (``targets.py``), so the test is a real check.
"""
from __future__ import annotations

import numpy as np

from ...engine.arkit import ARKIT_NAMES
from . import shape
from .build import BAG, EYE_L, EYE_R, SKIN, TEETH_LO, TEETH_UP, TONGUE, HeadMesh

BROW_Z = 0.016  # brow targets leave everything below this height alone
CHEEK_CENTRE = np.array([0.040, -0.062, -0.030])
NOSE_CENTRE = np.array([0.0, -0.090, -0.012])


def compute_regions(head: HeadMesh) -> dict[str, np.ndarray]:
    v, a = head.verts, head.attrs
    part = a["part"]
    skin = part == SKIN
    x, y, z = v.T
    az = a["az"]
    eye_l, eye_r = shape.EYE_CENTRE, shape.EYE_CENTRE * [-1, 1, 1]
    corner_x = shape.MOUTH_CORNER[0]
    r = {}
    r["tongue"] = part == TONGUE
    r["teeth"] = (part == TEETH_UP) | (part == TEETH_LO)
    r["mouth_cavity"] = part == BAG
    r["eyeball_left"] = part == EYE_L
    r["eyeball_right"] = part == EYE_R
    for side, centre, ball in (("left", eye_l, EYE_L), ("right", eye_r, EYE_R)):
        rel = v - centre
        gaze = -rel[:, 1] / np.maximum(np.linalg.norm(rel, axis=1), 1e-12)
        r[f"iris_{side}"] = (part == ball) & (gaze > np.cos(0.5))  # cornea and iris, for materials
    r["lips"] = (skin & (np.abs(x) < corner_x + 0.005) & (y < -0.07)
                 & (np.abs(z - shape.MOUTH_Z) < 0.0125)) | ((part == BAG) & (a["ring"] == 1))
    inner_mouth = (part == BAG) | (part == TONGUE) | (part == TEETH_UP) | (part == TEETH_LO)
    mouth_d = np.linalg.norm((v - [0.0, -0.08, shape.MOUTH_Z]) / [0.052, 0.05, 0.042], axis=1)
    r["mouth"] = (skin & (mouth_d < 1.0)) | inner_mouth
    r["jaw"] = (skin & (z < -0.004) & (np.abs(az) < 125) & (z > -0.16)) | inner_mouth
    for side, centre in (("left", eye_l), ("right", eye_r)):
        d = np.linalg.norm(v - centre, axis=1)
        lid = skin & (d < 0.021) & ((np.abs(az) > head.features.eye_az_in - 0.01)
                                    & (np.abs(az) < head.features.eye_az_out + 0.01))
        on_side = x > 0 if side == "left" else x < 0
        r[f"upper_lid_{side}"] = lid & on_side & (z > centre[2] - 0.0005) & (a["row"] >= _eye_row(head))
        r[f"lower_lid_{side}"] = lid & on_side & (a["row"] <= _eye_row(head)) & (a["side"] <= 0)
        r[f"eye_{side}"] = skin & (d < 0.034) & on_side
    r["eyes"] = r["eye_left"] | r["eye_right"]
    r["forehead"] = skin & (z > BROW_Z) & (y < -0.02) & (z < 0.11) & (np.abs(az) < 70)
    r["brows"] = r["forehead"]
    for side, sgn in (("left", 1), ("right", -1)):
        c = CHEEK_CENTRE * [sgn, 1, 1]
        r[f"cheek_{side}"] = skin & (np.linalg.norm(v - c, axis=1) < 0.036) & (sgn * x > 0)
    r["cheeks"] = r["cheek_left"] | r["cheek_right"]
    r["nose"] = skin & (np.linalg.norm((v - NOSE_CENTRE) / [0.034, 0.05, 0.03], axis=1) < 1.0)
    r["face"] = (skin & (np.abs(az) < 85) & (a["el"] > -60) & (a["el"] < 58)) | (part != SKIN)
    return {k: np.flatnonzero(m).astype(np.int32) for k, m in r.items()}


def _eye_row(head: HeadMesh) -> int:
    rows = head.attrs["row"][(head.attrs["part"] == SKIN) & (head.attrs["side"] != 0)
                             & (np.abs(head.attrs["az"]) > head.features.eye_az_in)]
    return int(rows.max())


def _sided(prefix: str, *names: str) -> dict[str, tuple[str, ...]]:
    out = {}
    for side in ("Left", "Right"):
        out[f"{prefix}{side}"] = tuple(n.format(side=side.lower()) for n in names)
    return out


# The regions each target may move (tests check every moved vertex lies inside their union).
TARGET_REGIONS: dict[str, tuple[str, ...]] = {
    **_sided("browDown", "brows"), "browInnerUp": ("brows",), **_sided("browOuterUp", "brows"),
    "cheekPuff": ("cheeks",), **_sided("cheekSquint", "cheek_{side}", "eye_{side}"),
    **_sided("eyeBlink", "upper_lid_{side}"),
    **_sided("eyeLookDown", "eyeball_{side}"), **_sided("eyeLookIn", "eyeball_{side}"),
    **_sided("eyeLookOut", "eyeball_{side}"), **_sided("eyeLookUp", "eyeball_{side}"),
    **_sided("eyeSquint", "eye_{side}"), **_sided("eyeWide", "eye_{side}"),
    "jawForward": ("jaw",), "jawLeft": ("jaw",), "jawOpen": ("jaw",), "jawRight": ("jaw",),
    "mouthClose": ("mouth",), **_sided("mouthDimple", "mouth"), **_sided("mouthFrown", "mouth"),
    "mouthFunnel": ("mouth",), "mouthLeft": ("mouth",), **_sided("mouthLowerDown", "mouth"),
    **_sided("mouthPress", "mouth"), "mouthPucker": ("mouth",), "mouthRight": ("mouth",),
    "mouthRollLower": ("mouth",), "mouthRollUpper": ("mouth",), "mouthShrugLower": ("mouth",),
    "mouthShrugUpper": ("mouth",), **_sided("mouthSmile", "mouth", "cheek_{side}"),
    **_sided("mouthStretch", "mouth"), **_sided("mouthUpperUp", "mouth"),
    **_sided("noseSneer", "nose"), "tongueOut": ("jaw", "mouth"),
}
assert sorted(TARGET_REGIONS) == list(ARKIT_NAMES)
