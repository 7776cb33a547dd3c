"""EmoTalk for Blender: emotional speech-driven facial animation (ARKit shape keys).

Two rooms: ``emotalk_blender.engine`` (no bpy: audio, network, checkpoints, post-processing,
templates, CLI) and ``emotalk_blender.blender`` (properties, operators, panels, scene writing).
Importing this package never imports bpy; Blender calls register()/unregister() below.
"""

__version__ = "0.1.0"


def register():
    from .blender import register as _register

    _register()


def unregister():
    from .blender import unregister as _unregister

    _unregister()
