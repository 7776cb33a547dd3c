"""The engine: everything that runs without Blender; it imports numpy (torch, scipy optional), never bpy or ``blender``.

The entry point is ``pipeline.generate`` (audio file in, (T, 52) ARKit weights out), fed by a checked
``settings.Settings``. Beside it sit the modules every room needs: ``errors``, ``constants``,
``arkit``, ``atomic``, ``paths``, ``progress``, ``jobs`` and ``stored_settings``. The rooms:

- ``audio/``      decoding and resampling the voice
- ``network/``    the EmoTalk network, its weights, backends (torch or NumPy) and windowed inference
- ``direction/``  emotion sources and tracks, presets, face-part strengths, gaze, head motion
- ``motion/``     takes as data: resampling, smoothing and blinks, pose blending
- ``formats/``    motion files, Live Link Face CSV, template sets, point caches, vertex metrics
- ``capture/``    video to a take (MediaPipe or ResNet)
- ``cli/``        the command line
- ``install/``    installing torch or mediapipe with pip

Each room's ``__init__`` says what it may import; docs/architecture.md draws the graph.
torch is imported only by the torch backend and the modules it needs (model, wav2vec2, checkpoint).
"""
