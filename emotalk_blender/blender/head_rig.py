"""A two-bone neck rig for a head with a neck (the ICT-FaceKit head): head motion turns the head,
not the whole mesh.

Without it head motion rotates the object about its origin (the neck pivot), so the bottom of the
neck swings too. The rig: bone ``neck`` from the neck's cut up to the pivot, bone ``head`` from
the pivot up through the eyes; an Armature modifier with skin weights: 1 on the head from the
pivot's height up, tapering smoothly down the neck to 0 at the cut (there the still ``neck`` bone
holds the vertices). ``head_motion_writer`` finds the ``head`` bone by name through the mesh's
parent; the mesh object itself stays unrotated.
"""
from __future__ import annotations

import bpy
import numpy as np

HEAD_BONE, NECK_BONE = "head", "neck"
WEIGHT_LEVELS = 64  # skin weights quantised: one vertex_groups.add per level keeps Create head fast


def wants_rig(template_set) -> bool:
    """Sets whose origin is a neck pivot above a neck: the ICT-FaceKit head (region ``head_neck``)."""
    return "head_neck" in template_set.regions


def head_weights(neutral: np.ndarray) -> np.ndarray:
    """Per vertex the head bone's weight: 0 at the neck's cut (lowest z), 1 from the pivot (z = 0) up."""
    z = neutral[:, 2].astype(np.float64)
    cut = float(z.min())
    t = np.clip((z - cut) / max(-cut, 1e-6), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)  # smoothstep: no crease where the taper starts or ends


def _add_weights(vgroup, weights: np.ndarray) -> None:
    levels = np.rint(weights * WEIGHT_LEVELS).astype(np.int32)
    for level in np.unique(levels):
        if level == 0:
            continue
        vgroup.add(np.flatnonzero(levels == level).tolist(), float(level) / WEIGHT_LEVELS, "REPLACE")


def add_neck_rig(obj, template_set, collection=None):
    """Give the head mesh ``obj`` (at its set's rest shape) an armature ``<name> rig``; returns it
    (None where Blender's context cannot enter edit mode: the head is made without a rig)."""
    neutral = np.asarray(template_set.neutral, np.float64)
    z_cut = float(neutral[:, 2].min())
    bottom = neutral[neutral[:, 2] < z_cut + 0.01]
    eyes = neutral[template_set.regions["eyeball_left"]] if "eyeball_left" in template_set.regions else neutral
    top = max(float(eyes[:, 2].mean()), 0.05)
    arm_data = bpy.data.armatures.new(f"{obj.name} rig")
    arm = bpy.data.objects.new(f"{obj.name} rig", arm_data)
    (collection or bpy.context.scene.collection).objects.link(arm)
    arm.matrix_world = obj.matrix_world
    view_layer = bpy.context.view_layer
    was_active = view_layer.objects.active
    view_layer.objects.active = arm
    try:
        bpy.ops.object.mode_set(mode="EDIT")  # bones are only made in edit mode
    except RuntimeError:  # e.g. another object in edit mode, a hidden collection: no rig, the
        view_layer.objects.active = was_active  # head motion then turns the object as before
        bpy.data.objects.remove(arm)
        bpy.data.armatures.remove(arm_data)
        return None
    try:
        neck = arm_data.edit_bones.new(NECK_BONE)
        neck.head, neck.tail = (0.0, float(bottom[:, 1].mean()), z_cut), (0.0, 0.0, 0.0)
        head = arm_data.edit_bones.new(HEAD_BONE)
        head.head, head.tail = (0.0, 0.0, 0.0), (0.0, 0.0, top)
        head.parent, head.use_connect = neck, True
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = was_active
    w = head_weights(neutral)
    _add_weights(obj.vertex_groups.new(name=HEAD_BONE), w)
    _add_weights(obj.vertex_groups.new(name=NECK_BONE), 1.0 - w)
    obj.parent = arm
    mod = obj.modifiers.new("EmoTalk neck rig", "ARMATURE")
    mod.object = arm
    mod.use_vertex_groups, mod.use_bone_envelopes = True, False
    return arm
