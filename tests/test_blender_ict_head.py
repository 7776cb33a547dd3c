"""Create head makes the ICT-FaceKit head (materials, UVs, neck pivot); Head identity gives it
another face and the takes play on unchanged (real bpy)."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from blender_support import evaluated_coords

from emotalk_blender.blender import head_identity, head_mesh, scene_writer
from emotalk_blender.engine.formats import templates
from emotalk_blender.engine.arkit import ARKIT_NAMES
from emotalk_blender.engine.errors import TemplateError

pytest_plugins = ["blender_support"]


@pytest.fixture(scope="module")
def ict():
    return templates.load_template_set(templates.default_template_path())


def test_create_head_is_the_ict_head_with_materials(blender, ict):
    assert bpy.ops.emotalk.create_head() == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.name == ict.name and len(obj.data.vertices) == ict.num_vertices
    assert obj[head_identity.FILE_PROP] == "ict_facekit.npz"
    slots = [m.name for m in obj.data.materials]
    assert slots == [f"EmoTalk {n.replace('_', ' ')}" for n in ict.material_names]
    idx = np.empty(len(obj.data.polygons), np.int32)
    obj.data.polygons.foreach_get("material_index", idx)
    np.testing.assert_array_equal(idx, ict.face_materials)
    skin = obj.data.materials[0]
    bsdf = next(n for n in skin.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert bsdf.inputs["Subsurface Weight"].default_value > 0  # skin scatters light
    cornea = obj.data.materials[ict.material_names.index("cornea")]
    assert cornea.diffuse_color[3] < 0.5  # Workbench draws it see-through too
    assert len(obj.data.uv_layers) == 1
    # the origin is the neck pivot: the eyes above it and the face in front of it
    eyes = np.asarray(ict.neutral[ict.region("eyeball_left")])
    assert tuple(obj.location) == (0, 0, 0) and eyes[:, 2].min() > 0.05 and eyes[:, 1].max() < -0.05


def test_identity_changes_the_face_and_the_take_plays_on(blender, ict):
    bpy.ops.emotalk.create_head()
    obj = bpy.context.active_object
    rng = np.random.default_rng(3)
    take = rng.uniform(0, 0.8, (20, 52)).astype(np.float32)
    scene_writer.write_take(obj, take, scene=bpy.context.scene, start_frame=1)
    scene = bpy.context.scene
    written = scene_writer.read_take(obj, scene)
    scene.frame_set(7)
    before = evaluated_coords(obj)
    weights_7 = np.array([obj.data.shape_keys.key_blocks[n].value for n in ARKIT_NAMES], np.float32)
    np.testing.assert_allclose(before, ict.vertices(weights_7), atol=2e-5)

    assert bpy.ops.emotalk.head_identity(seed=5, shape_1=1.5) == {"FINISHED"}
    scene.frame_set(1)
    scene.frame_set(7)
    after = evaluated_coords(obj)
    face = ict.region("face")
    assert np.linalg.norm(after[face] - before[face], axis=1).max() > 3e-3  # another face
    a = np.asarray(obj[head_identity.WEIGHTS_PROP], np.float32)
    new_neutral = ict.identity_neutral(a)
    # the same take on it: V = V0' + sum b_i D_i, the weights still animated
    np.testing.assert_allclose(after, templates.blend(new_neutral, ict.deltas, weights_7), atol=2e-5)
    np.testing.assert_array_equal(scene_writer.read_take(obj, scene), written)
    # seed 0 and no sliders: back to the mean face
    head_identity.set_identity(obj, 0)
    scene.frame_set(7)
    np.testing.assert_allclose(evaluated_coords(obj), before, atol=2e-5)


def test_identity_needs_a_created_head(blender):
    me = bpy.data.meshes.new("plain")
    me.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    plain = bpy.data.objects.new("plain", me)
    with pytest.raises(TemplateError, match="Create head"):
        head_identity.set_identity(plain, 1)
    stylised = head_mesh.build_head_object(templates.load_template_set(templates.stylised_template_path()))
    with pytest.raises(TemplateError, match="no identity components"):
        head_identity.set_identity(stylised, 1)


def test_portrait_preview_is_framed_on_the_eyes_and_quiet(blender, ict, tmp_path, capfd):
    from emotalk_blender.blender import portrait, preview

    bpy.ops.emotalk.create_head()
    obj = bpy.context.active_object
    scene = bpy.context.scene
    eye_z = float(ict.neutral[np.concatenate([ict.region("eyeball_left"), ict.region("eyeball_right")])][:, 2].mean())
    for framing in portrait.FRAMINGS:
        with portrait.portrait_setup(obj, scene, 64, framing=framing, engine="workbench"):
            cam = scene.camera
            assert abs(cam.location.z - eye_z) < 1e-4  # at eye height, level
            assert abs(cam.rotation_euler.x - np.pi / 2) < 1e-6 and cam.data.lens == portrait.LENS_MM
            assert scene.render.engine == "BLENDER_WORKBENCH"
            assert tuple(scene.world.color) == pytest.approx(portrait.BACKGROUND)
            distance = obj.location.y - cam.location.y
            if framing == "close":
                close = distance
    assert distance > close  # head and neck: the camera steps back
    assert scene.camera is None and not [o for o in bpy.data.objects if o.name.startswith("EmoTalk ")]
    capfd.readouterr()
    weights = np.zeros((5, 52), np.float32)
    weights[:, ARKIT_NAMES.index("jawOpen")] = np.linspace(0, 1, 5)
    scene.render.fps = 30
    scene_writer.write_take(obj, weights, start_frame=1)
    preview.render_contact_sheet(obj, tmp_path / "s.png", frames=[1, 5], columns=2, resolution=48,
                                 engine="workbench", label="sheet")
    out, err = capfd.readouterr()
    assert out == "" and err.replace("\r", "\n").split() == ["sheet:", "1/2", "sheet:", "2/2"]
