"""The safetensors format in NumPy alone: read (memory-mapped) and write.

Layout: an 8-byte little-endian header size, a JSON header ``{name: {"dtype", "shape",
"data_offsets": [start, end]}, "__metadata__": {str: str}}`` padded with spaces to a multiple of 8
bytes, then the raw little-endian tensor bytes, back to back. Nothing in the file is executed.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from ..errors import CheckpointError

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,  # bf16: raw 16-bit words
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in DTYPES.items() if k != "BF16"}


def read_raw(path) -> tuple[dict[str, tuple[str, tuple[int, ...], np.ndarray]], dict[str, str]]:
    """({name: (dtype name, shape, the tensor's bytes as a uint8 view)}, metadata), memory-mapped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 2 or 8 + n > size:
            raise CheckpointError(f"{path}: truncated or not a safetensors file")
        try:
            header = json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError):
            raise CheckpointError(f"{path}: corrupt safetensors header") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupt safetensors header")
    metadata = header.pop("__metadata__", None) or {}
    raw = np.memmap(path, dtype=np.uint8, mode="c") if size > 8 + n else np.zeros(0, np.uint8)  # copy-on-write
    out = {}
    for name, info in header.items():
        try:
            dtype, shape, (start, end) = info["dtype"], tuple(int(d) for d in info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: corrupt safetensors header (entry {name})") from None
        if dtype not in DTYPES:
            raise CheckpointError(f"{path}: tensor {name} has unsupported dtype {dtype}")
        if end - start != int(np.prod(shape, dtype=np.int64)) * np.dtype(DTYPES[dtype]).itemsize or start < 0:
            raise CheckpointError(f"{path}: corrupt safetensors header (tensor {name}: size does not match its shape)")
        if 8 + n + end > size:
            raise CheckpointError(f"{path}: truncated (tensor {name} runs past the end of the file)")
        out[name] = (dtype, shape, raw[8 + n + start: 8 + n + end])
    return out, {str(k): str(v) for k, v in metadata.items()}


def to_numpy(dtype: str, shape: tuple[int, ...], data: np.ndarray) -> np.ndarray:
    """One tensor's bytes as an array; bf16 becomes float32 (its 16 bits are a float32's top half)."""
    if dtype == "BF16":
        return (data.view(np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
    return data.view(DTYPES[dtype]).reshape(shape)


def read(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """({name: array}, metadata) of a safetensors file; arrays are copy-on-write views of the file."""
    raw, metadata = read_raw(path)
    return {k: to_numpy(*v) for k, v in raw.items()}, metadata


def write(path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (numeric arrays) and string ``metadata``; atomically (write, then rename)."""
    header: dict = {"__metadata__": {str(k): str(v) for k, v in (metadata or {}).items()}}
    blobs, offset = [], 0
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr)
        kind = _NAMES.get(a.dtype.newbyteorder("=")) if a.dtype.byteorder in "=<|" else None
        if kind is None:
            raise ValueError(f"tensor {name}: dtype {a.dtype} has no safetensors name")
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": kind, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with atomic_open(Path(path)) as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)
