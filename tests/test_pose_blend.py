"""Pose blending (engine/motion/pose_blend.py) against scipy's rotations as the reference."""
import numpy as np
import pytest

pytest.importorskip("scipy")  # the reference (the bpy-only venvs have no scipy)
from scipy.spatial.transform import Rotation, Slerp

from emotalk_blender.engine.motion import pose_blend
from emotalk_blender.engine.motion.pose_blend import EULER_ORDERS, Poses


def _wxyz(r: Rotation) -> np.ndarray:
    return np.roll(r.as_quat(), 1, axis=-1)  # scipy is (x, y, z, w)


def _same_rotation(q1, q2, atol=1e-9):
    """Quaternions equal up to sign (q and -q are one rotation)."""
    dots = np.abs(np.sum(np.asarray(q1) * np.asarray(q2), axis=-1))
    np.testing.assert_allclose(dots, 1.0, atol=atol)


def test_log_and_exp_match_scipy_up_to_180_degrees():
    rng = np.random.default_rng(0)
    rotvecs = rng.normal(size=(500, 3))
    rotvecs *= (rng.uniform(0, np.pi * 0.999, 500) / np.linalg.norm(rotvecs, axis=1))[:, None]
    rotvecs[:5] = [[0, 0, 0], [1e-9, 0, 0], [0, 1e-6, 0], [0, 0, 3.14], [2e-5, -1e-5, 3e-5]]
    q = pose_blend.rotvec_to_quat(rotvecs)
    _same_rotation(q, _wxyz(Rotation.from_rotvec(rotvecs)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(pose_blend.quat_to_rotvec(q), rotvecs, atol=1e-9)
    np.testing.assert_allclose(pose_blend.quat_to_rotvec(-q), rotvecs, atol=1e-9)  # either sign


@pytest.mark.parametrize("order", EULER_ORDERS)
def test_euler_conversions_match_scipy(order):
    rng = np.random.default_rng(1)
    angles = rng.uniform(-1.4, 1.4, (200, 3))
    ref = Rotation.from_euler(order.lower(), angles[:, ["XYZ".index(a) for a in order]])  # extrinsic = Blender's
    q = pose_blend.euler_to_quat(angles, order)
    _same_rotation(q, _wxyz(ref))
    np.testing.assert_allclose(pose_blend.quat_to_euler(q, order), angles, atol=1e-9)
    np.testing.assert_allclose(pose_blend.quat_to_matrix(q), ref.as_matrix(), atol=1e-12)


def _poses(rotations, locations=None, scales=None):
    rotations = np.asarray(rotations, float)
    zeros = np.zeros_like(rotations)
    return Poses([f"c{i}" for i in range(len(rotations))], [f"b{j}" for j in range(rotations.shape[1])],
                 zeros if locations is None else np.asarray(locations, float), rotations,
                 zeros if scales is None else np.asarray(scales, float))


def test_one_channel_is_slerp_from_rest():
    rotvec = np.array([[[0.3, -2.5, 1.1]]])  # about 160 degrees: a large pose
    weights = np.linspace(0, 1, 11)[:, None]
    _, q, _ = pose_blend.blend(weights, _poses(rotvec))
    ref = Slerp([0, 1], Rotation.from_rotvec([[0, 0, 0], rotvec[0, 0]]))(weights[:, 0])
    _same_rotation(q[:, 0], _wxyz(ref), atol=1e-12)


def test_channels_on_one_axis_add_their_angles_exactly():
    axis = np.array([0.6, 0.0, 0.8])
    angles = np.array([0.9, 1.3, -0.4, 0.7])  # together 2.5 rad
    rng = np.random.default_rng(2)
    weights = rng.uniform(0, 1, (50, 4))
    _, q, _ = pose_blend.blend(weights, _poses(angles[:, None, None] * axis))
    ref = Rotation.identity(50)
    for c in range(4):  # composing rotations about one axis is order-free: the reference product
        ref = Rotation.from_rotvec(weights[:, c:c + 1] * angles[c] * axis) * ref
    _same_rotation(q[:, 0], _wxyz(ref), atol=1e-12)


def test_many_large_channels_stay_unit_smooth_and_order_free():
    rng = np.random.default_rng(3)
    rot = rng.normal(size=(52, 4, 3)) * 1.2
    weights = np.clip(np.cumsum(rng.normal(0, 0.05, (300, 52)), axis=0), 0, 1)
    _, q, _ = pose_blend.blend(weights, _poses(rot))
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    # Reversing the channels' order changes nothing (a chain of quaternion products would).
    _, q_rev, _ = pose_blend.blend(weights[:, ::-1], _poses(rot[::-1]))
    np.testing.assert_allclose(q_rev, q, atol=1e-12)
    # Continuous in time, no sign flips: a step turns no further than the rotation vectors moved.
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    assert dots.min() > 0
    step = np.linalg.norm(np.diff(np.einsum("tc,cbk->tbk", weights, rot), axis=0), axis=-1)
    assert (2 * np.arccos(np.clip(dots, -1, 1)) <= step + 1e-6).all()


def test_weights_zero_give_the_rest_pose_exactly():
    rng = np.random.default_rng(4)
    shape = (6, 5, 3)
    poses = _poses(rng.normal(size=shape), rng.normal(size=shape), rng.normal(size=shape) * 0.1)
    loc, q, scale = pose_blend.blend(np.zeros((3, 6)), poses)
    assert (loc == 0).all() and (scale == 1).all()
    assert (q == np.array([1.0, 0, 0, 0])).all()


def test_locations_and_scales_add():
    poses = _poses(np.zeros((2, 1, 3)), [[[1.0, 0, 0]], [[0, 2.0, 0.5]]], [[[0.5, 0, 0]], [[0, -0.25, 0]]])
    loc, _, scale = pose_blend.blend([[0.5, 1.0]], poses)
    np.testing.assert_allclose(loc[0, 0], [0.5, 2.0, 0.5])
    np.testing.assert_allclose(scale[0, 0], [1.25, 0.75, 1.0])
    used = poses.used()
    assert used["location"].all() and used["scale"].all() and not used["rotation"].any()
