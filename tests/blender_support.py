"""Helpers for the Blender-facing tests: a clean bpy state with the add-on registered, small
meshes with shape keys named as a character would have them, and a scene snapshot.

Test modules import the helpers and name this module in ``pytest_plugins`` for the ``blender``
fixture; it has no asserts to rewrite (PYTEST_DONT_REWRITE: it is imported before it is registered).
"""
from __future__ import annotations

import bpy
import numpy as np
import pytest

import emotalk_blender
from emotalk_blender.blender import compat
from emotalk_blender.engine.arkit import ARKIT_NAMES

HAS_AUDIO = compat.has_audio()  # the bpy 4.2 wheel is built without it
needs_audio = pytest.mark.skipif(not HAS_AUDIO, reason="this bpy build has no audio (audaspace)")


@pytest.fixture
def blender():
    """Factory-fresh empty scene with the add-on registered; unregistered afterwards."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    emotalk_blender.register()
    try:
        yield bpy.context.scene
    finally:
        emotalk_blender.unregister()
        bpy.ops.wm.read_factory_settings(use_empty=True)


def mesh_with_keys(names, name="Face", fps=30):
    """A one-triangle mesh with a Basis and one shape key per name, active and selected."""
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, 1.0
    me = bpy.data.meshes.new(name)
    me.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new(name, me)
    scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    for key_name in names:
        compat.new_shape_key(obj, key_name)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    return obj


def arkit_mesh(**kw):
    return mesh_with_keys(ARKIT_NAMES, **kw)


def values(obj):
    """Current shape-key values by name (reference key excluded)."""
    key = obj.data.shape_keys
    return {kb.name: kb.value for kb in key.key_blocks if kb != key.reference_key}


def expected_value(obj, key_name, raw):
    """A shape key shows its value clamped to the key's slider range."""
    kb = obj.data.shape_keys.key_blocks[key_name]
    return float(np.clip(raw, kb.slider_min, kb.slider_max))


def snapshot():
    """Everything a take may touch, as plain data, to compare before/after a failed run."""
    scene = bpy.context.scene
    editor = scene.sequence_editor
    strips = sorted((s.name, s.channel, compat.strip_start(s), s.mute) for s in compat.all_strips(scene))
    anim = {}
    for key in bpy.data.shape_keys:
        ad = key.animation_data
        anim[key.name] = None if ad is None else (ad.action.name if ad.action else None)
    return {
        "ids": {attr: sorted(i.name for i in getattr(bpy.data, attr))
                for attr in ("actions", "objects", "meshes", "shape_keys", "sounds", "scenes")},
        "fake": sorted(a.name for a in bpy.data.actions if a.use_fake_user),
        "frames": (scene.frame_start, scene.frame_end, scene.frame_current),
        "sync": scene.sync_mode,
        "editor": editor is not None,
        "strips": strips,
        "anim": anim,
        "values": {o.name: values(o) for o in bpy.data.objects if o.type == "MESH"
                   and o.data.shape_keys},
    }


def evaluated_coords(obj, world: bool = False) -> np.ndarray:
    """(V, 3) vertex positions of ``obj`` as the depsgraph evaluates it (shape keys, armature), local or world."""
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    me = ev.to_mesh()
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    co = co.reshape(-1, 3)
    if world:
        co = co @ np.asarray(obj.matrix_world.to_3x3()).T + np.asarray(obj.matrix_world.translation)
    return co
