"""Takes as data: (T, 52) weight arrays moved onto another time grid, mixed, smoothed, blended into bones.

``takes.py`` (resampling and mixing), ``postprocess.py`` (Savitzky-Golay smoothing and blinks),
``pose_blend.py`` (one pose per channel blended into bone transforms).

May import: the shared modules (``errors``, ``constants``, ``arkit``) and numpy only.
"""
