"""The torch backend: the ``EmoTalk`` nn.Module behind the ``backend.Backend`` seam (CPU or CUDA, fp16)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .checkpoint import load_checkpoint
from .model import EmoTalk


def default_device() -> str:
    """CUDA when present, else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


class TorchBackend:
    """``EmoTalk`` in its three inference stages, NumPy in and out; ``.model`` is the nn.Module."""

    name = "torch"

    def __init__(self, model: EmoTalk, half: bool = False):
        self.model = model.eval()
        self._device = next(model.parameters()).device
        self.device = str(self._device)
        self.config = model.config
        self.meta = dict(getattr(model, "meta", {}) or {})
        self.half = half and self._device.type == "cuda"  # fp16 autocast is a CUDA feature here

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self._device)[None]

    def _run(self, stage, *args) -> np.ndarray:
        with torch.inference_mode(), torch.autocast(self._device.type, dtype=torch.float16, enabled=self.half):
            y = stage(*args)
        return y[0].float().cpu().numpy()

    def encode_emotion(self, wav: np.ndarray, frames: int) -> np.ndarray:
        return self._run(lambda w: self.model.encode_emotion(w, frames)[0], self._tensor(wav))

    def encode_content(self, wav: np.ndarray, frames: int) -> np.ndarray:
        return self._run(lambda w: self.model.encode_content(w, frames), self._tensor(wav))

    def decode(self, content: np.ndarray, emotion: np.ndarray, level: float,
               person: int | Sequence[float]) -> np.ndarray:
        return self._run(lambda c, e: self.model.decode(c, e, level, person),
                         self._tensor(content), self._tensor(emotion))

    def num_parameters(self) -> int:
        return self.model.num_parameters()


def load(path, device: str | None = None, half: bool = False) -> TorchBackend:
    """The checkpoint at ``path`` (released ``EmoTalk.pth`` or the project's own) on ``device``."""
    return TorchBackend(load_checkpoint(path, device=torch.device(device or default_device())), half=half)
