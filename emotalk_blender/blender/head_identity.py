"""The identity of a template-set head in Blender: another face under the same takes.

``apply_identity`` moves the Basis to the template set's ``V0 + sum_k a_k I_k`` and every shape
key by the same offsets, so each key keeps its offset from the Basis: the takes (key values) play
unchanged on the new face. The weights are kept on the object (``emotalk_identity``), so applying
again starts from the stored face.
"""
from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..engine.formats import identity, templates
from ..engine.errors import TemplateError
from .operator_base import poll_with_reason, reports_errors

FILE_PROP = "emotalk_template_file"  # the set's file: a name in flame_templates/, else a path
WEIGHTS_PROP = "emotalk_identity"
SEED_PROP = "emotalk_identity_seed"


def template_file_ref(ts: templates.TemplateSet) -> str:
    if not ts.path:
        return ""
    path = Path(ts.path)
    return path.name if path.resolve() in [p.resolve() for p in templates.list_template_sets()] else str(path)


def template_of(obj) -> templates.TemplateSet:
    """The template set ``obj`` was created from (Create head records it)."""
    ref = obj.get(FILE_PROP, "") if obj is not None else ""
    if not ref:
        raise TemplateError(f"object {getattr(obj, 'name', None)!r}: not a head made by Create head "
                            "(no template set recorded)")
    return templates.load_template_set(templates.resolve_template(ref))


def _coords(kb, n):
    buf = np.empty(n * 3, np.float32)
    kb.data.foreach_get("co", buf)
    return buf


def apply_identity(obj, ts: templates.TemplateSet, weights) -> None:
    """Give ``obj`` (a head of ``ts``) the face of identity ``weights``; the keys keep their offsets."""
    mesh = obj.data
    n = len(mesh.vertices)
    if n != ts.num_vertices:
        raise TemplateError(f"object {obj.name!r}: {n} vertices, template set {ts.name!r} has {ts.num_vertices}")
    new_basis = ts.identity_neutral(weights).ravel()
    keys = mesh.shape_keys
    if keys is not None:
        shift = new_basis - _coords(keys.reference_key, n)
        for kb in keys.key_blocks:
            kb.data.foreach_set("co", _coords(kb, n) + shift)
    mesh.vertices.foreach_set("co", new_basis)
    mesh.update()
    obj[WEIGHTS_PROP] = [float(a) for a in np.asarray(weights, np.float32).ravel()]


def set_identity(obj, seed: int = 0, sliders=()) -> np.ndarray:
    """Identity from a seed and sliders (``engine.identity``) applied to a Create-head object."""
    ts = template_of(obj)
    k = 0 if ts.identity is None else ts.identity.shape[0]
    if k == 0:
        raise TemplateError(f"template set {ts.name!r} has no identity components")
    weights = identity.identity_weights(k, seed, sliders)
    apply_identity(obj, ts, weights)
    obj[SEED_PROP] = int(seed)
    return weights


class EMOTALK_OT_head_identity(bpy.types.Operator):
    """Give the active head (made by Create head) another face: a random one from a seed, and
    sliders for the largest identity components. The takes play unchanged on it"""

    bl_idname = "emotalk.head_identity"
    bl_label = "Head identity"
    bl_options = {"REGISTER", "UNDO"}

    seed: bpy.props.IntProperty(name="Face seed", min=0, default=0,
                                description="0: the model's mean face; another number: a random plausible face")
    shape_1: bpy.props.FloatProperty(name="Shape 1", min=-3, max=3, default=0.0,
                                     description="Largest identity component (standard deviations)")
    shape_2: bpy.props.FloatProperty(name="Shape 2", min=-3, max=3, default=0.0)
    shape_3: bpy.props.FloatProperty(name="Shape 3", min=-3, max=3, default=0.0)
    shape_4: bpy.props.FloatProperty(name="Shape 4", min=-3, max=3, default=0.0)

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return poll_with_reason(cls, context, "" if obj is not None and obj.get(FILE_PROP)
                                else "Select a head made by Create head")

    @reports_errors
    def execute(self, context):
        set_identity(context.active_object, self.seed,
                     (self.shape_1, self.shape_2, self.shape_3, self.shape_4))
        return {"FINISHED"}


classes = (EMOTALK_OT_head_identity,)
