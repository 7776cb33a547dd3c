"""Installing optional Python packages (torch, mediapipe) with this interpreter's pip: ``pip_install.py``.

May import: the shared modules and the standard library only (it runs before torch exists).
"""
