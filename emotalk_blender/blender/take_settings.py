"""The kinds and ranges of an operator's properties, for checking a take's stored settings before they are
set (engine/stored_settings.py): a hand-edited .blend cannot put "abc" into a float or 7.5 into a 0..1 slider."""
from __future__ import annotations

from ..engine.stored_settings import Spec

_KINDS = {"BOOLEAN": "bool", "INT": "int", "FLOAT": "float", "STRING": "str", "ENUM": "enum"}


def specs_of(op) -> dict[str, Spec]:
    """{property name: Spec} of the operator ``op`` (single values only: arrays and flag enums are left out)."""
    specs = {}
    for p in op.properties.bl_rna.properties:
        kind = _KINDS.get(p.type)
        if kind is None or getattr(p, "is_array", False) or (kind == "enum" and p.is_enum_flag):
            continue
        if kind in ("int", "float"):
            specs[p.identifier] = Spec(kind, p.hard_min, p.hard_max)
        elif kind == "enum":
            specs[p.identifier] = Spec(kind, items=tuple(i.identifier for i in p.enum_items))
        else:
            specs[p.identifier] = Spec(kind)
    return specs
