"""Operators a script calls start from their defaults: properties marked SKIP_SAVE.

Blender remembers an operator's last properties for its next call; for ``bpy.ops.emotalk.generate(...)``
in a batch script that meant the previous take's emotion track, gaze, seed ... when a call did not name
them. The sidebar sets every property on its buttons, and Adjust Last Operation redoes with the
operator's own values, so neither needs the memory.
"""
from __future__ import annotations

import sys


def _annotations(cls) -> dict:
    merged: dict = {}
    for base in reversed(cls.__mro__):  # the mixins' properties too; a subclass's own win
        for name, value in base.__dict__.get("__annotations__", {}).items():
            if isinstance(value, str):  # `from __future__ import annotations`: evaluated as Blender does
                value = eval(value, vars(sys.modules[base.__module__]))  # our own source, as Blender evaluates it
            merged[name] = value
    return merged


def skip_save(cls, names=None):
    """Mark the properties ``names`` (default: all) of the operator class ``cls`` SKIP_SAVE, before it is
    registered; returns ``cls``. A class's own annotation overrides its bases' (Blender registers bases first)."""
    own = dict(cls.__dict__.get("__annotations__", {}))
    for name, prop in _annotations(cls).items():
        if names is not None and name not in names:
            continue
        keywords = getattr(prop, "keywords", None)
        if keywords is None:  # not a bpy.props property
            continue
        options = set(keywords.get("options", {"ANIMATABLE"})) | {"SKIP_SAVE"}
        own[name] = prop.function(**{**keywords, "options": options})
    cls.__annotations__ = own
    return cls
