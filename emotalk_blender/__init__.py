"""EmoTalk for Blender, the add-on package: its rooms ``engine``, ``blender`` and ``training`` may import only downward.

``engine`` (no bpy: audio, network backends, checkpoints, inference, post-processing, templates,
CLI) imports nothing of the others; ``blender`` (properties, operators, panels, scene writing)
imports ``engine``; ``training`` (corpus, training, evaluation; not shipped) imports ``engine``.
Importing this package never imports bpy; Blender calls register()/unregister() below, and
``python -m emotalk_blender`` adds the Blender side's ``bake`` to the engine's commands.
"""

__version__ = "0.1.0"


def register():
    from .blender import register as _register

    _register()


def unregister():
    from .blender import unregister as _unregister

    _unregister()
