"""The one way outputs are written: to a temporary file beside the target, then an atomic replace.

On any failure (disk full, permission, Ctrl-C, a writer's own error) the old file is left as it was
and no temporary remains; OS errors become one-line :class:`OutputError` messages naming the file.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import EmoTalkError

_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system or the process's file size limit",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "folder missing",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "name too long",
    errno.EIO: "input/output error",
}
_NEARLY_FULL = 1 << 20  # bytes free below which an unexplained write failure is a full disk
_MAX_NAME = 200  # temp names add ~20 characters; stay under the usual 255-byte limit


class OutputError(EmoTalkError):
    """An output that cannot be written (folder missing or read-only, permission, disk full)."""


def reason(exc: OSError) -> str:
    """A short human reason for an OS error (``disk full``, ``permission denied``, ...)."""
    return _REASONS.get(exc.errno, exc.strerror or str(exc))


def output_error(target, exc: OSError) -> OutputError:
    """``TARGET: cannot write (REASON)``: one line."""
    why = reason(exc)
    folder = Path(target).parent
    # A library's own short-write report has no errno, and Blender 4.2 reports a full disk as "No such
    # file or directory": when the folder is there, the free space tells.
    if exc.errno is None or (exc.errno == errno.ENOENT and folder.is_dir()):
        try:
            nearly_full = shutil.disk_usage(folder).free < _NEARLY_FULL
        except OSError:
            nearly_full = False
        if nearly_full:
            why = "disk full"
        elif exc.errno == errno.ENOENT:
            why = f"the writer reported: {exc.strerror}"
    return OutputError(f"{target}: cannot write ({why})")


def _os_error_in(exc: BaseException) -> OSError | None:
    """The OS error behind a writer's own exception: torch wraps ENOSPC in a RuntimeError, Blender
    reports it as text ("Cannot open file ... for writing: No space left on device")."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    for code in _REASONS:
        if os.strerror(code) in text:
            return OSError(code, os.strerror(code))
    return None


def _temp_name(target: Path, tag: str) -> Path:
    # Hidden, in the target's folder (same file system, so os.replace is atomic), ending in the
    # target's extension: writers that pick a format by extension (Blender, ffmpeg) see the right one.
    stem = target.name[:_MAX_NAME]
    return target.with_name(f".{stem}.{secrets.token_hex(4)}.{tag}{target.suffix}")


def _make_folder(target: Path, make_folder: bool) -> None:
    folder = target.parent
    if folder.is_dir():
        return
    if not make_folder:
        raise OutputError(f"{target}: cannot write (folder {folder} does not exist)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(target, exc) from exc


def _fsync_path(path: Path) -> None:
    """Flush a file some other writer produced; disk-full or I/O errors surface here, others don't matter."""
    try:
        fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target, make_folder: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (not yet existing); on success it replaces ``target``.

    For writers that take a path (Blender's save_as_mainfile, render, ffmpeg). The writer must write
    exactly that path; if it raises or is interrupted, the temporary is removed and ``target`` kept.
    """
    target = Path(target)
    _make_folder(target, make_folder)
    tmp = _temp_name(target, "tmp")
    try:  # the folder takes new files (else fail now, before the writer's work)
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(tmp)  # writers that find a file keep a backup of it (Blender's .blend1)
    except OSError as exc:
        raise output_error(target, exc) from exc
    done = False
    try:
        try:
            yield tmp
            if not tmp.is_file():
                raise OutputError(f"{target}: cannot write (the writer produced no file)")
            if target.is_file():  # keep the permissions of the file being replaced
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
            _fsync_path(tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise output_error(target, exc) from exc
        except OutputError:
            raise
        except Exception as exc:  # a writer's own error type: one line when an OS error is behind it
            cause = _os_error_in(exc)
            if cause is None:
                raise
            raise output_error(target, cause) from exc
        done = True
    finally:
        if not done:  # also on KeyboardInterrupt and on the writer's own errors
            try:
                tmp.unlink()
            except OSError:
                pass


@contextmanager
def atomic_open(target, mode: str = "wb", make_folder: bool = True, **kwargs) -> Iterator:
    """An open file object whose contents replace ``target`` only when the block succeeds."""
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open writes whole files; mode {mode!r} is not a write mode")
    with atomic_path(target, make_folder=make_folder) as tmp:
        try:
            with open(tmp, mode, **kwargs) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise output_error(target, exc) from exc
        except Exception as exc:
            cause = _os_error_in(exc)
            if cause is None:
                raise
            raise output_error(target, cause) from exc


def write_bytes(target, data: bytes) -> None:
    """``target`` holds ``data``, or is unchanged."""
    with atomic_open(target, "wb") as fh:
        fh.write(data)


def write_text(target, text: str, encoding: str = "utf-8", newline: str | None = None) -> None:
    """``target`` holds ``text``, or is unchanged."""
    with atomic_open(target, "w", encoding=encoding, newline=newline) as fh:
        fh.write(text)


class _PlainWriter:
    """Only ``write``: numpy then writes in chunks through it, and a full disk raises ENOSPC (its own
    ``tofile`` path reports a short write without an errno)."""

    def __init__(self, fh):
        self.write = fh.write


def save_npy(target, array) -> None:
    """``np.save`` to exactly ``target`` (through a file object, so no ``.npy`` is appended), atomically."""
    with atomic_open(target, "wb") as fh:
        np.save(_PlainWriter(fh), np.asanyarray(array), allow_pickle=False)


# --- checks before work ---------------------------------------------------------------------------
def _existing_ancestor(folder: Path) -> Path:
    p = folder
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    return p


def check_writable(target, size: int | None = None) -> None:
    """Raise :class:`OutputError` unless ``target`` can be written (its folder exists or can be made).

    Tries a real file in the nearest existing folder (permission bits, ACLs, read-only mounts and root
    all answer truly that way); ``size``, when given, is compared with the free space there.
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{target}: cannot write (it is a folder)")
    base = _existing_ancestor(target.parent)
    if not base.is_dir():
        raise OutputError(f"{target}: cannot write ({base} is a file, not a folder)")
    probe = _temp_name(base / target.name, "probe")
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as exc:
        where = "" if base == target.parent else f" in {base}"
        raise OutputError(f"{target}: cannot write ({reason(exc)}{where})") from exc
    if size is not None:
        try:
            free = shutil.disk_usage(base).free
        except OSError:
            free = None
        if free is not None and free < size:
            raise OutputError(f"{target}: cannot write (disk full: needs {size:,} bytes, {free:,} free)")


def folder_outputs(inputs: list, folder, suffix: str) -> list[Path]:
    """``FOLDER/STEM{suffix}`` per input, for a batch whose ``-o`` names a folder (which must not be a file)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, but {len(inputs)} inputs need a folder here "
                          f"(one {suffix} per input)")
    return [folder / (Path(i).stem + suffix) for i in inputs]


def check_outputs(pairs: Iterable[tuple[object, object]], overwrite: bool = True) -> None:
    """Checks for a batch of ``(source, output)`` pairs before any work: no two sources write one file,
    every output is writable, and (with ``overwrite=False``) none exists yet."""
    seen: dict[str, object] = {}
    pairs = [(src, Path(out)) for src, out in pairs]
    for src, out in pairs:
        key = os.path.normcase(os.path.abspath(out))
        if key in seen:
            raise OutputError(f"{seen[key]} and {src} would both write {out}; give them different names")
        seen[key] = src
    folders_checked: set[str] = set()
    for src, out in pairs:
        if not overwrite and out.exists():
            raise OutputError(f"{out}: already exists (from {src})")
        folder = os.path.abspath(out.parent)
        if out.is_dir() or folder not in folders_checked:
            check_writable(out)
            folders_checked.add(folder)
