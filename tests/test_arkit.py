"""The 52 ARKit names and the pure name matching used for retargeting (no bpy)."""
import pytest

from emotalk_blender.engine import arkit
from emotalk_blender.engine.arkit import APPLE_ORDER, ARKIT_NAMES, INDEX, NUM_BLENDSHAPES, auto_map, match_arkit


def test_released_order_is_alphabetical_and_apples_is_a_permutation():
    assert NUM_BLENDSHAPES == len(ARKIT_NAMES) == 52
    assert list(ARKIT_NAMES) == sorted(ARKIT_NAMES) == sorted(APPLE_ORDER)
    assert len(set(APPLE_ORDER)) == 52
    assert all(ARKIT_NAMES[INDEX[n]] == n for n in ARKIT_NAMES)
    assert arkit.BLINK_CHANNELS == (INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"])


def test_pascal_and_mirror():
    assert arkit.pascal("eyeBlinkLeft") == "EyeBlinkLeft"
    assert arkit.mirror("mouthSmileLeft") == "mouthSmileRight" and arkit.mirror("browDownRight") == "browDownLeft"
    assert arkit.mirror("jawOpen") == "jawOpen"
    assert all(arkit.mirror(n) in INDEX for n in ARKIT_NAMES)  # every sided channel has its other side


@pytest.mark.parametrize("name", ["browDownLeft", "brow_down_L", "BROW-DOWN-LEFT", "brow.down.l", "BrowDown Left"])
def test_normalise_folds_case_separators_and_sides(name):
    assert arkit.normalise(name) == "browdownleft"


@pytest.mark.parametrize("name, want", [
    ("AK_01_BrowDownLeft", "browDownLeft"),  # numbered prefixes dropped
    ("ARKit.jawOpen", "jawOpen"),
    ("01_tongueOut", "tongueOut"),
    ("mouthSmile_R", "mouthSmileRight"),
    ("JawOpen", "jawOpen"),
    ("Basis", None),
    ("jaw", None),
    ("mouthSmile", None),  # no side: not a channel
])
def test_match_arkit(name, want):
    assert match_arkit(name) == want


def test_auto_map_first_key_wins_and_lists_unmatched():
    keys = ["Basis", "AK_01_BrowDownLeft", "browDown_L", "jaw_open", "Eye_Blink_R"]
    mapping, unmatched = auto_map(keys)
    assert mapping == {"browDownLeft": "AK_01_BrowDownLeft", "jawOpen": "jaw_open", "eyeBlinkRight": "Eye_Blink_R"}
    assert unmatched == [n for n in ARKIT_NAMES if n not in mapping] and len(unmatched) == 49
    full, none_left = auto_map(ARKIT_NAMES)
    assert full == {n: n for n in ARKIT_NAMES} and none_left == []
