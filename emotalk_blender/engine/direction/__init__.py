"""Directing a take: what the voice's face is asked to do beyond the network's own output.

``emotion.py`` (emotion sources, tracks and their maths, presets), ``presets_store.py`` (where
presets are read and written), ``emotion_reading.py`` (what emotion the voice reads as),
``face_parts.py`` (strengths, smoothing,
blinks: the post-processing of every take), ``gaze.py``, ``head_motion.py`` and ``head_stats.py``.

May import: the shared modules, ``audio``, ``network`` (to encode a reference clip or a preset) and
``motion``. Not ``formats``, ``cli`` or ``capture``.
"""
