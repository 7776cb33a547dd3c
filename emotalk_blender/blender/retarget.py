"""Retargeting: which of a character's shape keys each ARKit channel drives, with a gain.

The mapping is stored per object (``obj.emotalk.channels``, one row per ARKit channel, editable
in the sidebar). An object with no stored rows is mapped automatically by name each time
(``arkit.auto_map``: case, separators, numbered prefixes, _L/_R suffixes are tolerated).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import arkit
from ..engine.errors import EmoTalkError


class TargetError(EmoTalkError):
    """The object cannot receive a take (not a mesh, no shape keys, nothing mapped)."""


@dataclass
class Mapping:
    """ARKit name -> (shape-key name, gain); ``unmatched`` ARKit names drive nothing."""

    channels: dict[str, tuple[str, float]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)


def shape_key_names(obj) -> list[str]:
    """The object's shape keys that can be driven (the reference key, e.g. Basis, excluded)."""
    key = shape_keys_of(obj, required=False)
    if key is None:
        return []
    return [kb.name for kb in key.key_blocks if kb != key.reference_key]


def shape_keys_of(obj, required=True):
    """The Key datablock of a mesh object; TargetError when there is none and ``required``."""
    if obj is None:
        if required:
            raise TargetError("No target object: select a mesh with shape keys or create a head")
        return None
    key = getattr(obj.data, "shape_keys", None) if obj.type == "MESH" else None
    if key is None and required:
        raise TargetError(f"Object {obj.name!r} has no shape keys: select a mesh with ARKit shape "
                          "keys, or use Create head")
    return key


def store_rows(obj, targets) -> dict:
    """``obj.emotalk.channels`` set to the automatic name mapping of ``targets`` (shape keys, or pose
    Actions of a rig): 52 rows, gain 1. Returns the mapping found (ARKit name -> target)."""
    mapping, _ = arkit.auto_map(list(targets))
    rows = obj.emotalk.channels
    rows.clear()
    for name in arkit.ARKIT_NAMES:
        row = rows.add()
        row.arkit = name
        row.target = mapping.get(name, "")
        row.gain = 1.0
    return mapping


def auto_fill(obj) -> Mapping:
    """Store the automatic name mapping in ``obj.emotalk.channels`` (52 rows, gain 1)."""
    store_rows(obj, shape_key_names(obj))
    return mapping_of(obj)


def check_mapped(obj):
    """The mesh's Key and its mapping; TargetError (one line) when no ARKit channel matches a shape key."""
    key = shape_keys_of(obj)
    mapping = mapping_of(obj)
    if not mapping.channels:
        raise TargetError(f"None of the {arkit.NUM_BLENDSHAPES} ARKit channels matches a shape key of {obj.name!r}: "
                          "edit the mapping in the EmoTalk panel")
    return key, mapping


def mapping_of(obj) -> Mapping:
    """The mapping in force: the stored rows, or the automatic one when none are stored.

    Rows naming a shape key the mesh no longer has count as unmatched.
    """
    keys = set(shape_key_names(obj))
    rows = obj.emotalk.channels if obj is not None else ()
    result = Mapping()
    if len(rows):
        stored = {row.arkit: (row.target, row.gain) for row in rows}
        for name in arkit.ARKIT_NAMES:
            target, gain = stored.get(name, ("", 1.0))
            if target and target in keys:
                result.channels[name] = (target, float(gain))
            else:
                result.unmatched.append(name)
    else:
        auto, result.unmatched = arkit.auto_map(shape_key_names(obj))
        result.channels = {name: (target, 1.0) for name, target in auto.items()}
    return result
