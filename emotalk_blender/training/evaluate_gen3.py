"""The third-generation targets' figures (issue 28's table), on a gen3 corpus's held-out splits.

Parts (``evaluate --splits``):
  * ``grid``: GRID s1 held-out sentences (split test_grid). Per clip, the Pearson r of the model's
    jawOpen, mouth-opening composite (visemes.lip_aperture) and rounding (mouthFunnel + mouthPucker)
    with the MediaPipe capture mapped to the rig (the clip's corpus target, calibrate.py), and
    jawOpen r with the raw capture too; the mean over clips.
  * ``grid_fixtures``: the two GRID fixtures of other speakers (../shared/data/grid, never trained
    on), captured here with MediaPipe: jawOpen r (cross-speaker check).
  * ``ljspeech``: LJSpeech held out (test_ljspeech): evaluate.real's figures (p/b/m met within 2
    frames, open-vowel frames shown shut, jawOpen r with the alignment's rule jaw).
  * ``languages``: the 3 held-out languages (test_language): the same lip figures per language
    (and pooled) against the IPA alignment, plus emotion accuracy per language.
  * ``emotion_real``: the voice's emotion reading as the engine gives it (emotion_reading.read,
    with the checkpoint's calibration when it has one, and raw): EmoDB's 2 held-out speakers (six
    emotions; boredom is not in the corpus), accuracy and read-wrong-with-confidence >= 0.8; real
    neutral speech (GRID held out, LJSpeech held out, the asterisk test prompts): top reading
    neutral, and the confident-wrong rate.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..engine.arkit import INDEX
from ..engine.audio.decoding import load_audio
from ..engine.constants import EMOTIONS
from ..engine.network.inference import predict
from ..engine.motion.postprocess import smooth
from .visemes import lip_aperture

GEN3_PARTS = ("grid", "grid_fixtures", "ljspeech", "languages", "emotion_real")
CONFIDENT = 0.8
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "data" / "grid"
CAPTURE_MODEL = Path(__file__).resolve().parents[3] / "shared" / "data" / "mediapipe" / "face_landmarker.task"


def _r(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() < 1e-8 or b.std() < 1e-8:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def rounding(y):
    return np.asarray(y)[:, INDEX["mouthFunnel"]] + np.asarray(y)[:, INDEX["mouthPucker"]]


def face_scores(pred: np.ndarray, target: np.ndarray, raw: np.ndarray | None = None) -> dict:
    n = min(len(pred), len(target))
    p, t = pred[:n], target[:n]
    out = {"jaw_r": _r(p[:, INDEX["jawOpen"]], t[:, INDEX["jawOpen"]]),
           "opening_r": _r(lip_aperture(p), lip_aperture(t)), "rounding_r": _r(rounding(p), rounding(t))}
    if raw is not None:
        out["jaw_r_raw_capture"] = _r(p[:, INDEX["jawOpen"]], raw[:n, INDEX["jawOpen"]])
    return out


def _mean(rows: list[dict]) -> dict:
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]} if rows else {}


def grid(model, manifest: dict, limit: int | None = None) -> dict:
    root = Path(manifest["root"])
    rows = [r for r in manifest["clips"] if r["split"] == "test_grid"][:limit]
    scores = []
    for r in rows:
        pred = smooth(predict(model, load_audio(root / f"{r['name']}.wav"), level=0.0, person=0))
        raw_path = Path(r.get("source_path", ""))
        raw = np.load(raw_path) if raw_path.suffix == ".npy" and raw_path.exists() else None
        scores.append(face_scores(pred, np.load(root / f"{r['name']}.npy"), raw))
    return {"split": "test_grid", "clips": len(rows), **_mean(scores)}


def grid_fixtures(model) -> dict:
    """Capture the fixture videos (other GRID speakers) and compare; {} when they are not here."""
    videos = sorted(FIXTURES.glob("*.mpg"))
    if not videos or not CAPTURE_MODEL.is_file():
        return {}
    from ..engine.capture.base import load_capture_backend
    from ..engine.capture.capture import capture_video
    from .calibrate import apply, load_table

    backend = load_capture_backend("mediapipe", CAPTURE_MODEL)
    table = load_table()
    per = {}
    try:
        for v in videos:
            cap = capture_video(str(v), backend)
            pred = smooth(predict(model, cap.audio, level=0.0, person=0))
            per[v.stem] = face_scores(pred, apply(cap.weights, table), cap.weights)
    finally:
        backend.close()
    return {"clips": len(per), **_mean(list(per.values())), "per_clip": per}


def ljspeech(model, manifest: dict) -> dict:
    from .evaluate import real

    return real(model, manifest, split="test_ljspeech")


def languages(model, manifest: dict) -> dict:
    from .evaluate import _emotion_logits, lip_scores, lip_summary

    root = Path(manifest["root"])
    refs = json.loads((root / "real_reference.json").read_text())
    by_lang: dict = defaultdict(list)
    emo: dict = defaultdict(list)
    for r in manifest["clips"]:
        if r["split"] != "test_language":
            continue
        audio = load_audio(root / f"{r['name']}.wav")
        target = np.load(root / f"{r['name']}.npy")
        lang = r.get("language", "?")
        if r["emotion"] == "neutral":  # lips on the plain sentence (the emotion's face is another matter)
            pred = smooth(predict(model, audio, level=0.0, person=int(r["person"])))
            by_lang[lang].append(lip_scores(pred, refs[r["name"]], target))
        emo[lang].append(int(_emotion_logits(model, audio).argmax()) == EMOTIONS.index(r["emotion"]))

    def figures(scores):
        hits = [h for s in scores for h in s["hits"]]
        lips = lip_summary(scores)
        return {"clips": len(scores), "bilabial_closures": len(hits),
                "bilabial_hit_rate": float(np.mean(hits)) if hits else None,
                "open_frames_closed_rate": lips["open_frames_closed_rate"],
                "jaw_open_correlation": float(np.mean([s["jaw_corr"] for s in scores])) if scores else None}

    out = {lang: {**figures(s), "emotion_accuracy": float(np.mean(emo[lang]))} for lang, s in sorted(by_lang.items())}
    out["pooled"] = {**figures([s for v in by_lang.values() for s in v]),
                     "emotion_accuracy": float(np.mean([x for v in emo.values() for x in v])) if emo else None}
    return out


def emotion_real(backend, checkpoint, manifest: dict) -> dict:
    """Emotion reading on real voices, calibrated (when the checkpoint has a calibration) and raw."""
    from ..engine.direction.emotion_reading import Calibration, load_calibration, read
    from . import gen3

    root = Path(manifest["root"])
    cal = load_calibration(checkpoint)
    sets: dict[str, list[tuple[Path, int]]] = defaultdict(list)
    for r in manifest["clips"]:
        if r["split"] == "test_emodb" and r["name"].endswith("_a0"):
            sets["emodb"].append((root / f"{r['name']}.wav", EMOTIONS.index(r["emotion"])))
        elif r["split"] in ("test_grid", "test_ljspeech") or (r["split"] == "test_real" and r["kind"] == "real"):
            sets[{"test_grid": "grid", "test_ljspeech": "ljspeech"}.get(r["split"], "asterisk")].append(
                (root / f"{r['name']}.wav", EMOTIONS.index("neutral")))
    out: dict = {"calibration": cal.source}
    for name, clips in sorted(sets.items()):
        raw_rows, cal_rows = [], []
        for path, label in clips:
            audio = load_audio(path)
            if name == "emodb":
                audio = gen3.strip_zero_tail(audio)
            r_raw = read(backend, audio, Calibration())
            raw_rows.append((r_raw.probabilities, label))
            cal_rows.append((cal.probabilities(np.log(np.maximum(r_raw.probabilities, 1e-12))), label))
        out[name] = {"clips": len(clips), "raw": summary(raw_rows), "calibrated": summary(cal_rows)}
    return out


def summary(rows) -> dict:
    probs = np.stack([p for p, _ in rows])
    labels = np.array([y for _, y in rows])
    pred, conf = probs.argmax(1), probs.max(1)
    from .emotion_calibration import ece

    return {"accuracy": round(float((pred == labels).mean()), 4),
            "confident_wrong": round(float(((pred != labels) & (conf >= CONFIDENT)).mean()), 4),
            "ece": round(ece(probs, labels), 4),
            "read_as": {EMOTIONS[k]: int((pred == k).sum()) for k in range(len(EMOTIONS)) if (pred == k).any()}}
