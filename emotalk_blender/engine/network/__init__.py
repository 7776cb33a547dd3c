"""The network: EmoTalk's configuration, weights and the two ways to run it, and inference over a clip.

``interface.py`` is the one seam (``Backend``); ``loading.py`` picks and caches a backend
(``torch_backend.py`` over ``model.py`` + ``wav2vec2.py``, or ``numpy_backend.py`` for a stock
Blender). ``config.py``/``layout.py`` describe the weights, ``checkpoint.py``/``safetensors_io.py``
read them (``mapped_pages.py``, ``allocator.py`` keep memory down), ``precision.py``/``devices.py``
check the number format and device, ``inference.py`` cuts a clip into windows and
``encodings.py`` keeps the encoders' outputs for re-takes.

May import: the engine's shared modules (``errors``, ``constants``, ``arkit``, ``atomic``, ``paths``,
``settings``); torch only in the torch path. Not the other rooms.
"""
