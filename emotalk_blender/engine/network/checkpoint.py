"""Checkpoints: the released EmoTalk.pth, HF-format wav2vec2 parts, and the project's own files.

Everything is read without executing pickled code (``torch.load(weights_only=True)``, or a plain
safetensors parser) and memory-mapped where the format allows, so that peak memory while loading is
about one copy of the weights. Loading is strict: every missing, unexpected or mis-shaped key is an
error that lists them.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from .. import atomic
from . import safetensors_io
from ..errors import CheckpointError
from .layout import OWN_FORMAT, canonical_key, check_keys, own_metadata, parse_own_metadata
from .model import EmoTalk, EmoTalkConfig

_TORCH_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U64": torch.uint64, "U32": torch.uint32, "U16": torch.uint16, "U8": torch.uint8, "BOOL": torch.bool,
}


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, extra) of a safetensors file, memory-mapped; ``extra`` holds our format's fields."""
    raw, metadata = safetensors_io.read_raw(path)
    out = {}
    for name, (dtype, shape, data) in raw.items():
        buf = torch.from_numpy(data) if data.size else torch.empty(0, dtype=torch.uint8)
        out[name] = buf.view(_TORCH_DTYPES[dtype]).reshape(shape)
    own = parse_own_metadata(path, metadata)
    extra = {} if own is None else {"format": OWN_FORMAT, "config": own[0].to_dict(), "meta": own[1]}
    return out, extra


def _torch_load(path: Path):
    try:
        mmap = zipfile.is_zipfile(path)  # only the zip format can be memory-mapped
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "GLOBAL" in text.upper():  # it names a class or function: code, not just tensors
            detail = next((line.strip() for line in text.splitlines() if "GLOBAL" in line), "unsupported object")
            raise CheckpointError(
                f"{path}: refused: the file carries pickled code or objects, not just weights, and is not "
                f"loaded for safety ({detail})"
            ) from None
        first = text.splitlines()[0] if text else "bad pickle"
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({first})") from None
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({first})") from None


def read_tensors(path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state_dict, extra) from a .pth/.pt/.bin/.safetensors file; ``extra`` holds our own format's fields."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        sd, extra = _read_safetensors(path)
        return {canonical_key(k): v for k, v in sd.items()}, extra
    obj = _torch_load(path)
    extra: dict = {}
    if isinstance(obj, dict) and obj.get("format") == OWN_FORMAT:
        extra = {k: v for k, v in obj.items() if k != "state_dict"}
        obj = obj["state_dict"]
    elif isinstance(obj, dict):
        for wrapper in ("state_dict", "model", "module"):  # common training-script wrappers
            if isinstance(obj.get(wrapper), dict) and all(isinstance(k, str) for k in obj[wrapper]):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state_dict of tensors")
    return {canonical_key(k): v for k, v in obj.items()}, extra


def _expected(model: torch.nn.Module) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in model.state_dict().items()}


def build_from_state_dict(path, sd: dict, cfg: EmoTalkConfig, device="cpu", dtype=torch.float32) -> EmoTalk:
    """An EmoTalk with ``cfg`` whose tensors are ``sd`` (strict), without a second copy on CPU."""
    with torch.device("meta"):
        model = EmoTalk(cfg)
    check_keys(path, _expected(model), sd)
    sd = {k: v.to(device=device, dtype=dtype if v.is_floating_point() else v.dtype) for k, v in sd.items()}
    model.load_state_dict(sd, strict=True, assign=True)
    return model.eval()


def load_checkpoint(path, device="cpu", dtype=torch.float32) -> EmoTalk:
    """Load the released EmoTalk.pth or one of the project's own checkpoints, strictly."""
    sd, extra = read_tensors(path)
    if extra:
        try:
            cfg = EmoTalkConfig.from_dict(extra["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: bad model configuration ({exc})") from None
    else:
        cfg = EmoTalkConfig()  # a flat state_dict: the released architecture
    model = build_from_state_dict(path, sd, cfg, device, dtype)
    model.meta = dict(extra.get("meta", {}))
    model.source = str(path)
    return model


def save_checkpoint(model: EmoTalk, path, meta: dict | None = None, released_layout: bool = False) -> None:
    """Save ``model``: our format (config + weights + meta) or, with ``released_layout``, a flat state_dict.

    A ``.safetensors`` path gets a safetensors file (config and meta in its header; readable without
    torch by the NumPy backend), any other a ``torch.save`` zip.
    """
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if Path(path).suffix == ".safetensors":
        metadata = {} if released_layout else own_metadata(model.config, meta)
        safetensors_io.write(path, {k: v.numpy() for k, v in sd.items()}, metadata)
        return
    obj = sd if released_layout else {
        "format": OWN_FORMAT, "config": model.config.to_dict(), "state_dict": sd, "meta": dict(meta or {}),
    }
    with atomic.atomic_open(path) as fh:  # a failed save never leaves a half file under the name
        torch.save(obj, fh)


# --- upstream HF-format wav2vec2 parts ------------------------------------------------------------
def _hf_encoder_tensors(path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if path.is_dir():
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise CheckpointError(f"{path}: no model.safetensors or pytorch_model.bin in this folder")
    sd, _ = read_tensors(path)
    return {(k[len("wav2vec2."):] if k.startswith("wav2vec2.") else k): v for k, v in sd.items()}


def replace_encoder(model: EmoTalk, which: str, path) -> None:
    """Put the weights of an HF-format wav2vec2 file into the content or emotion encoder, strictly.

    ``which="content"``: a Wav2Vec2ForCTC/Wav2Vec2Model file (its ``lm_head`` included if present).
    ``which="emotion"``: a speech-emotion file (wav2vec2 plus ``classifier.dense``/``classifier.out_proj``).
    """
    sd = _hf_encoder_tensors(path)
    if which == "content":
        target, head = model.audio_encoder_cont, {}
    elif which == "emotion":
        target = model.audio_encoder_emo.wav2vec2
        head = {k: sd.pop(k) for k in list(sd) if k.startswith("classifier.")}
    else:
        raise ValueError("which must be 'content' or 'emotion'")
    expected = _expected(target)
    if "lm_head.weight" in expected and "lm_head.weight" not in sd:  # a bare Wav2Vec2Model: keep ours
        expected = {k: v for k, v in expected.items() if not k.startswith("lm_head.")}
    for k in [k for k in sd if k.startswith("lm_head.") and k not in expected]:
        sd.pop(k)  # a CTC head the encoder does not use
    check_keys(path, expected, sd)
    dev = next(model.parameters()).device
    target.load_state_dict({k: v.to(dev, torch.float32) for k, v in sd.items()}, strict=False, assign=False)
    if head:
        cls = model.audio_encoder_emo.classifier
        check_keys(path, _expected(cls), {k[len("classifier."):]: v for k, v in head.items()})
        cls.load_state_dict({k[len("classifier."):]: v.to(dev, torch.float32) for k, v in head.items()})
