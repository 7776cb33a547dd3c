"""Install Python packages into a folder with this interpreter's pip, in a background subprocess.

The Preferences' *Install PyTorch* button runs ``sys.executable -m pip install --target DIR ...``
through :class:`PipInstall`: progress parsed from pip's output, the full log kept in a file,
cancellable, and a one-line reason when it fails. No bpy here (the Blender glue is
``blender/installer.py``).
"""
from __future__ import annotations

import collections
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

TORCH_REQUIREMENT = "torch>=2.4"  # weights_only loading and mmap, which engine/network/checkpoint.py uses


@dataclass(frozen=True)
class TorchBuild:
    label: str
    index_url: str  # PyTorch's own index for this build (it also holds torch's dependencies)
    download: str  # approximate download size, shown beside the button
    disk_bytes: int  # free space asked for before starting (download + unpacked, rounded up)


TORCH_BUILDS = {
    "cpu": TorchBuild("CPU", "https://download.pytorch.org/whl/cpu", "about 200 MB", 2 * 10**9),
    "cu126": TorchBuild("CUDA 12.6 (NVIDIA)", "https://download.pytorch.org/whl/cu126", "about 2.5 GB",
                        8 * 10**9),
    "cu128": TorchBuild("CUDA 12.8 (NVIDIA, RTX 50 series)", "https://download.pytorch.org/whl/cu128",
                        "about 3 GB", 9 * 10**9),
}

# pip's messages for the failures a user can act on, checked in this order (the first match wins).
_NETWORK = re.compile(r"Failed to establish a new connection|Temporary failure in name resolution|"
                      r"Name or service not known|Network is unreachable|No route to host|"
                      r"Connection refused|ConnectTimeout|Read timed out|ProxyError|"
                      r"getaddrinfo failed|nodename nor servname", re.I)
_SSL = re.compile(r"SSLError|CERTIFICATE_VERIFY_FAILED", re.I)
_DISK = re.compile(r"No space left on device|\[Errno 28\]|Disk quota exceeded", re.I)
_PERMISSION = re.compile(r"\[Errno 13\]|Permission denied|Access is denied", re.I)
_NOT_FOUND = re.compile(r"No matching distribution found for (\S+)")
_HASH = re.compile(r"DO NOT MATCH THE HASHES", re.I)
_PROGRESS = re.compile(r"^Progress (\d+) of (\d+)$")
_DOWNLOADING = re.compile(r"^\s*Downloading (\S+)(?: \(([^)]*)\))?")


def is_remote(index_url: str) -> bool:
    """True for an index on the network (needs Blender's online access), False for a local one."""
    return urlparse(index_url).scheme not in ("", "file")


def index_url_of(value: str) -> str:
    """A package index as pip takes it: URLs unchanged, a local folder as a file:// URL."""
    value = value.strip()
    if urlparse(value).scheme in ("http", "https", "file"):
        return value
    return Path(os.path.expanduser(value)).resolve().as_uri()


def platform_text() -> str:
    import platform

    return f"Python {sys.version_info.major}.{sys.version_info.minor}, {sys.platform} {platform.machine()}"


def failure_reason(lines: Sequence[str], returncode: int | None, target: str = "",
                   index_url: str = "") -> str:
    """One line saying why pip failed, from its output; the last ERROR line when nothing matches."""
    text = "\n".join(lines)
    where = urlparse(index_url).netloc or index_url or "the package index"
    if _DISK.search(text):
        return f"no disk space left (installing into {target})"
    if _PERMISSION.search(text):
        return f"permission denied writing {target}"
    if _SSL.search(text):
        return f"secure connection to {where} failed (SSL certificate error)"
    if _NETWORK.search(text):
        return f"no network: could not reach {where} (check the connection or the package index)"
    found = _NOT_FOUND.search(text)
    if found:
        return f"no package found for {found.group(1)} on {where} for this platform ({platform_text()})"
    if _HASH.search(text):
        return "a download was corrupted (hash mismatch): try again"
    errors = [line.strip() for line in lines if line.strip().startswith("ERROR:")]
    if errors:
        return errors[-1][len("ERROR:"):].strip()
    return f"pip exited with code {returncode}"


def pip_command(packages: Sequence[str], target: str, index_url: str, *,
                python: str = sys.executable, raw_progress: bool = True) -> list[str]:
    """The pip call: wheels only (no compiler needed), replacing what an earlier install left."""
    return [python, "-m", "pip", "install", "--target", target, "--upgrade", "--only-binary", ":all:",
            "--no-input", "--disable-pip-version-check", "--retries", "3", "--timeout", "30",
            "--progress-bar", "raw" if raw_progress else "off", "--index-url", index_url, *packages]


def _pip_version(python: str) -> tuple[int, ...] | None:
    """pip's version for ``python``, None when that Python has no pip."""
    proc = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, timeout=60)
    found = re.match(r"pip (\d+)\.(\d+)", proc.stdout)
    return tuple(int(g) for g in found.groups()) if proc.returncode == 0 and found else None


@dataclass
class InstallResult:
    ok: bool
    cancelled: bool
    reason: str  # one line: what was installed, or why not
    log_path: str | None


class PipInstall:
    """One ``pip install --target`` run in a subprocess: ``start()``, read the state, ``cancel()``, ``wait()``.

    Its state (``fraction``, ``message``, ``tail()``) is updated by a reader thread and may be read
    from any thread; nothing here touches bpy.
    """

    def __init__(self, packages: Sequence[str], target: str, index_url: str, *,
                 python: str = sys.executable, log_path: str | None = None, min_free_bytes: int = 0,
                 env: dict | None = None, tail_lines: int = 200):
        self.packages, self.target, self.index_url = list(packages), os.fspath(target), index_url
        self.python, self.log_path, self.min_free_bytes = python, log_path, min_free_bytes
        self.env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1", PIP_NO_INPUT="1")
        self.fraction, self.message = 0.0, "Starting"
        self.result: InstallResult | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self.result is None

    def tail(self, n: int = 8) -> list[str]:
        with self._lock:
            return list(self._lines)[-n:]

    def start(self) -> PipInstall:
        self._thread = threading.Thread(target=self._run, name="emotalk-pip", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> InstallResult | None:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def cancel(self) -> None:
        """Stop pip (its whole process group); pip unpacks into a temporary folder first, so a
        cancelled run leaves no half-installed package in the target."""
        self._cancel.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _terminate(proc)

    def _set(self, fraction: float | None = None, message: str | None = None) -> None:
        with self._lock:
            if fraction is not None:
                self.fraction = fraction
            if message is not None:
                self.message = message

    def _log(self, log, line: str) -> None:
        with self._lock:
            self._lines.append(line)
        if log is not None:
            log.write(line + "\n")
            log.flush()

    def _finish(self, ok: bool, reason: str) -> None:
        cancelled = self._cancel.is_set() and not ok
        reason = "cancelled" if cancelled else reason
        self._set(1.0 if ok else self.fraction, reason)
        self.result = InstallResult(ok, cancelled, reason, self.log_path)

    def _run(self) -> None:
        log = None
        try:
            if self.log_path:
                Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
                log = open(self.log_path, "w", encoding="utf-8", errors="replace")
            self._install(log)
        except Exception as exc:  # reported as the one-line reason, never raised into a UI
            self._finish(False, f"{type(exc).__name__}: {exc}")
        finally:
            if log is not None:
                log.close()

    def _install(self, log) -> None:
        os.makedirs(self.target, exist_ok=True)
        free = shutil.disk_usage(self.target).free
        if free < self.min_free_bytes:
            return self._finish(False, f"not enough disk space in {self.target}: {free / 1e9:.1f} GB free, "
                                       f"about {self.min_free_bytes / 1e9:.0f} GB needed")
        self._set(0.0, "Checking pip")
        version = _pip_version(self.python)
        if version is None:
            return self._finish(False, f"this Python has no pip (run: {self.python} -m ensurepip)")
        if self._cancel.is_set():
            return self._finish(False, "cancelled")
        cmd = pip_command(self.packages, self.target, self.index_url, python=self.python,
                          raw_progress=version >= (24, 1))
        self._log(log, "$ " + " ".join(cmd))
        self._set(0.0, "Looking up " + ", ".join(self.packages))
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      encoding="utf-8", errors="replace", bufsize=1, env=self.env,
                                      **_new_process_group())
        if self._cancel.is_set():  # cancelled while starting
            _terminate(self._proc)
        current = None
        for raw in self._proc.stdout:
            line = raw.rstrip("\r\n")
            progress = _PROGRESS.match(line)
            if progress:
                done, total = int(progress.group(1)), int(progress.group(2))
                if total:
                    self._set(done / total, f"Downloading {current or 'package'}: "
                                            f"{done / 1e6:.0f} / {total / 1e6:.0f} MB")
                continue  # progress lines stay out of the log
            self._log(log, line)
            downloading = _DOWNLOADING.match(line)
            if downloading:
                current = os.path.basename(urlparse(downloading.group(1)).path) or downloading.group(1)
                size = f" ({downloading.group(2)})" if downloading.group(2) else ""
                self._set(0.0, f"Downloading {current}{size}")
            elif line.startswith("Installing collected packages:"):
                self._set(1.0, "Installing " + line.split(":", 1)[1].strip())
            elif line.startswith(("Collecting", "Processing")):
                self._set(None, line.strip())
        code = self._proc.wait()
        if code == 0:
            installed = [line for line in self._lines if line.startswith("Successfully installed")]
            return self._finish(True, installed[-1] if installed else "installed")
        return self._finish(False, failure_reason(list(self._lines), code, self.target, self.index_url))


def _new_process_group() -> dict:
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _terminate(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to pip's process group (it may have children), SIGKILL when it does not go."""
    try:
        if os.name == "nt":
            proc.terminate()
        else:
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill() if os.name == "nt" else os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def activate(folder: str, module: str = "torch") -> tuple[bool, str]:
    """Make ``folder`` importable now and try ``import module``: (usable, one-line status)."""
    folder = os.fspath(folder)
    if folder not in sys.path:
        sys.path.append(folder)
    importlib.invalidate_caches()
    loaded = sys.modules.get(module)
    if loaded is not None:
        where = os.path.dirname(os.path.dirname(getattr(loaded, "__file__", "") or ""))
        if os.path.normcase(where) != os.path.normcase(os.path.abspath(folder)):
            return False, f"{module} installed; restart Blender to use it (another {module} is already loaded)"
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # a half-importable native library: only a fresh process can load it
        return False, f"{module} installed; restart Blender to use it ({type(exc).__name__}: {exc})"
    return True, f"{module} {getattr(mod, '__version__', '')} is ready".replace("  ", " ")
