"""Template set -> Blender object with 52 ARKit shape keys, and back (real bpy)."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from emotalk_blender.blender import head_mesh
from emotalk_blender.engine.formats import templates
from emotalk_blender.engine.arkit import ARKIT_NAMES
from emotalk_blender.engine.errors import TemplateError


@pytest.fixture(scope="module")
def head():
    return templates.load_template_set(templates.default_template_path())


@pytest.fixture
def scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield bpy.context.scene
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _evaluated(obj) -> np.ndarray:
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    me = ev.to_mesh()
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    return co.reshape(-1, 3)


def test_build_head_object(scene, head):
    obj = head_mesh.build_head_object(head, name="Head")
    assert obj.name in scene.collection.objects and obj.type == "MESH"
    keys = obj.data.shape_keys.key_blocks
    assert [k.name for k in keys] == ["Basis", *ARKIT_NAMES]
    assert all(k.value == 0.0 for k in keys[1:])
    assert len(obj.data.vertices) == head.num_vertices and len(obj.data.polygons) == head.num_faces
    assert all(p.use_smooth for p in obj.data.polygons[:50])
    assert {"lips", "eyes", "forehead"} <= {vg.name for vg in obj.vertex_groups}
    assert obj[head_mesh.TEMPLATE_PROP] == head.name
    np.testing.assert_allclose(_evaluated(obj), head.neutral, atol=1e-6)
    # a mix of keys evaluates to the template transform
    w = np.zeros(52, np.float32)
    for name, value in (("jawOpen", 0.7), ("mouthSmileLeft", 1.0), ("eyeBlinkRight", 0.4)):
        keys[name].value = value
        w[ARKIT_NAMES.index(name)] = value
    np.testing.assert_allclose(_evaluated(obj), head.vertices(w), atol=1e-5)


def test_faces_survive_the_round_trip(scene, head):
    obj = head_mesh.build_head_object(head)
    back = head_mesh.template_set_from_object(obj, name="again")
    np.testing.assert_array_equal(back.neutral, head.neutral)
    np.testing.assert_allclose(back.deltas, head.deltas, atol=1e-7)
    np.testing.assert_array_equal(back.face_sizes, head.face_sizes)
    np.testing.assert_array_equal(back.face_indices, head.face_indices)
    for region in ("lips", "eyes", "forehead", "tongue"):  # from the vertex groups
        np.testing.assert_array_equal(back.region(region), head.region(region))


def _character(names, relative_to_first=False):
    """A 4-vertex quad character whose shape keys carry the given names; key k lifts vertex k%4."""
    me = bpy.data.meshes.new("Char")
    me.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)], [], [(0, 1, 2, 3)])
    obj = bpy.data.objects.new("Char", me)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    for k, name in enumerate(names):
        kb = obj.shape_key_add(name=name, from_mix=False)
        kb.value = 0.0
        kb.data[k % 4].co.z = 0.01 * (k + 1)
    if relative_to_first:  # a key relative to another key: offsets come from its own base
        kbs = obj.data.shape_keys.key_blocks
        kbs[2].relative_key = kbs[1]
        kbs[2].data[1].co.z = kbs[1].data[1].co.z  # so vertex 1 does not move relative to key 1
    return obj


def test_character_with_other_names_imports_in_arkit_order(scene):
    style = [f"AK_{i:02d}_{n[0].upper()}{n[1:]}" for i, n in enumerate(ARKIT_NAMES)]
    order = np.random.default_rng(3).permutation(52)
    obj = _character([style[i] for i in order], relative_to_first=True)
    ts = head_mesh.template_set_from_object(obj)
    for k, i in enumerate(order):
        expected = np.zeros((4, 3), np.float32)
        expected[k % 4, 2] = 0.01 * (k + 1)
        if k == 1:  # key 2 is relative to key 1: its offset is key2 - key1
            key1 = np.zeros((4, 3), np.float32)
            key1[0, 2] = 0.01
            expected = expected - key1
            expected[1, 2] = 0.0
        np.testing.assert_allclose(ts.deltas[i], expected, atol=1e-7, err_msg=ARKIT_NAMES[i])
    assert {"lips", "eyes", "forehead"} <= set(ts.regions)


def test_missing_names_are_listed(scene):
    obj = _character([n for n in ARKIT_NAMES if n not in ("tongueOut", "cheekPuff")])
    with pytest.raises(TemplateError) as err:
        head_mesh.template_set_from_object(obj)
    assert "'Char'" in str(err.value) and "cheekPuff, tongueOut" in str(err.value)
    plain = bpy.data.objects.new("Plain", bpy.data.meshes.new("Plain"))
    with pytest.raises(TemplateError, match="no shape keys"):
        head_mesh.template_set_from_object(plain)
    with pytest.raises(TemplateError, match="No object"):
        head_mesh.template_set_from_object(None)
    empty = bpy.data.objects.new("Empty", None)
    with pytest.raises(TemplateError, match="'Empty': not a mesh object"):
        head_mesh.template_set_from_object(empty)
