"""Files a take or a head is read from and written to, and what a take looks like as vertices.

``motion_io.py`` (the released ``.npy`` layout), ``livelinkface.py`` + ``llf_rotations.py`` (Live
Link Face CSV), ``templates.py`` + ``obj_templates.py`` (blendshape template sets),
``identity.py`` (a morphable head's identity weights), ``pointcache.py`` (PC2/MDD vertex caches)
and ``metrics.py`` (vertex metrics between two takes on a template set).

May import: the shared modules, ``motion`` (resampling a take) and ``direction.gaze`` (the eye
rotation range). Not ``network``, ``cli`` or ``capture``.
"""
