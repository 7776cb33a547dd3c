"""Give back the pages of a memory-mapped checkpoint tensor once a converted copy replaces it.

A checkpoint is memory-mapped as one file mapping; the pages read while converting its tensors to
bf16/fp16 stay in this process's resident set until the whole mapping goes, so a conversion would
peak at the fp32 file plus the converted copy. ``madvise(MADV_DONTNEED)`` drops a tensor's pages
at once. Only file-backed pages are released (they read back from the file if touched again);
anonymous memory is never touched, since another tensor might share it. Linux only; elsewhere
nothing happens and the peak is simply higher.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import sys

_MADV_DONTNEED = 4
_libc = None


def _madvise():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return _libc.madvise


def file_mappings() -> list[tuple[int, int]]:
    """(start, end) address ranges of this process's file-backed mappings (empty off Linux)."""
    if not sys.platform.startswith("linux"):
        return []
    spans = []
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 6 and parts[4] != "0" and parts[5].startswith("/"):  # inode, path
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    spans.append((start, end))
    except OSError:
        return []
    return spans


def release(address: int, nbytes: int, mappings: list[tuple[int, int]]) -> int:
    """Drop the whole pages of [address, address + nbytes) if they lie in one of ``mappings``; bytes released."""
    start = -(-address // mmap.PAGESIZE) * mmap.PAGESIZE
    end = (address + nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
    if end <= start or not any(lo <= start and end <= hi for lo, hi in mappings):
        return 0
    return end - start if _madvise()(start, end - start, _MADV_DONTNEED) == 0 else 0
