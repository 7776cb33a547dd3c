"""The emotion presets file of a model: ``NAME.presets.npz`` beside its checkpoint, read and written.

A preset is the mean emotion-encoder features of clips spoken in one emotion (``emotion.make_presets``
makes them); the file holds ``emotions`` (names), ``features`` (n, emotion_dim) float32 and ``meta``
(JSON). Read without pickles; every damaged file is a one-line ``EmotionError`` naming it. Where a
model's presets are looked up is ``presets_store.py``. numpy only.
"""
from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import EMOTIONS
from .emotion_parsing import EmotionError

PRESETS_SUFFIX = ".presets.npz"
PRESETS_FORMAT = 1


@dataclass(frozen=True)
class Presets:
    """Emotion presets of one model: a (emotion_dim,) float32 vector per emotion, and how they were made."""
    features: Mapping[str, np.ndarray]
    meta: Mapping

    def matrix(self, emotion_dim: int, source: str = "presets") -> np.ndarray:
        """(7, emotion_dim) in EMOTIONS order; an emotion without a preset is NaN (an error if used)."""
        out = np.full((len(EMOTIONS), emotion_dim), np.nan, np.float32)
        for name, v in self.features.items():
            if v.shape != (emotion_dim,):
                raise EmotionError(f"{source}: preset {name!r} has {v.shape[-1]} features, the model {emotion_dim}")
            out[EMOTIONS.index(name)] = v
        return out


def presets_path(checkpoint: str | os.PathLike) -> Path:
    """Where a checkpoint's presets live: beside it, ``NAME.presets.npz`` (``emotalk_default.safetensors``
    -> ``emotalk_default.presets.npz``; the same for a ``.pt`` or the released ``EmoTalk.pth``)."""
    p = Path(checkpoint)
    return p.with_name(p.stem + PRESETS_SUFFIX) if p.suffix else p.with_name(p.name + PRESETS_SUFFIX)


def load_presets(path: str | os.PathLike) -> Presets:
    """Read a presets file (``np.load`` without pickles); EmotionError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise EmotionError(f"{path}: no emotion presets for this model (make them from your clips with "
                           f"`python -m emotalk_blender presets EMOTION=CLIP...`, or use --emotion-ref)")
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy and zipfile raise several types for a damaged file
        raise EmotionError(f"{path}: not an emotion presets file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):  # a plain .npy array under the presets name
        raise EmotionError(f"{path}: not an emotion presets file (a single array, not an .npz of presets)")
    try:
        with z:
            names = [str(n) for n in np.ravel(z["emotions"])]
            feats = np.asarray(z["features"])
            if feats.dtype.kind not in "fiu":
                raise ValueError(f"features of type {feats.dtype}")
            with np.errstate(all="ignore"):  # a value past float32 range becomes inf: refused below
                feats = feats.astype(np.float32)
            meta = json.loads(str(z["meta"]))
    except Exception as exc:
        raise EmotionError(f"{path}: not an emotion presets file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise EmotionError(f"{path}: not an emotion presets file (its meta is not a JSON object)")
    if feats.ndim != 2 or feats.shape[0] != len(names):
        raise EmotionError(f"{path}: {len(names)} emotion names but features of shape {feats.shape}")
    for n in names:
        if n not in EMOTIONS:
            raise EmotionError(f"{path}: unknown emotion {n!r}; expected one of {', '.join(EMOTIONS)}")
    if not np.isfinite(feats).all():
        raise EmotionError(f"{path}: the presets hold NaN or infinite values")
    return Presets(dict(zip(names, feats)), meta)


def save_presets(path: str | os.PathLike, presets: Presets) -> None:
    """Write ``presets`` atomically (emotions in EMOTIONS order)."""
    from ..atomic import write_bytes

    names = [n for n in EMOTIONS if n in presets.features]
    buf = io.BytesIO()
    np.savez(buf, emotions=np.array(names), meta=np.array(json.dumps(dict(presets.meta), sort_keys=True)),
             features=np.stack([np.asarray(presets.features[n], np.float32) for n in names]))
    write_bytes(path, buf.getvalue())
