"""The engine: everything that runs without Blender.

Audio, the EmoTalk network, checkpoints, post-processing, templates, training and the CLI live
here. Nothing under this package may import bpy; the Blender side (``emotalk_blender.blender``)
is a thin shell over it.
"""
