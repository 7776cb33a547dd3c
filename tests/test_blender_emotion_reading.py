"""The take summary in Blender says what the voice reads as (issue 28), with the default model's calibration."""
import bpy
import numpy as np

from blender_support import arkit_mesh
from emotalk_blender.engine.direction import emotion_reading as R
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.network.loading import load_backend
from emotalk_blender.engine.paths import default_checkpoint

pytest_plugins = ["blender_support"]  # the `blender` fixture


def test_take_summary_shows_the_calibrated_reading(blender, speech_wav):
    arkit_mesh()
    assert R.load_calibration(default_checkpoint()).source != "none"  # the shipped model has one
    assert bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(speech_wav)) == {"FINISHED"}
    summary = bpy.context.scene.emotalk.last_take
    backend = load_backend(default_checkpoint(), backend="numpy")
    reading = R.read(backend, load_audio(speech_wav), R.load_calibration(default_checkpoint()))
    assert summary.endswith(reading.summary()), summary
    name, p = reading.top
    assert f"voice reads as: {name} {p:.2f}" in summary and 0 < p <= 1
    assert np.isclose(reading.probabilities.sum(), 1.0)
