"""Procedural materials for the parts of a template-set head (skin, eyes, mouth), EEVEE and Workbench.

Each slot gets a node material (Principled BSDF; skin with subsurface scattering, a clear cornea
over the iris) for EEVEE/Cycles and a viewport colour (``diffuse_color``, roughness, metallic) that
Workbench draws in its MATERIAL colour mode. No textures: everything is made here, so a stock
Blender needs nothing else. Materials are shared between heads by name (``EmoTalk <slot>``).
"""
from __future__ import annotations

import bpy

PREFIX = "EmoTalk "

# slot -> (base colour RGBA, roughness, extra Principled inputs)
LOOKS = {
    "skin": ((0.80, 0.56, 0.45, 1.0), 0.45,
             {"Subsurface Weight": 0.15, "Subsurface Radius": (1.0, 0.35, 0.2),
              "Subsurface Scale": 0.006}),
    # mouth: lit like the face, a bright tongue read as pushing out of the lips; the inside of a
    # mouth is in shadow, so the socket is near black-red and gums/tongue a deep red
    "mouth": ((0.025, 0.004, 0.004, 1.0), 0.8, {}),
    "gums_tongue": ((0.085, 0.014, 0.016, 1.0), 0.5,
                    {"Subsurface Weight": 0.1, "Subsurface Radius": (1.0, 0.3, 0.2),
                     "Subsurface Scale": 0.002}),
    "teeth": ((0.62, 0.57, 0.47, 1.0), 0.35, {}),
    # eyes: the eye sits in the lids' shade and is a few pixels wide in a preview, so the iris
    # must contrast with the sclera by value, not only by hue (a blue-grey iris read as blank glass)
    "sclera": ((0.86, 0.82, 0.76, 1.0), 0.3, {}),
    # Workbench: fully clear; EEVEE: a faint glossy coat for the eye's highlight
    "cornea": ((1.0, 1.0, 1.0, 0.0), 0.02, {"Alpha": 0.06}),
    "iris": ((0.16, 0.075, 0.03, 1.0), 0.7, {}),
    "pupil": ((0.003, 0.002, 0.002, 1.0), 0.9, {}),
    # ICT's lashes are cards made for an alpha texture: a see-through dark keeps them from
    # reading as eyeliner
    "eyelashes": ((0.03, 0.02, 0.015, 0.18), 0.6, {"Alpha": 0.18}),
}
DEFAULT_LOOK = ((0.7, 0.7, 0.7, 1.0), 0.5, {})


def _set_input(bsdf, name, value):
    sock = bsdf.inputs.get(name)
    if sock is not None:  # an input this Blender version lacks is simply skipped
        sock.default_value = value


def material(slot: str) -> bpy.types.Material:
    """The shared material for ``slot`` (made on first use)."""
    name = PREFIX + slot.replace("_", " ")
    mat = bpy.data.materials.get(name)
    if mat is not None:
        return mat
    color, rough, extra = LOOKS.get(slot, DEFAULT_LOOK)
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = color  # Workbench (MATERIAL colour) and the viewport
    mat.roughness = rough
    if mat.node_tree is None:
        mat.use_nodes = True  # 4.x; 5.x materials always have nodes (use_nodes is deprecated)
    bsdf = next((n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = mat.node_tree.nodes.new("ShaderNodeBsdfPrincipled")
        out = next(n for n in mat.node_tree.nodes if n.type == "OUTPUT_MATERIAL")
        mat.node_tree.links.new(bsdf.outputs[0], out.inputs[0])
    _set_input(bsdf, "Base Color", color)
    _set_input(bsdf, "Roughness", rough)
    for key, value in extra.items():
        _set_input(bsdf, key, value)
    if color[3] < 1.0:
        _set_input(bsdf, "Coat Weight", 1.0)
        if hasattr(mat, "surface_render_method"):
            mat.surface_render_method = "BLENDED"
        if hasattr(mat, "blend_method"):
            mat.blend_method = "BLEND"
    return mat


def assign(obj, slot_names, face_slots) -> None:
    """One material slot per name (in order) and each face's slot index."""
    for slot in slot_names:
        obj.data.materials.append(material(slot))
    obj.data.polygons.foreach_set("material_index", face_slots)
