"""Real failing file systems for the tests: a tiny tmpfs (full disk) and a read-only one.

Mounting needs root and mount rights (CI runs as root); without them the tests that need it skip.
"""
from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(args: list[str]) -> bool:
    mount = shutil.which("mount")
    return mount is not None and subprocess.run([mount, *args], capture_output=True).returncode == 0


@contextmanager
def tmpfs(folder: Path, size: str = "64k", files: dict[str, bytes] | None = None, read_only: bool = False):
    """A tmpfs of ``size`` at ``folder`` holding ``files``, optionally remounted read-only."""
    folder.mkdir(parents=True, exist_ok=True)
    if not _mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        for name, data in (files or {}).items():
            (folder / name).write_bytes(data)
        if read_only and not _mount(["-o", "remount,ro", str(folder)]):
            pytest.skip("cannot remount a tmpfs read-only here")
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir())
