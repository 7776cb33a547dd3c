"""Which backend runs the network, loaded once and cached (torch is imported only when chosen).

``"auto"`` picks torch when it is importable (CUDA, fp16, training) and the NumPy backend
otherwise (a stock Blender). One model is resident at a time: the released one is 2.5 GB.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading

from . import encodings
from .. import paths
from .interface import Backend, check_backend
from ..errors import CheckpointError, EmoTalkError
from .precision import precision_of, resolve_precision


class BackendError(EmoTalkError):
    """A backend that is not installed, or cannot run on the requested device."""


def resolve_checkpoint(checkpoint=None) -> str:
    """``checkpoint`` as a path string, or the shipped default model's (which must exist)."""
    if checkpoint:
        return os.fspath(checkpoint)
    path = paths.default_checkpoint()
    if not path.is_file():
        raise CheckpointError(f"{path}: the default model is missing; pass a checkpoint "
                              "(e.g. the released EmoTalk.pth)")
    return os.fspath(path)


def torch_available() -> bool:
    """Whether ``import torch`` would work (without importing it)."""
    if "torch" in sys.modules:
        return sys.modules["torch"] is not None  # None: imports of torch are blocked
    return importlib.util.find_spec("torch") is not None


def choose_backend(backend: str = "auto") -> str:
    """``"torch"`` or ``"numpy"``: ``"auto"`` is torch when importable, else numpy."""
    if check_backend(backend) != "auto":
        return backend
    return "torch" if torch_available() else "numpy"


def _load(name: str, path: str, device: str | None, precision: str) -> Backend:
    if name == "torch":
        from . import torch_backend

        return torch_backend.load(path, device=device, precision=precision)
    try:
        from .numpy_backend import load as load_numpy
    except ImportError as exc:
        if exc.name not in (__package__ + ".numpy_backend", "numpy_backend"):
            raise
        raise BackendError("the numpy backend is not available in this build; install torch") from None
    return load_numpy(path)


def _device_key(name: str, device: str | None) -> str:
    """The device the backend will run on (checked before anything loads)."""
    if name == "numpy":
        if device not in (None, "cpu"):
            raise BackendError(f"the numpy backend runs on the CPU only, not on {device!r}")
        return "cpu"
    if not torch_available():
        raise BackendError("the torch backend needs torch installed (or use the numpy backend)")
    if device:
        return str(device)
    from .torch_backend import default_device

    return default_device()


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def load_backend(checkpoint=None, device: str | None = None, backend: str = "auto",
                 precision: str = "auto") -> Backend:
    """The network in ``checkpoint`` (None: the shipped default) as a Backend, loaded once and cached.

    Keyed by the file (real path and mtime), device, backend and the precision it resolves to
    (``precision.resolve_precision``); a new key replaces the cached
    model. Raises CheckpointError for a bad file, BackendError for a missing backend and
    PrecisionError for a precision the device or backend cannot run.
    """
    path = resolve_checkpoint(checkpoint)
    name = choose_backend(backend)
    try:
        stamp = os.path.realpath(path), os.path.getmtime(path)
    except OSError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    device = _device_key(name, device)
    asked = precision_of(precision)
    precision = resolve_precision(asked, device, name)  # checked here, before anything loads
    if name == "torch" and asked == "auto":
        # The torch loader decides ``auto`` with the network in hand (small networks stay fp32,
        # torch_backend.AUTO_REDUCED_MIN_PARAMETERS): hand it ``auto``, not what auto means for big ones.
        precision = "auto"
    key = (*stamp, device, name, precision)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE.clear()  # free the old model before loading the new one
            encodings.clear()  # the old model's encoder outputs go with it
            _CACHE[key] = _load(name, path, device, precision)
            encodings.keep_for(_CACHE[key])  # frozen weights: re-takes may reuse its encoder outputs
        return _CACHE[key]


def model_status(checkpoint=None, device: str | None = None, backend: str = "auto", precision: str = "auto") -> str:
    """One line for a status display: which model is active, or why it does not load. Never raises."""
    try:
        net = load_backend(checkpoint, device, backend, precision=precision)
        name = net.meta.get("name") or net.config.name
        return (f"{name} ({net.num_parameters() / 1e6:.1f} M parameters) on {net.device} "
                f"({net.name}) in {getattr(net, 'precision', 'fp32')}")
    except Exception as exc:  # shown to the user as text, never raised into a UI draw
        return f"not loaded: {exc}"
