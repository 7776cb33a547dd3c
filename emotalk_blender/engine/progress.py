"""A one-line progress bar on stderr for the command-line front ends (``generate`` and ``bake``)."""
from __future__ import annotations

import sys
import time


class ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal or ``force``."""

    def __init__(self, label: str, force: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.label = label
        self.start = time.perf_counter()

    def __call__(self, fraction: float, message: str = "") -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(round(fraction * width))
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {fraction * 100:3.0f}% "
                          f"{message} {elapsed:.1f}s ")
        if fraction >= 1:
            self.stream.write("\n")
        self.stream.flush()
