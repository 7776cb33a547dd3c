"""The engine: everything that runs without Blender; it imports numpy (torch, scipy optional), never bpy or ``blender``.

Audio, settings and their checks, the network behind the backend seam (``backend.py``: torch in
``torch_backend.py``, NumPy in ``numpy_backend.py``, chosen by ``backends.py``), checkpoints,
inference, post-processing, templates, the default head and the CLI live here. torch is imported
only by the torch backend and the modules it needs (model, wav2vec2, checkpoint); the Blender side
(``emotalk_blender.blender``) and training are thin shells over it.
"""
