"""The settings a take remembers (JSON on its Action), read back with every value checked before use.

A .blend can be edited by hand or by scripts, so Regenerate checks each stored value against the kind and
range of the control it goes into (``Spec``, made from the table of controls: controls.specs); anything else
is one line naming the take and the setting. No bpy here.
"""
from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import EmoTalkError

KINDS = ("bool", "int", "float", "str", "enum")


class StoredSettingsError(EmoTalkError):
    """Stored take settings that are not JSON, not an object, or hold a value its property cannot take."""


@dataclass(frozen=True)
class Spec:
    """What one property takes: its kind, its hard range (numbers), its choices (enums)."""
    kind: str
    low: float | None = None
    high: float | None = None
    items: tuple[str, ...] = ()


def check_value(value, spec: Spec, what: str):
    """``value`` as the property takes it, or StoredSettingsError naming ``what``."""
    def fail(expected: str):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return StoredSettingsError(f"{what} is {shown}, expected {expected}")

    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if spec.kind == "str":
        if not isinstance(value, str):
            raise fail("text")
        return value
    if spec.kind == "enum":
        if not isinstance(value, str) or value not in spec.items:
            raise fail(f"one of {', '.join(spec.items)}")
        return value
    span = f"{spec.low:g}..{spec.high:g}" if spec.low is not None and spec.high is not None else "a number"
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise fail(f"a whole number {span}")
    elif isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise fail(f"a number {span}")
    slack = 1e-6 if spec.kind == "float" else 0  # Blender keeps float limits in float32 (0.1 is 0.10000000149)
    if (spec.low is not None and value < spec.low - slack * max(1.0, abs(spec.low))) or \
            (spec.high is not None and value > spec.high + slack * max(1.0, abs(spec.high))):
        raise fail(span)
    if spec.kind == "int":
        return int(value)
    return min(max(float(value), spec.low if spec.low is not None else -math.inf),
               spec.high if spec.high is not None else math.inf)


def read(text, specs: Mapping[str, Spec], where: str) -> dict:
    """The stored settings ``text`` (JSON) as {property: value}, each checked against ``specs``; keys
    without a spec (the format version, settings of other versions) are left out."""
    try:
        stored = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise StoredSettingsError(f"{where}: stored settings are not valid JSON") from None
    if not isinstance(stored, dict):
        raise StoredSettingsError(f"{where}: stored settings are not a set of settings "
                                  f"(a JSON {type(stored).__name__}, not an object)")
    return {name: check_value(value, specs[name], f"{where}: stored settings: {name}")
            for name, value in stored.items() if name in specs}
