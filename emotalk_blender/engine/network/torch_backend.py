"""The torch backend: the ``EmoTalk`` nn.Module behind the ``interface.Backend`` seam (CPU or CUDA; fp32, bf16, fp16).

In bf16 or fp16 the two wav2vec2 encoders, which hold 99 % of the weights and of the work, keep
their matrices in that format and run under autocast; their norms and biases, the residual stream,
the fusion and the decoder stay fp32 (cheap, and the decoder in bf16 alone adds a third of the
error: bench/bench_precision.py).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from . import mapped_pages
from .checkpoint import load_checkpoint
from .model import EmoTalk
from .precision import resolve_precision

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
REDUCED = ("audio_encoder_cont.", "audio_encoder_emo.wav2vec2.")  # modules whose matrices are reduced


def default_device() -> str:
    """CUDA when present, else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


class TorchBackend:
    """``EmoTalk`` in its three inference stages, NumPy in and out; ``.model`` is the nn.Module."""

    name = "torch"

    def __init__(self, model: EmoTalk):
        self.model = model.eval()
        self._device = next(model.parameters()).device
        self.device = str(self._device)
        self.config = model.config
        self.meta = dict(getattr(model, "meta", {}) or {})
        self.precision = weights_precision(model)  # the encoders' matrices say how the model runs
        self._autocast = DTYPES[self.precision] if self.precision != "fp32" else None

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self._device)[None]

    def _run(self, stage, *args, reduced: bool = True) -> np.ndarray:
        dtype = self._autocast if reduced else None
        with torch.inference_mode(), torch.autocast(self._device.type, dtype=dtype, enabled=dtype is not None):
            y = stage(*args)
        return y[0].float().cpu().numpy()

    def encode_emotion(self, wav: np.ndarray, frames: int) -> np.ndarray:
        return self._run(lambda w: self.model.encode_emotion(w, frames)[0], self._tensor(wav))

    def emotion_hidden(self, wav: np.ndarray) -> np.ndarray:
        return self._run(self.model.emotion_hidden, self._tensor(wav))

    def emotion_features(self, hidden: np.ndarray, frames: int) -> np.ndarray:
        # under the same autocast as encode_emotion, so the two-stage path gives the same numbers
        return self._run(lambda h: self.model.emotion_features(h, frames), self._tensor(hidden))

    def encode_content(self, wav: np.ndarray, frames: int) -> np.ndarray:
        return self._run(lambda w: self.model.encode_content(w, frames), self._tensor(wav))

    def decode(self, content: np.ndarray, emotion: np.ndarray, level: float,
               person: int | Sequence[float]) -> np.ndarray:
        return self._run(lambda c, e: self.model.decode(c, e, level, person),
                         self._tensor(content), self._tensor(emotion), reduced=False)

    def num_parameters(self) -> int:
        return self.model.num_parameters()


def weights_precision(model: EmoTalk) -> str:
    """``fp32``, ``bf16`` or ``fp16``: the format of the encoders' first matrix."""
    dtype = model.audio_encoder_cont.feature_projection.projection.weight.dtype
    return next((name for name, d in DTYPES.items() if d == dtype), "fp32")


def encoder_autocast(model: EmoTalk):
    """The autocast the encoders of ``model`` run under (none in fp32), for code that calls the
    nn.Module's stages itself; the decoder runs outside it, in fp32."""
    precision = weights_precision(model)
    device = next(model.parameters()).device.type
    return torch.autocast(device, dtype=DTYPES[precision], enabled=precision != "fp32")


def to_precision(model: EmoTalk, precision: str, device="cpu") -> EmoTalk:
    """``model`` on ``device`` with the encoders' matrices in ``precision`` (the rest fp32), in place.

    Tensor by tensor, each fp32 original's file pages released as soon as its copy exists, so
    converting a memory-mapped checkpoint peaks near the converted size, not fp32 + converted.
    """
    dtype, device = DTYPES[precision], torch.device(device)
    mappings = mapped_pages.file_mappings()
    for name, p in model.named_parameters():
        target = dtype if p.dim() >= 2 and name.startswith(REDUCED) else torch.float32
        old = p.data
        if old.dtype == target and old.device == device:
            continue
        p.data = old.to(device=device, dtype=target)
        if old.device.type == "cpu":
            mapped_pages.release(old.data_ptr(), old.numel() * old.element_size(), mappings)
        del old
    return model


# ``auto`` keeps networks below this size in fp32: the shipped default model (3 M parameters) runs
# 69 ms fp32 vs 59 ms bf16 for 10 s here, and in fp32 its take equals the NumPy backend's to 1e-6.
AUTO_REDUCED_MIN_PARAMETERS = 100_000_000


def load(path, device: str | None = None, precision: str = "fp32") -> TorchBackend:
    """The checkpoint at ``path`` (released ``EmoTalk.pth`` or the project's own) on ``device``.

    ``precision`` as ``precision.resolve_precision`` takes it (``auto`` included); fp32 loads as before
    (memory-mapped on the CPU), a reduced one reads on the CPU and converts tensor by tensor.
    """
    device = torch.device(device or default_device())
    asked, precision = precision, resolve_precision(precision, str(device), "torch")
    if precision == "fp32":
        return TorchBackend(load_checkpoint(path, device=device))
    model = load_checkpoint(path, device="cpu")
    if asked == "auto" and model.num_parameters() < AUTO_REDUCED_MIN_PARAMETERS:
        return TorchBackend(model.to(device))  # small: fp32, the same take as the NumPy backend
    return TorchBackend(to_precision(model, precision, device))
