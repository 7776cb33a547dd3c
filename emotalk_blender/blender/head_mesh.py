"""Template sets <-> Blender mesh objects with a Basis and 52 ARKit shape keys.

``build_head_object(template_set)`` creates the object with bulk ``foreach_set`` writes (no
per-vertex Python loops); ``template_set_from_object(obj)`` reads any character whose shape keys
carry ARKit names (matched like retargeting, with ``arkit.match_arkit``) back into a set.
"""
from __future__ import annotations

import bpy
import numpy as np

from ..engine import arkit
from ..engine.formats import templates
from ..engine.errors import TemplateError
from . import compat

BASIS_NAME = "Basis"
TEMPLATE_PROP = "emotalk_template"  # custom property on the object: the set's name


def build_mesh(template_set: templates.TemplateSet, name: str) -> bpy.types.Mesh:
    """A smooth-shaded mesh datablock of the set's neutral head (no shape keys)."""
    ts = template_set
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(ts.num_vertices)
    mesh.vertices.foreach_set("co", ts.neutral.ravel())
    mesh.loops.add(ts.face_indices.size)
    mesh.loops.foreach_set("vertex_index", ts.face_indices)
    mesh.polygons.add(ts.num_faces)
    starts = np.zeros(ts.num_faces, np.int32)
    np.cumsum(ts.face_sizes[:-1], out=starts[1:])
    mesh.polygons.foreach_set("loop_start", starts)  # Blender derives each loop_total from these
    mesh.polygons.foreach_set("use_smooth", np.ones(ts.num_faces, bool))
    if ts.uv is not None:
        mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", ts.uv.ravel())
    mesh.update(calc_edges=True)
    return mesh


def build_head_object(template_set: templates.TemplateSet, name: str = "EmoTalk Head",
                      collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """Create a mesh object with a Basis and the 52 ARKit shape keys (all at value 0).

    Regions become vertex groups of the same names. The object is linked to ``collection``
    (default: the scene's master collection) and tagged with the set's name.
    """
    ts = template_set
    obj = bpy.data.objects.new(name, build_mesh(ts, name))
    (collection or bpy.context.scene.collection).objects.link(obj)
    obj.shape_key_add(name=BASIS_NAME, from_mix=False)
    targets = ts.targets()
    for i, key_name in enumerate(arkit.ARKIT_NAMES):
        compat.new_shape_key(obj, key_name).data.foreach_set("co", targets[i].ravel())
    for region, idx in sorted(ts.regions.items()):
        obj.vertex_groups.new(name=region).add(idx.tolist(), 1.0, "REPLACE")
    if ts.face_materials is not None:
        from . import head_materials

        head_materials.assign(obj, ts.material_names, ts.face_materials)
    obj[TEMPLATE_PROP] = ts.name
    from .head_identity import FILE_PROP, template_file_ref

    obj[FILE_PROP] = template_file_ref(ts)  # Head identity finds the set's components by it
    for key in ("source", "licence"):
        if ts.metadata.get(key):
            obj[f"emotalk_{key}"] = ts.metadata[key]
    from . import head_rig

    if head_rig.wants_rig(ts):  # head motion turns the head on its neck, the neck's cut stays
        head_rig.add_neck_rig(obj, ts, collection)
    return obj


def _key_coords(kb, n_verts: int) -> np.ndarray:
    buf = np.empty(n_verts * 3, np.float32)
    kb.data.foreach_get("co", buf)
    return buf.reshape(n_verts, 3)


def template_set_from_object(obj: bpy.types.Object, name: str | None = None,
                             licence: str = "", source: str = "") -> templates.TemplateSet:
    """A template set from a mesh with ARKit-named shape keys (any naming ``match_arkit`` folds).

    Offsets are taken relative to each key's own relative key (normally the Basis), in the
    object's local space (Blender's orientation; units assumed metres). Regions come from
    vertex groups named like regions; the required ones absent as groups are derived from
    which vertices the targets move (``templates.derive_regions``).
    """
    if obj is None:
        raise TemplateError("No object: select a mesh with ARKit shape keys")
    label = f"object {obj.name!r}"
    if obj.type != "MESH":
        raise TemplateError(f"{label}: not a mesh object")
    mesh = obj.data
    keys = mesh.shape_keys
    if keys is None or len(keys.key_blocks) < 2:
        raise TemplateError(f"{label}: has no shape keys (needs a Basis and the "
                            f"{arkit.NUM_BLENDSHAPES} ARKit keys)")
    blocks = keys.key_blocks
    reference = keys.reference_key
    mapping, missing = arkit.auto_map([kb.name for kb in blocks if kb != reference])
    if missing:
        raise TemplateError(f"{label}: missing shape keys for {len(missing)} ARKit names: "
                            + ", ".join(missing))
    n = len(mesh.vertices)
    neutral = _key_coords(reference, n)
    deltas = np.empty((arkit.NUM_BLENDSHAPES, n, 3), np.float32)
    for i, arkit_name in enumerate(arkit.ARKIT_NAMES):
        kb = blocks[mapping[arkit_name]]
        base = kb.relative_key if kb.relative_key is not None else reference
        deltas[i] = _key_coords(kb, n) - _key_coords(base, n)
    n_faces = len(mesh.polygons)
    sizes = np.empty(n_faces, np.int32)
    starts = np.empty(n_faces, np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    mesh.polygons.foreach_get("loop_start", starts)
    loop_verts = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", loop_verts)
    order = np.repeat(starts, sizes) + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    regions = _vertex_group_regions(obj)
    for region, idx in templates.derive_regions(neutral, deltas).items():
        regions.setdefault(region, idx)
    return templates.TemplateSet(
        name=name or obj.name, neutral=neutral, deltas=deltas, face_sizes=sizes,
        face_indices=loop_verts[order], regions=regions, units="m",
        metadata={"source": source or f"Blender object {obj.name!r}", "licence": licence,
                  "author": "", "description": "imported from shape keys"})


def _vertex_group_regions(obj) -> dict[str, np.ndarray]:
    """Vertex groups whose names are identifiers -> vertex indices with weight > 0."""
    groups = {vg.index: vg.name for vg in obj.vertex_groups if vg.name.isidentifier()}
    members: dict[str, list[int]] = {name: [] for name in groups.values()}
    if not groups:
        return {}
    for v in obj.data.vertices:
        for g in v.groups:
            if g.group in groups and g.weight > 0:
                members[groups[g.group]].append(v.index)
    return {name: np.array(idx, np.int32) for name, idx in members.items() if idx}
