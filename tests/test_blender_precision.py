"""The Precision preference in real Blender: its choices are the engine's, and Generate reads it."""
import bpy

from emotalk_blender.blender import prefs
from emotalk_blender.engine.network.precision import PRECISIONS

pytest_plugins = ["blender_support"]  # the `blender` fixture


def test_precision_preference_offers_the_engine_choices(blender):
    prop = prefs.EMOTALK_AP_preferences.bl_rna.properties["precision"]
    assert tuple(item.identifier.lower() for item in prop.enum_items) == PRECISIONS
    assert prop.default == "AUTO"
    assert prefs.get(bpy.context)["precision"] == "auto"  # GenerateSettings.precision's default
