"""What "Install MediaPipe" asks pip for: mediapipe plus the numpy the running Python already has.

``pip install --target`` resolves dependencies afresh; unpinned, it would fetch a newer numpy (and an
OpenCV built for it) that the host's own numpy shadows at import time.
"""
from __future__ import annotations

MEDIAPIPE_REQUIREMENT = "mediapipe==1.2.3"
PYPI_INDEX = "https://pypi.org/simple"
MODULE = "mediapipe"


def mediapipe_requirements(numpy_version: str | None = None) -> list[str]:
    """pip requirements for mediapipe that keep ``numpy_version`` (default: the imported numpy's)."""
    if numpy_version is None:
        import numpy

        numpy_version = numpy.__version__
    reqs = [MEDIAPIPE_REQUIREMENT, f"numpy=={numpy_version}"]
    if int(numpy_version.split(".")[0]) < 2:
        reqs.append("opencv-contrib-python==4.11.0.86")  # the last OpenCV built for numpy 1.x
    return reqs
