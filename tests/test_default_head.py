"""The shipped default head: size, determinism, closed mouth/eyes, and every target doing what its
name says (region, direction, mirror symmetry)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.spatial import cKDTree

from emotalk_blender.engine.formats import templates
from emotalk_blender.engine.arkit import ARKIT_NAMES, mirror
from emotalk_blender.training.head import TARGET_REGIONS, make_default_head
from emotalk_blender.training.head import shape

MOVE = 1e-6  # metres: a vertex "moves" if a target displaces it by more than this


@pytest.fixture(scope="module")
def head():
    return templates.load_template_set(templates.stylised_template_path())


@pytest.fixture(scope="module")
def mirror_map(head):
    """Mirror partner of each vertex, found from the neutral geometry alone."""
    dist, idx = cKDTree(head.neutral).query(head.neutral * [-1, 1, 1])
    assert dist.max() < 1e-7, "the neutral head is not mirror-symmetric"
    return idx


def moved(head, name):
    return np.flatnonzero(np.linalg.norm(head.delta(name), axis=1) > MOVE)


def test_file_is_small_float32_and_big_enough(head):
    path = templates.stylised_template_path()
    assert path.stat().st_size < 3e6
    assert head.num_vertices >= 3000
    assert head.neutral.dtype == np.float32 and head.deltas.dtype == np.float32
    assert head.units == "m" and "GPL" in head.metadata["licence"]
    for region in ("lips", "eyes", "forehead", "face", "tongue", "eyeball_left", "mouth_cavity"):
        assert head.region(region).size > 0


def test_generator_is_deterministic_and_file_is_current(head):
    fresh = make_default_head()
    np.testing.assert_array_equal(fresh.neutral, head.neutral)
    np.testing.assert_array_equal(fresh.deltas, head.deltas)
    np.testing.assert_array_equal(fresh.face_indices, head.face_indices)
    assert {k: v.tolist() for k, v in fresh.regions.items()} == {k: v.tolist() for k, v in head.regions.items()}


def test_mesh_is_consistently_wound_and_only_hidden_edges_are_open(head):
    """Each directed edge once (consistent normals); the only open borders are the lid rims,
    tucked inside the eyeballs, so neither an open jaw nor an open eye shows a hole."""
    edges = Counter()
    for f in head.faces():
        for a, b in zip(f, np.roll(f, -1)):
            edges[(a, b)] += 1
    assert max(edges.values()) == 1
    undirected = Counter((min(a, b), max(a, b)) for a, b in edges)
    border = {v for e, c in undirected.items() if c == 1 for v in e}
    assert border, "expected the lid rims as the only open borders"
    eyes = np.array([shape.EYE_CENTRE, shape.EYE_CENTRE * [-1, 1, 1]])
    for state in (head.neutral, head.neutral + head.delta("jawOpen") + head.delta("eyeWideLeft")):
        d = np.linalg.norm(state[list(border)][:, None] - eyes[None], axis=2).min(axis=1)
        assert d.max() < shape.EYE_RADIUS, "an open border lies outside the eyeballs"


def test_every_target_moves_something(head):
    for name in ARKIT_NAMES:
        assert np.abs(head.delta(name)).max() > 1e-3, f"{name} barely moves"


@pytest.mark.parametrize("name", ARKIT_NAMES)
def test_target_stays_in_its_regions(head, name):
    allowed = np.unique(np.concatenate([head.region(r) for r in TARGET_REGIONS[name]]))
    outside = np.setdiff1d(moved(head, name), allowed)
    assert outside.size == 0, f"{name} moves {outside.size} vertices outside {TARGET_REGIONS[name]}"


@pytest.mark.parametrize("left", [n for n in ARKIT_NAMES if n.endswith("Left")])
def test_left_right_pairs_mirror_exactly(head, mirror_map, left):
    right = mirror(left)
    np.testing.assert_array_equal(head.delta(right), head.delta(left)[mirror_map] * [-1, 1, 1])
    if left not in ("jawLeft", "mouthLeft"):  # the sided targets act on their own side only
        x = head.neutral[moved(head, left), 0]
        assert x.min() > -0.0025, f"{left} moves the right side"


@pytest.mark.parametrize("name", [n for n in ARKIT_NAMES if not n.endswith(("Left", "Right"))])
def test_unsided_targets_are_symmetric(head, mirror_map, name):
    d = head.delta(name)
    np.testing.assert_array_equal(d, d[mirror_map] * [-1, 1, 1])


# ------------------------------------------------------------------ directions

def _pick(head, region, key):
    idx = head.region(region)
    return idx[np.argmax(key(head.neutral[idx]))]


def _centroid_shift(head, name, region):
    idx = head.region(region)
    return head.delta(name)[idx].mean(axis=0)


def test_jaw_targets(head):
    chin = _pick(head, "jaw", lambda p: -p[:, 1] - 5 * np.abs(p[:, 0]) - 10 * (p[:, 2] > -0.08))  # front-most low point
    assert head.delta("jawOpen")[chin, 2] < -0.015  # chin drops by centimetres
    lower_lip = _pick(head, "lips", lambda p: -np.abs(p[:, 0]) - p[:, 1] - 10 * (p[:, 2] > shape.MOUTH_Z))
    upper_lip = _pick(head, "lips", lambda p: -np.abs(p[:, 0]) - p[:, 1] - 10 * (p[:, 2] < shape.MOUTH_Z))
    assert head.delta("jawOpen")[lower_lip, 2] < -0.01
    assert abs(head.delta("jawOpen")[upper_lip]).max() < 1e-4  # the upper lip stays
    assert head.delta("jawForward")[chin, 1] < -0.005  # forward is -Y
    assert head.delta("jawLeft")[chin, 0] > 0.005  # the character's left is +X
    assert head.delta("jawRight")[chin, 0] < -0.005
    forehead = head.region("forehead")
    assert np.abs(head.delta("jawOpen")[forehead]).max() == 0
    tongue = head.region("tongue")
    assert head.delta("jawOpen")[tongue, 2].mean() < -0.005  # the tongue rides on the jaw


def _lip_gap(head, weights):
    """Vertical distance between the middle of the upper and lower lip edges."""
    v = head.vertices(weights)
    skin_lips = head.region("lips")
    p = head.neutral[skin_lips]
    front = skin_lips[(np.abs(p[:, 0]) < 0.003) & (p[:, 1] < -0.08)]
    up = front[head.neutral[front, 2] >= shape.MOUTH_Z]
    lo = front[head.neutral[front, 2] < shape.MOUTH_Z]
    return v[up, 2].min() - v[lo, 2].max()


def test_mouth_close_brings_lips_together_against_open_jaw(head):
    w = np.zeros(52, np.float32)
    w[ARKIT_NAMES.index("jawOpen")] = 1
    open_gap = _lip_gap(head, w)
    w[ARKIT_NAMES.index("mouthClose")] = 1
    closed_gap = _lip_gap(head, w)
    assert open_gap > 0.015 and abs(closed_gap) < 0.002


def test_lip_corner_targets(head):
    corner = _pick(head, "lips", lambda p: -np.linalg.norm(p - shape.MOUTH_CORNER, axis=1))  # left corner
    d = {n: head.delta(n)[corner] for n in ARKIT_NAMES}
    assert d["mouthSmileLeft"][2] > 0.003 and d["mouthSmileLeft"][0] > 0.003  # up and out
    assert d["mouthFrownLeft"][2] < -0.003
    assert d["mouthStretchLeft"][0] > 0.003
    assert d["mouthDimpleLeft"][1] > 0.003  # back, into the cheek
    assert d["mouthPucker"][0] < -0.005 and d["mouthPucker"][1] < -0.005  # in and forward
    assert d["mouthFunnel"][1] < -0.004
    assert d["mouthLeft"][0] > 0.004 and d["mouthRight"][0] < -0.004  # the whole mouth shifts
    assert np.linalg.norm(d["mouthSmileRight"]) < 1e-4  # the right smile leaves the left corner


def test_lip_targets(head):
    lips = head.region("lips")
    p = head.neutral[lips]
    upper = lips[(p[:, 2] > shape.MOUTH_Z + 0.002) & (p[:, 1] < -0.08)]
    lower = lips[(p[:, 2] < shape.MOUTH_Z - 0.002) & (p[:, 1] < -0.08)]
    left_lower, left_upper = lower[head.neutral[lower, 0] > 0.008], upper[head.neutral[upper, 0] > 0.008]
    assert head.delta("mouthLowerDownLeft")[left_lower, 2].mean() < -0.002
    assert head.delta("mouthUpperUpLeft")[left_upper, 2].mean() > 0.002
    for name, lip in (("mouthRollLower", lower), ("mouthRollUpper", upper)):  # rolls inwards (+Y)
        assert head.delta(name)[lip, 1].max() > 0.004 and head.delta(name)[lip, 1].mean() > 0, name
    assert head.delta("mouthShrugLower")[lower, 2].mean() > 0.001
    assert head.delta("mouthShrugUpper")[upper, 2].mean() > 0.001
    # mouthPress thins the lips: upper lip vertices move down, lower lip vertices up
    assert head.delta("mouthPressLeft")[left_upper, 2].mean() < 0 < head.delta("mouthPressLeft")[left_lower, 2].mean()
    assert head.delta("mouthFunnel")[upper, 2].mean() > 0 > head.delta("mouthFunnel")[lower, 2].mean()


def test_tongue_out_leaves_the_mouth(head):
    tongue = head.region("tongue")
    lips_front = head.neutral[head.region("lips"), 1].min()
    tip_after = (head.neutral[tongue] + head.delta("tongueOut")[tongue])[:, 1].min()
    assert head.neutral[tongue, 1].min() > lips_front  # inside at rest
    assert tip_after < lips_front - 0.005  # out beyond the lips


def test_eye_targets(head):
    up_l = head.region("upper_lid_left")
    lo_l = head.region("lower_lid_left")
    blink = head.delta("eyeBlinkLeft")
    assert blink[up_l, 2].min() < -0.007  # the lid margin drops to the lower lid
    assert np.setdiff1d(moved(head, "eyeBlinkLeft"), up_l).size == 0
    assert np.abs(blink[lo_l]).max() == 0 and np.abs(blink[head.region("upper_lid_right")]).max() == 0
    assert head.delta("eyeWideLeft")[up_l, 2].max() > 0.002
    assert head.delta("eyeSquintLeft")[lo_l, 2].max() > 0.002
    iris = "iris_left"
    assert _centroid_shift(head, "eyeLookUpLeft", iris)[2] > 0.003
    assert _centroid_shift(head, "eyeLookDownLeft", iris)[2] < -0.003
    assert _centroid_shift(head, "eyeLookInLeft", iris)[0] < -0.003  # towards the nose
    assert _centroid_shift(head, "eyeLookOutLeft", iris)[0] > 0.003
    assert _centroid_shift(head, "eyeLookInRight", "iris_right")[0] > 0.003


def test_brow_cheek_nose_targets(head):
    brows = head.region("brows")
    p = head.neutral[brows]
    inner = brows[(np.abs(p[:, 0]) < 0.015) & (p[:, 2] < 0.045)]
    outer_left = brows[(p[:, 0] > 0.035) & (p[:, 2] < 0.05)]
    left = brows[p[:, 0] > 0.01]
    for name, where in (("browInnerUp", inner), ("browOuterUpLeft", outer_left)):
        dz = head.delta(name)[where, 2]
        assert dz.max() > 0.004 and dz.min() >= 0, name
    assert head.delta("browDownLeft")[left, 2].min() < -0.003
    puff = head.delta("cheekPuff")[head.region("cheek_left")]
    outward = head.neutral[head.region("cheek_left")] - [0, 0, shape.RAY_ORIGIN[2]]
    assert (np.einsum("ij,ij->i", puff, outward) >= 0).all() and np.abs(puff).max() > 0.006
    assert head.delta("cheekSquintLeft")[head.region("cheek_left"), 2].max() > 0.003
    assert head.delta("noseSneerLeft")[head.region("nose"), 2].max() > 0.003
