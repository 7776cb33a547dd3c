"""The 52 ARKit blendshape names: the released model's order, Apple's order, and name matching.

Every module that needs a channel name or index takes it from here.
"""
from __future__ import annotations

import re

# Channel order of the released EmoTalk model (index 0..51): the names sorted alphabetically.
ARKIT_NAMES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)
NUM_BLENDSHAPES = len(ARKIT_NAMES)
INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_NAMES)}

# Apple's order, as in a Live Link Face CSV (PascalCase there: see pascal()).
APPLE_ORDER: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRight",
    "mouthLeft", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

# The two blink channels the post-processing rewrites.
BLINK_CHANNELS = (INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"])


def pascal(name: str) -> str:
    """ARKit name as Apple writes it in CSV headers: ``eyeBlinkLeft`` -> ``EyeBlinkLeft``."""
    return name[:1].upper() + name[1:]


def mirror(name: str) -> str:
    """The other side's channel (``...Left`` <-> ``...Right``); unsided names map to themselves."""
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name


_SEPARATORS = re.compile(r"[_\-.: |]+")
_SIDE = {"l": "left", "r": "right", "left": "left", "right": "right"}


def _parts(name: str) -> list[str]:
    parts = [p for p in _SEPARATORS.split(name.strip()) if p]
    if len(parts) > 1 and parts[-1].lower() in _SIDE:
        parts[-1] = _SIDE[parts[-1].lower()]
    return parts


def normalise(name: str) -> str:
    """A key for tolerant matching: case and separators folded, side suffixes spelt out.

    ``brow_down_L``, ``BROW-DOWN-LEFT`` and ``browDownLeft`` all give ``browdownleft``.
    """
    return "".join(_parts(name)).lower()


_NORMALISED = {normalise(n): n for n in ARKIT_NAMES}


def match_arkit(name: str) -> str | None:
    """The ARKit name a shape-key name stands for, or None.

    Leading tokens are dropped one at a time until a match is found, so prefixes such as
    ``AK_01_``, ``01_`` or ``ARKit.`` are tolerated (``AK_01_BrowDownLeft`` -> browDownLeft).
    """
    parts = _parts(name)
    for i in range(len(parts)):
        hit = _NORMALISED.get("".join(parts[i:]).lower())
        if hit is not None:
            return hit
    return None


def auto_map(shape_key_names) -> tuple[dict[str, str], list[str]]:
    """Map ARKit names onto a character's shape keys by name.

    Returns ``(mapping ARKit name -> shape-key name, unmatched ARKit names)``. When two keys
    normalise to the same ARKit name the first one wins (a later user edit can change it).
    """
    mapping: dict[str, str] = {}
    for key in shape_key_names:
        arkit = match_arkit(key)
        if arkit is not None and arkit not in mapping:
            mapping[arkit] = key
    unmatched = [n for n in ARKIT_NAMES if n not in mapping]
    return mapping, unmatched
