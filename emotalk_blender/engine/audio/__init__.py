"""Audio in: ``decoding.py`` turns a file into mono 16 kHz float32; ``resample.py`` is the NumPy resampler.

May import: the engine's shared modules (``errors``, ``constants``) and numpy; soundfile or Blender's
``aud`` when present. Not the other rooms.
"""
