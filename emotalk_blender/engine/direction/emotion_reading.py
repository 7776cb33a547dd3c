"""What emotion the voice reads as: the model's own 7-class head, calibrated, numpy only.

The emotion encoder's transformer output (about 30 steps a second) goes through the classifier
head the network was trained with (mean over time, dense, tanh, out_proj: model.EmotionClassifier),
computed here in NumPy from the checkpoint's weights, so the NumPy and torch backends read alike.

Calibration (``NAME.emotion_calibration.json`` beside the checkpoint, for that file only: its
size and SHA-256 are checked): probabilities ``softmax(logits / T + b)``, a temperature T and a
class bias b fitted on held-out clips (training/emotion_calibration.py, with the expected
calibration error before and after). Without a file for the checkpoint: the raw softmax.

When unsure, the face leans toward neutral: ``lean_weight`` is the share of the neutral preset
mixed into the voice's emotion features, ``max_lean * (1 - confidence)`` with confidence the top
calibrated probability (0 when the voice reads as neutral anyway, or when leaning is off).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..network import encodings
from ..network.inference import CHUNK_SECONDS, OVERLAP_SECONDS, spans  # long files: the take's own windows
from ..network.interface import normalise_audio
from ..constants import EMOTIONS, SAMPLE_RATE

CALIBRATION_SUFFIX = ".emotion_calibration.json"
MAX_LEAN = 0.8
_CLS = "audio_encoder_emo.classifier."


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    bias: tuple[float, ...] = (0.0,) * len(EMOTIONS)
    source: str = "none"

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        z = np.asarray(logits, np.float64) / self.temperature + np.asarray(self.bias, np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Reading:
    probabilities: np.ndarray  # (7,) in EMOTIONS order
    per_second: np.ndarray | None  # (S, 7): one reading per second of audio (the last may be shorter)
    calibrated: bool

    @property
    def top(self) -> tuple[str, float]:
        k = int(np.argmax(self.probabilities))
        return EMOTIONS[k], float(self.probabilities[k])

    def summary(self) -> str:
        """``voice reads as: neutral 0.71`` (the take summary's line)."""
        name, p = self.top
        return f"voice reads as: {name} {p:.2f}"

    def to_dict(self) -> dict:
        out = {"emotion": self.top[0], "confidence": round(self.top[1], 4), "calibrated": self.calibrated,
               "probabilities": {e: round(float(p), 4) for e, p in zip(EMOTIONS, self.probabilities)}}
        if self.per_second is not None:
            out["per_second"] = [{e: round(float(p), 4) for e, p in zip(EMOTIONS, row)} for row in self.per_second]
        return out


def _classifier(backend) -> tuple[np.ndarray, ...]:
    """(dense W, dense b, out W, out b) float32 of the checkpoint's emotion head."""
    weights = getattr(backend, "weights", None)
    if weights is None:  # torch backend: the module's parameters
        sd = backend.model.audio_encoder_emo.classifier.state_dict()
        weights = {_CLS + k: v.detach().float().cpu().numpy() for k, v in sd.items()}
    try:
        return tuple(np.asarray(weights[_CLS + k], np.float32) for k in
                     ("dense.weight", "dense.bias", "out_proj.weight", "out_proj.bias"))
    except KeyError:
        from ..errors import EmoTalkError

        raise EmoTalkError("this model has no emotion classifier head; it cannot read a voice's emotion") from None


def hidden_states(backend, audio: np.ndarray) -> np.ndarray:
    """(steps, hidden) float32: the emotion transformer's output at about 30 steps a second.

    Read in the take's own windows (inference.spans: long files in 20 s pieces, whose overlaps are
    dropped here), through the kept encoder outputs: a take that reads its voice and then animates
    it runs the emotion encoder once, and a re-take of the same audio not at all.
    """
    audio = np.asarray(audio, np.float32)
    out, written = [], 0  # samples [0, written) read
    for s, e in spans(max(1, len(audio)), CHUNK_SECONDS, OVERLAP_SECONDS):
        h = encodings.emotion_hidden(backend, normalise_audio(audio[s:e]))
        skip = int(round((written - s) / max(1, e - s) * len(h))) if written > s else 0
        out.append(h[skip:])
        written = e
    return np.concatenate(out).astype(np.float32)


def logits_of(hidden: np.ndarray, head: tuple[np.ndarray, ...]) -> np.ndarray:
    """The classifier head (eval mode) on the mean of ``hidden`` over its steps: (7,) float64."""
    w1, b1, w2, b2 = (np.asarray(a, np.float64) for a in head)
    x = np.asarray(hidden, np.float64).mean(axis=0)
    return np.tanh(x @ w1.T + b1) @ w2.T + b2


def read(backend, audio: np.ndarray, calibration: Calibration | None = None, over_time: bool = False) -> Reading:
    """The voice's emotion reading of 16 kHz ``audio`` (and one per second with ``over_time``)."""
    cal = calibration or Calibration()
    head = _classifier(backend)
    h = hidden_states(backend, audio)
    probs = cal.probabilities(logits_of(h, head))
    per_second = None
    if over_time:
        steps = h.shape[0] / max(1e-9, len(audio) / SAMPLE_RATE)  # transformer steps per second
        n = max(1, int(np.ceil(len(audio) / SAMPLE_RATE - 1e-9)))
        rows = []
        for s in range(n):
            a, b = int(round(s * steps)), max(int(round(s * steps)) + 1, int(round((s + 1) * steps)))
            rows.append(cal.probabilities(logits_of(h[a:min(b, len(h))] if a < len(h) else h[-1:], head)))
        per_second = np.stack(rows)
    return Reading(probs, per_second, cal.source != "none")


def lean_weight(reading: Reading, max_lean: float = MAX_LEAN) -> float:
    """Share of the neutral preset in the take's emotion features: ``max_lean * (1 - confidence)``;
    0 when the voice reads as neutral (it is neutral already)."""
    name, p = reading.top
    return 0.0 if name == "neutral" else float(max_lean) * (1.0 - p)


# --- calibration files -------------------------------------------------------------------------------
_CACHE: dict = {}


def calibration_path(checkpoint) -> Path:
    p = Path(checkpoint)
    return p.with_name(p.name.rsplit(".", 1)[0] + CALIBRATION_SUFFIX)


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_calibration(checkpoint) -> Calibration:
    """The calibration fitted for ``checkpoint`` (the file beside it, when it names this very file)."""
    path = calibration_path(checkpoint)
    try:
        key = (os.path.realpath(checkpoint), os.path.getmtime(checkpoint), path.is_file() and os.path.getmtime(path))
    except OSError:
        return Calibration()
    if key in _CACHE:
        return _CACHE[key]
    cal = Calibration()
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            model = data["model"]
            if model["bytes"] == os.path.getsize(checkpoint) and model["sha256"] == file_sha256(checkpoint):
                cal = Calibration(float(data["temperature"]), tuple(float(b) for b in data["bias"]), str(path))
        except (OSError, ValueError, KeyError, TypeError):
            cal = Calibration()  # a broken or foreign file: read uncalibrated rather than wrongly
    _CACHE.clear()
    _CACHE[key] = cal
    return cal


# --- the take: lean toward neutral when unsure ---------------------------------------------------------
LAST: dict = {}  # "reading": the last take's Reading (for the Blender take summary), set by voice_lean


@dataclass(frozen=True)
class Lean:
    """The voice's own emotion features leaned toward the neutral preset: ``(1 - w) e + w neutral``."""
    weight: float
    neutral: np.ndarray  # (emotion_dim,)
    reading: Reading

    def __call__(self, features: np.ndarray) -> np.ndarray:
        f = np.asarray(features, np.float32)
        return ((1 - self.weight) * f + self.weight * self.neutral[None, :]).astype(np.float32)


def voice_lean(backend, audio: np.ndarray, checkpoint, max_lean: float = MAX_LEAN, direction=None) -> Lean | None:
    """The lean of a take's voice features, or None (no lean: the take is exactly the voice's own).

    Leans only with what makes the confidence mean something and the target exist: a calibration
    fitted for this checkpoint and its neutral preset; not when ``max_lean`` is 0, when the direction
    leaves the voice no share on any frame, or when the voice reads as neutral.
    """
    LAST.pop("reading", None)
    if max_lean <= 0:
        return None
    if direction is not None and not (direction.weights.sum(axis=1) < 1 - 1e-6).any():
        return None  # the voice's features are not used: nothing to lean
    cal = load_calibration(checkpoint)
    if cal.source == "none":
        return None
    from .presets_store import presets_for

    try:
        path, found = presets_for(checkpoint)
        presets = found.matrix(backend.config.emotion_dim, source=str(path))
    except Exception:  # no presets for this model: nothing to lean toward
        return None
    neutral = presets[EMOTIONS.index("neutral")]
    if np.isnan(neutral).any():
        return None
    reading = read(backend, audio, cal)
    LAST["reading"] = reading
    w = lean_weight(reading, max_lean)
    return Lean(w, neutral, reading) if w > 0 else None


def directed_features(direction, lean: Lean | None):
    """The ``direct`` callable of inference.predict: the lean on the voice's features, then the direction."""
    if direction is None and lean is None:
        return None
    from .emotion import direct

    def run(features: np.ndarray, f0: int, f1: int) -> np.ndarray:
        return direct(lean(features) if lean is not None else features, f0, f1, direction)

    return run
