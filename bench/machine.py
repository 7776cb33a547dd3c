"""What every benchmark shares: one line describing the machine (CPU, cores, memory, library versions),
and the best-of-N timer."""
from __future__ import annotations

import os
import platform
import sys
import time


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    parts = [f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB", f"Python {platform.python_version()}"]
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    if "bpy" in sys.modules:
        parts.append(f"Blender {sys.modules['bpy'].app.version_string} (bpy module)")
    if "numpy" in sys.modules:
        parts.append(f"numpy {sys.modules['numpy'].__version__}")
    return "; ".join(parts)


def best(fn, repeats: int = 5, warmup: bool = False) -> float:
    """The shortest of ``repeats`` timed calls of ``fn`` (seconds), after one untimed call if ``warmup``."""
    if warmup:
        fn()  # first-call allocations, BLAS thread start
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
