"""The ICT-FaceKit head (flame_templates/ict_facekit.npz): the default template set.

Each of the 52 targets moves its own part of the face the way its ARKit name says; Left/Right
pairs mirror; jawOpen carries the lower teeth and the tongue; eyeLook* turn the eyeballs about
their centres; tongueOut brings the tongue past the teeth; identities change the face and leave
the targets (so a take) unchanged. numpy only (Blender side: test_blender_ict_head.py).
"""
from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from emotalk_blender.engine.formats import identity, templates
from emotalk_blender.engine.arkit import ARKIT_NAMES

REPO = Path(__file__).resolve().parents[1]
MM = 1e-3


@pytest.fixture(scope="module")
def head():
    return templates.load_template_set(templates.default_template_path())


def moved(head, name, frac=0.3):
    """Vertices a target moves by more than ``frac`` of its largest displacement."""
    m = np.linalg.norm(head.delta(name), axis=1)
    return np.flatnonzero(m > frac * m.max())


def centre(head, region):
    return head.neutral[head.region(region)].mean(0)


def test_is_the_default_small_float16_and_credited(head):
    path = templates.default_template_path()
    assert path.name == "ict_facekit.npz"
    assert path.stat().st_size <= 15e6
    with zipfile.ZipFile(path) as z, z.open("deltas.npy") as fh:
        assert np.lib.format.read_array(fh).dtype == np.float16  # stored half precision
    assert "MIT" in head.metadata["licence"] and "ICT-FaceKit" in head.metadata["source"]
    assert head.num_vertices > 25000 and head.units == "m"
    assert head.identity is not None and head.identity.shape[0] >= 10
    assert head.uv.shape == (head.face_indices.size, 2)
    assert set(head.material_names) >= {"skin", "sclera", "cornea", "iris", "pupil", "teeth",
                                        "gums_tongue", "eyelashes"}
    for region in ("lips", "eyes", "forehead", "face", "tongue", "teeth_upper", "teeth_lower",
                   "eyeball_left", "eyeball_right"):
        assert head.region(region).size > 0


def test_origin_is_a_neck_pivot_below_and_behind_the_jaw(head):
    chin_z = head.neutral[head.region("teeth_lower")][:, 2].min()
    lower = head.neutral[head.region("teeth_lower")]
    assert abs(head.neutral[:, 0].mean()) < 1e-3  # on the midline
    assert head.neutral[head.region("eyeball_left")][:, 2].min() > 0.05  # the face is above it
    assert chin_z > -0.01  # roughly at the jaw's height
    assert lower[:, 1].min() < -0.08  # the teeth are well in front of it


# Per target: (side: +1 left / -1 right / 0 middle, band: where its motion is, axis, sign).
# Axes: x = character's left, y = back (the face looks towards -y), z = up.
BROW, EYE, CHEEK, MOUTH, JAW = "brow", "eye", "cheek", "mouth", "jaw"
EXPECTED = {
    "browDown": (BROW, 2, -1), "browInnerUp": (BROW, 2, +1), "browOuterUp": (BROW, 2, +1),
    "cheekPuff": (CHEEK, 1, -1), "cheekSquint": (CHEEK, 2, +1),
    "eyeBlink": (EYE, 2, -1), "eyeLookDown": (EYE, 2, -1), "eyeLookUp": (EYE, 2, +1),
    "eyeLookIn": (EYE, 0, "in"), "eyeLookOut": (EYE, 0, "out"),
    "eyeSquint": (EYE, 2, +1), "eyeWide": (EYE, 2, +1),
    "jawForward": (JAW, 1, -1), "jawLeft": (JAW, 0, +1), "jawRight": (JAW, 0, -1), "jawOpen": (JAW, 2, -1),
    "mouthClose": (MOUTH, 2, +1), "mouthDimple": (MOUTH, 1, +1), "mouthFrown": (MOUTH, 2, -1),
    "mouthFunnel": (MOUTH, 1, -1), "mouthLeft": (MOUTH, 0, +1), "mouthRight": (MOUTH, 0, -1),
    "mouthLowerDown": (MOUTH, 2, -1), "mouthPress": (MOUTH, 2, +1), "mouthPucker": (MOUTH, 1, -1),
    "mouthRollLower": (MOUTH, 1, +1), "mouthRollUpper": (MOUTH, 1, +1), "mouthShrugLower": (MOUTH, 2, +1),
    "mouthShrugUpper": (MOUTH, 2, +1), "mouthSmile": (MOUTH, 2, +1), "mouthStretch": (MOUTH, 0, "out"),
    "mouthUpperUp": (MOUTH, 2, +1), "noseSneer": (MOUTH, 2, +1), "tongueOut": (MOUTH, 1, -1),
}


def _split(name):
    for side, s in (("Left", +1), ("Right", -1)):
        if name.endswith(side) and name[: -len(side)] in EXPECTED:
            return name[: -len(side)], s
    return name, 0


@pytest.mark.parametrize("name", ARKIT_NAMES)
def test_each_target_moves_its_region_in_its_direction(head, name):
    base, side = _split(name)
    band, axis, sign = EXPECTED[base]
    idx = moved(head, name)
    c = head.neutral[idx].mean(0)
    d = head.delta(name)[idx].mean(0)
    eye_z = centre(head, "eyeball_left")[2]
    mouth_z = centre(head, "lips")[2]
    z_range = {BROW: (eye_z + 0.01, eye_z + 0.06), EYE: (eye_z - 0.02, eye_z + 0.015),
               CHEEK: (mouth_z - 0.01, eye_z - 0.01), MOUTH: (mouth_z - 0.025, mouth_z + 0.025),
               JAW: (mouth_z - 0.04, mouth_z + 0.01)}[band]
    assert z_range[0] < c[2] < z_range[1], f"{name} moves the wrong band (z {c[2]:.3f})"
    if side:
        assert np.sign(c[0]) == side and abs(c[0]) > 0.005, f"{name} moves the other side"
    elif base not in ("mouthLeft", "mouthRight", "jawLeft", "jawRight"):
        assert abs(c[0]) < 0.002, f"{name} is not centred"
    if sign == "in":
        sign, axis = -side, 0
    elif sign == "out":
        sign, axis = side, 0
    assert np.sign(d[axis]) == sign and abs(d[axis]) > 0.5 * MM, f"{name} moves the wrong way: {d}"


def test_left_right_pairs_mirror(head):
    cKDTree = pytest.importorskip("scipy.spatial").cKDTree  # scipy: not in the bpy 5.2 venv
    v = head.neutral
    dist, partner = cKDTree(v).query(v * [-1, 1, 1])
    sym = dist < 0.1 * MM  # vertices with a mirror partner (the whole ICT mesh is symmetric)
    assert sym.mean() > 0.99
    pairs = [n for n in ARKIT_NAMES if n.endswith("Left")]
    assert len(pairs) >= 20  # the sided targets, plus jawLeft and mouthLeft (which mirror too)
    for left in pairs:
        right = left[:-4] + "Right"
        dl, dr = head.delta(left), head.delta(right)
        mirrored = dl[partner] * [-1, 1, 1]
        mag = np.linalg.norm(dr, axis=1)
        region = sym & (mag > 0.1 * mag.max())
        err = np.linalg.norm(mirrored - dr, axis=1)[region]
        # ICT's sculpts mirror to about 2 % (rms) of the motion, at worst 12 % at a vertex
        rel = np.sqrt((err ** 2).mean() / (mag[region] ** 2).mean())
        assert rel < 0.03, f"{left}/{right} differ by {rel:.1%} rms"
        assert err.max() < 0.15 * mag.max(), f"{left}/{right} differ by {err.max() * 1e3:.2f} mm"
        assert np.abs(dl).max() > 1 * MM


def test_jaw_open_carries_lower_teeth_and_tongue(head):
    d = head.delta("jawOpen")
    lower = d[head.region("teeth_lower")]
    assert (lower[:, 2] < -5 * MM).mean() > 0.95  # every lower tooth goes down
    assert np.abs(d[head.region("teeth_upper")]).max() < 0.1 * MM  # the upper ones stay
    tongue = d[head.region("tongue")]
    assert (tongue[:, 2] < -3 * MM).mean() > 0.95
    # rigidly: the lower teeth keep their shape (distances between them change by < 1 mm)
    p0 = head.neutral[head.region("teeth_lower")][::50]
    p1 = p0 + lower[::50]
    dist0 = np.linalg.norm(p0[:, None] - p0[None], axis=-1)
    dist1 = np.linalg.norm(p1[:, None] - p1[None], axis=-1)
    assert np.abs(dist1 - dist0).max() < 1 * MM


def _sphere_centre(points):
    a = np.c_[2 * points, np.ones(len(points))]
    return np.linalg.lstsq(a.astype(np.float64), (points.astype(np.float64) ** 2).sum(1), rcond=None)[0][:3]


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_eye_look_turns_the_eyeball_about_its_centre(head, side):
    ball = head.region(f"eyeball_{side.lower()}")
    other = head.region(f"eyeball_{'right' if side == 'Left' else 'left'}")
    iris = head.region(f"iris_{side.lower()}")
    p = head.neutral[ball]
    shell = np.linalg.norm(p - p.mean(0), axis=1)
    shell = shell > 0.97 * shell.max()  # the sclera's outer sphere
    sgn = 1 if side == "Left" else -1
    sub = np.arange(0, len(ball), 37)
    for direction, axis, sign in (("Up", 2, 1), ("Down", 2, -1), ("Out", 0, sgn), ("In", 0, -sgn)):
        d = head.delta(f"eyeLook{direction}{side}")
        moved_ball = p + d[ball]
        # rigid: distances between the ball's vertices stay; about its centre: the sphere stays put
        before = np.linalg.norm(p[sub, None] - p[None, sub], axis=-1)
        after = np.linalg.norm(moved_ball[sub, None] - moved_ball[None, sub], axis=-1)
        assert np.abs(after - before).max() < 0.05 * MM
        assert np.linalg.norm(_sphere_centre(moved_ball[shell]) - _sphere_centre(p[shell])) < 1 * MM
        front = head.neutral[iris] + d[iris]
        shift = front.mean(0) - head.neutral[iris].mean(0)
        assert np.sign(shift[axis]) == sign and abs(shift[axis]) > 1 * MM, (direction, shift)
        assert np.abs(d[other]).max() == 0  # the other eye stays


def test_tongue_out_passes_the_teeth(head):
    tongue, teeth = head.region("tongue"), head.region("teeth")
    front_teeth = head.neutral[teeth][:, 1].min()  # -y is the front
    assert head.neutral[tongue][:, 1].min() > front_teeth  # at rest the tongue is behind them
    out = head.vertices(np.eye(52, dtype=np.float32)[ARKIT_NAMES.index("tongueOut")])
    assert out[tongue][:, 1].min() < front_teeth - 5 * MM
    assert np.abs(head.delta("tongueOut")[teeth]).max() == 0


def test_identity_changes_the_face_and_keeps_the_targets(head):
    a = identity.identity_weights(head.identity.shape[0], seed=7)
    v = head.identity_neutral(a)
    face = head.region("face")
    change = np.linalg.norm(v[face] - head.neutral[face], axis=1)
    assert change.max() > 3 * MM  # a visibly different face
    assert np.array_equal(head.identity_neutral(np.zeros(len(a))), head.neutral)
    w = np.random.default_rng(0).uniform(0, 1, (3, 52)).astype(np.float32)
    # Eq. 1 on the new face: the same offsets (a take plays unchanged on any identity)
    on_new = templates.blend(v, head.deltas, w)
    np.testing.assert_allclose(on_new - v, head.vertices(w) - head.neutral, atol=1e-6)
    slid = identity.identity_weights(len(a), seed=0, sliders=(2.0,))
    assert slid[0] == 2.0 and not slid[1:].any()
    assert not np.array_equal(identity.identity_weights(len(a), 1), identity.identity_weights(len(a), 2))
    with pytest.raises(identity.IdentityError, match="sliders"):
        identity.identity_weights(len(a), 0, (4.0,))
    with pytest.raises(identity.IdentityError, match="seed"):
        identity.identity_weights(len(a), -1)


ICT = os.environ.get("EMOTALK_ICT_FACEKIT", "/work/data/ict/FaceXModel")


@pytest.mark.skipif(not Path(ICT, "generic_neutral_mesh.obj").is_file(),
                    reason="ICT-FaceKit's OBJs are not here (set EMOTALK_ICT_FACEKIT to its FaceXModel)")
def test_converter_reproduces_the_committed_file(head, tmp_path):
    pytest.importorskip("scipy")  # the converter's nearest-neighbour search
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import convert_ict_facekit
    finally:
        sys.path.pop(0)
    out = tmp_path / "ict.npz"
    convert_ict_facekit.main([ICT, "-o", str(out)])
    again = templates.load_template_set(out)
    np.testing.assert_array_equal(again.neutral, head.neutral)
    np.testing.assert_array_equal(again.deltas, head.deltas)
    np.testing.assert_array_equal(again.identity, head.identity)
    np.testing.assert_array_equal(again.face_materials, head.face_materials)
