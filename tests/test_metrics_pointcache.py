"""Vertex metrics (LVE, EVE, mean error) and point caches, checked through Blender's Mesh Cache."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from emotalk_blender.blender import head_mesh
from emotalk_blender.engine.formats import metrics
from emotalk_blender.engine.formats import pointcache, templates
from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.engine.errors import EmoTalkError


@pytest.fixture(scope="module")
def head():
    return templates.load_template_set(templates.default_template_path())


def _takes(t=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (t, 52)).astype(np.float32), rng.uniform(0, 1, (t, 52)).astype(np.float32)


def _reference(va, vb, idx):
    """The definition, frame by frame: max over the region of the L2 error, then the mean."""
    per_frame = []
    for fa, fb in zip(va, vb):
        per_frame.append(max(np.sqrt(((fa[i] - fb[i]) ** 2).sum()) for i in idx))
    return float(np.mean(per_frame))


def test_metrics_match_their_definitions(head):
    wa, wb = _takes()
    va, vb = head.vertices(wa).astype(np.float64), head.vertices(wb).astype(np.float64)
    lips = head.region("lips")
    upper = np.union1d(head.region("eyes"), head.region("forehead"))
    face = head.region("face")
    want = {"lve": _reference(va, vb, lips), "eve": _reference(va, vb, upper),
            "mve": float(np.linalg.norm(va[:, face] - vb[:, face], axis=-1).mean())}
    for got in (metrics.vertex_metrics(head, wa, wb), metrics.vertex_metrics(head, va, vb)):
        for k in want:
            assert got[k] == pytest.approx(want[k], rel=1e-4), k
    assert metrics.vertex_metrics(head, wa, wa) == {"lve": 0.0, "eve": 0.0, "mve": 0.0}


@pytest.fixture(scope="module")
def stylised():
    """The generated head, whose targets touch nothing outside their regions (a scanned head's
    jawOpen moves the lids by a few microns, so EVE would not be exactly 0 there)."""
    return templates.load_template_set(templates.stylised_template_path())


def test_lve_sees_the_mouth_and_eve_the_brows(stylised):
    head = stylised
    base = np.zeros((5, 52), np.float32)
    jaw, brow = base.copy(), base.copy()
    jaw[:, INDEX["jawOpen"]] = 1.0
    brow[:, INDEX["browInnerUp"]] = 1.0
    assert metrics.lve(head, jaw, base) > 0.01 and metrics.eve(head, jaw, base) == 0.0
    assert metrics.eve(head, brow, base) > 0.003 and metrics.lve(head, brow, base) == 0.0


def test_metrics_reject_mismatched_takes(head):
    wa, wb = _takes()
    with pytest.raises(EmoTalkError, match="differ in shape"):
        metrics.lve(head, wa, wb[:-1])
    with pytest.raises(EmoTalkError, match="weights"):
        metrics.lve(head, wa[:, :40], wb[:, :40])


def test_cache_files_round_trip(tmp_path, head):
    w, _ = _takes(7)
    paths = pointcache.write_vertex_caches(head, w, tmp_path / "take", formats=("npy", "pc2", "mdd"))
    v = head.vertices(w)
    np.testing.assert_array_equal(np.load(paths["npy"]), v)
    np.testing.assert_array_equal(pointcache.read_pc2(paths["pc2"]), v)
    np.testing.assert_array_equal(pointcache.read_mdd(paths["mdd"]), v)
    bad = tmp_path / "bad.pc2"
    bad.write_bytes(paths["pc2"].read_bytes()[:-12])
    with pytest.raises(EmoTalkError, match="bad.pc2"):
        pointcache.read_pc2(bad)
    with pytest.raises(EmoTalkError, match=r"\(T, V, 3\)"):
        pointcache.write_pc2(tmp_path / "x.pc2", np.zeros((3, 4)))


@pytest.mark.parametrize("fmt", ["pc2", "mdd"])
def test_blender_mesh_cache_modifier_plays_the_take(tmp_path, head, fmt):
    """Load the cache with the real Mesh Cache modifier and read evaluated vertices per frame."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 30
    t = 6
    w = np.zeros((t, 52), np.float32)
    w[:, INDEX["jawOpen"]] = np.linspace(0, 1, t)
    w[:, INDEX["eyeBlinkLeft"]] = np.linspace(1, 0, t)
    path = pointcache.write_vertex_caches(head, w, tmp_path / "take", formats=(fmt,))[fmt]
    obj = bpy.data.objects.new("Head", head_mesh.build_mesh(head, "Head"))
    scene.collection.objects.link(obj)
    mod = obj.modifiers.new("cache", "MESH_CACHE")
    mod.cache_format = fmt.upper()
    mod.filepath = str(path)
    mod.frame_start = 1.0  # scene frame 1 plays the first cached frame
    expected = head.vertices(w)
    try:
        for frame in (1, 3, 6):
            scene.frame_set(frame)
            ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
            me = ev.to_mesh()
            co = np.empty(len(me.vertices) * 3, np.float32)
            me.vertices.foreach_get("co", co)
            ev.to_mesh_clear()
            np.testing.assert_allclose(co.reshape(-1, 3), expected[frame - 1], atol=1e-6,
                                       err_msg=f"{fmt} frame {frame}")
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)
