"""Keep large freed buffers in the process heap (glibc), for command-line runs.

The CNN of each encoder allocates activations of tens of MB per layer. glibc serves blocks over
32 MB with a fresh mmap each time, and every new page then costs a fault when first written; in
our measurements that was about a quarter of the CNN's time. Telling malloc never to mmap and to
keep freed memory (trim threshold 1 GiB) removes those faults. It is a process-wide setting, so
only our own processes call it (the CLI, bake, benchmarks), never the add-on inside Blender.
"""
from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Apply the setting; False where the C library is not glibc (nothing changes there)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
