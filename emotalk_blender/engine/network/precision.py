"""Which number format the network computes in: fp32, bf16 (CPUs with native bf16) or fp16 (CUDA).

No torch needed to ask: the CPU's bf16 support comes from torch's cpuinfo when torch is importable,
else from ``/proc/cpuinfo``. Native means AVX-512 BF16 or AMX-BF16 (x86); without them torch
emulates bf16 and runs slower than fp32, which is why ``auto`` then stays in fp32.
"""
from __future__ import annotations

import functools
import warnings

from ..errors import EmoTalkError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # names in both torch's cpuinfo and /proc/cpuinfo


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
    """The first processor's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open(path) as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX-512 BF16 or AMX-BF16)."""
    try:
        import torch

        caps = torch.cpu.get_capabilities()
    except (ImportError, AttributeError, RuntimeError):  # no torch, or one without get_capabilities
        caps = None
    if caps is not None:
        return any(bool(caps.get(flag)) for flag in _NATIVE_BF16_FLAGS)
    return any(flag in cpu_flags() for flag in _NATIVE_BF16_FLAGS)


class PrecisionError(EmoTalkError):
    """A precision that is unknown, or that cannot run on the chosen device or backend."""


def check_precision(name: str) -> str:
    """``name`` if it is one of PRECISIONS, else a one-line PrecisionError."""
    if name not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    return name


def _cuda_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_bf16_supported())


def resolve_precision(precision: str, device: str = "cpu", backend: str = "torch") -> str:
    """The format a run computes in: ``fp32``, ``bf16`` or ``fp16``, checked against the device and backend.

    ``auto``: fp16 on CUDA, bf16 on a CPU with native bf16, else fp32 (also the NumPy backend's only
    format: NumPy has no bf16 or fast fp16 matrix product). The torch loader keeps small networks
    (the default model) in fp32 under ``auto`` (``torch_backend.AUTO_REDUCED_MIN_PARAMETERS``). An
    explicit format that cannot run there is a one-line PrecisionError; bf16 on a CPU without native
    bf16 runs (emulated) with a warning.
    """
    check_precision(precision)
    kind = str(device).split(":")[0]
    if backend == "numpy":
        if precision in ("auto", "fp32"):
            return "fp32"
        raise PrecisionError(f"precision {precision}: the NumPy backend computes in fp32 only; "
                             "use --precision fp32 (or auto), or the torch backend")
    if precision == "auto":
        return {"cuda": "fp16", "cpu": "bf16" if native_bf16() else "fp32"}.get(kind, "fp32")
    if precision == "fp16" and kind != "cuda":
        raise PrecisionError(f"precision fp16 runs on CUDA only, not on {device}; on the CPU use bf16 or fp32")
    if precision == "bf16" and kind == "cuda" and not _cuda_bf16():
        raise PrecisionError(f"precision bf16: {device} has no bf16 support; use fp16 or fp32")
    if precision == "bf16" and kind == "mps":
        raise PrecisionError("precision bf16 is not supported on mps here; use fp32")
    if precision == "bf16" and kind == "cpu" and not native_bf16():
        warnings.warn("this CPU has no native bf16 (AVX-512 BF16 or AMX): bf16 runs emulated, "
                      "likely slower than fp32", RuntimeWarning, stacklevel=2)
    return precision


def precision_of(precision: str, half: bool = False) -> str:
    """``precision`` checked, with the old ``half`` flag (``--half``) read as ``fp16``."""
    check_precision(precision)
    if half and precision not in ("auto", "fp16"):
        raise PrecisionError(f"half (fp16) contradicts precision {precision}; give one of them")
    return "fp16" if half else precision
