"""MediaPipe's blendshape scores -> a full-range rig, per channel (fitted on GRID's aligned frames).

    python -m emotalk_blender.training.calibrate fit GRID_OUT [--out TABLE.json]

Why: MediaPipe's blendshape head is compressed and partly defined differently from a rig's
(jawOpen rarely above about 0.35 on a wide-open mouth; its mouthClose; no tongueOut). A network
trained on raw captures would never open a head's mouth fully.

How: for the mouth channels the viseme rules write (visemes.MOUTH_CHANNELS), a monotone
piecewise-linear map from the captured score's quantiles to the rule targets' quantiles over the
same frames: the training clips of a GRID capture (training/grid.py), where the rule targets come
from GRID's word alignments (phones of the pocketsphinx CMU dictionary spread evenly over each
word; only the distribution matters for a quantile map, so phone-exact timing is not needed).
The map keeps the capture's order of frames (its correlations) and gives it the rig's range.
Channels the rules leave (almost) always at 0, channels whose capture does not follow the rules
(frame correlation below MIN_R, the mean of Left and Right for a pair: MediaPipe's mouthPress,
mouthRollLower, mouthSmile and mouthStretch mean something else than the rules' seal and spread,
and mapping them would turn their noise into full-range motion), and every channel outside the
mouth (brows, eyes, cheeks, nose: MediaPipe's range there is already near full) keep the
capture's value. tongueOut
is not captured and stays 0. The fitted table is ``mediapipe_calibration.json`` beside this file.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..engine.arkit import ARKIT_NAMES, INDEX
from ..engine.atomic import write_text
from ..engine.errors import EmoTalkError
from .espeak import Phone
from .visemes import MOUTH_CHANNELS, mouth_track

TABLE = Path(__file__).with_name("mediapipe_calibration.json")
QUANTILES = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995, 1.0)
MIN_RULE_RANGE = 0.02  # a channel the rules hardly use keeps the capture's value
MIN_R = 0.2  # nor one whose capture does not follow the rules (MediaPipe defines it otherwise)
NOT_CAPTURED = ("tongueOut",)
# GRID says letters by name; the dictionary's first entry of "a" is the schwa
_LETTER_NAMES = {"a": "EY"}


def word_phones(words: list[tuple[float, float, str]], lookup) -> list[Phone]:
    """ARPAbet phones spread evenly over each aligned word; silences as SIL."""
    out = []
    for start, end, word in words:
        if word in ("sil", "sp"):
            out.append(Phone("SIL", start, end))
            continue
        pron = (_LETTER_NAMES.get(word) or lookup(word) or "").split()
        if not pron:
            raise EmoTalkError(f"word {word!r} is not in the pronunciation dictionary")
        step = (end - start) / len(pron)
        out.extend(Phone(p, start + k * step, start + (k + 1) * step) for k, p in enumerate(pron))
    return out


def rule_track(words, n_frames: int, lookup) -> np.ndarray:
    """(n_frames, 52) viseme-rule mouth targets of an aligned GRID clip."""
    return mouth_track(word_phones(words, lookup), "arpabet", n_frames)[0]


def fit(captured: np.ndarray, rules: np.ndarray) -> dict:
    """Per channel name ``{"x": knots of the capture, "y": knots of the rig}`` (monotone)."""
    captured, rules = np.asarray(captured, np.float64), np.asarray(rules, np.float64)
    if captured.shape != rules.shape or captured.ndim != 2:
        raise EmoTalkError(f"captured {captured.shape} and rule frames {rules.shape} must be the same (N, 52)")
    r = correlations(captured, rules)
    table = {}
    for k in MOUTH_CHANNELS:
        name = ARKIT_NAMES[k]
        if name in NOT_CAPTURED:
            continue
        ys = np.quantile(rules[:, k], QUANTILES)
        if ys[-2] - ys[0] < MIN_RULE_RANGE or not r[_pair_of(name)] >= MIN_R:
            continue
        xs = np.quantile(captured[:, k], QUANTILES)
        xs = xs + np.arange(len(xs)) * 1e-6  # strictly rising knots (ties in a clipped score)
        ys = np.maximum.accumulate(ys)
        table[name] = {"x": [round(float(v), 6) for v in xs], "y": [round(float(v), 6) for v in ys]}
    return table


def _pair_of(name: str) -> str:
    """The key of a channel's Left/Right pair (its own name without the side)."""
    for side in ("Left", "Right"):
        if name.endswith(side):
            return name[: -len(side)]
    return name


def correlations(captured: np.ndarray, rules: np.ndarray) -> dict[str, float]:
    """Frame correlation of capture and rules per channel, and per pair key the mean of its sides."""
    out: dict[str, list[float]] = {}
    for k, name in enumerate(ARKIT_NAMES):
        a, b = captured[:, k], rules[:, k]
        r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
        out.setdefault(_pair_of(name), []).append(r)
        if _pair_of(name) != name:
            out[name] = [r]
    return {k: float(np.mean(v)) for k, v in out.items()}


def apply(weights: np.ndarray, table: dict) -> np.ndarray:
    """Captured (T, 52) weights mapped through the table (other channels kept), float32 in 0..1."""
    out = np.array(weights, np.float32, copy=True)
    for name, knots in table.items():
        k = INDEX[name]
        out[:, k] = np.interp(out[:, k], knots["x"], knots["y"])
    for name in NOT_CAPTURED:
        out[:, INDEX[name]] = 0.0
    return np.clip(out, 0.0, 1.0)


def load_table(path=TABLE) -> dict:
    """The fitted table (``channels``: name -> knots)."""
    try:
        return json.loads(Path(path).read_text())["channels"]
    except (OSError, ValueError, KeyError) as exc:
        raise EmoTalkError(f"{path}: not a calibration table ({exc})") from None


def fit_grid(grid_out, splits=("train",)) -> tuple[dict, dict]:
    """Fit on a GRID capture folder (training/grid.py output); returns (table, report)."""
    from . import grid
    from .real import decoder

    root = Path(grid_out)
    manifest = json.loads((root / "corpus" / "manifest.json").read_text())
    lookup = decoder().lookup_word
    caps, rules = [], []
    for r in manifest["clips"]:
        if r["split"] not in splits:
            continue
        cap = np.load(root / "corpus" / f"{r['name']}.npy")
        words = grid.read_align(root / "data" / "alignments" / "s1" / f"{r['name']}.align")
        caps.append(cap)
        rules.append(rule_track(words, len(cap), lookup))
    if not caps:
        raise EmoTalkError(f"{root}: no clips of split {splits} to fit on")
    cap, rule = np.concatenate(caps), np.concatenate(rules)
    table = fit(cap, rule)
    cal = apply(cap, table)
    r = correlations(cap, rule)
    report = {}
    for k in MOUTH_CHANNELS:
        name = ARKIT_NAMES[k]
        report[name] = {"mapped": name in table, "capture_p99": round(float(np.quantile(cap[:, k], 0.99)), 3),
                        "calibrated_p99": round(float(np.quantile(cal[:, k], 0.99)), 3),
                        "rules_p99": round(float(np.quantile(rule[:, k], 0.99)), 3),
                        "r_capture_rules": round(r[name], 3)}
    return table, {"clips": len(caps), "frames": int(len(cap)), "channels": report}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.calibrate",
                                 description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit the table on a GRID capture (its training clips)")
    f.add_argument("grid_out", help="the output folder of training/grid.py capture")
    f.add_argument("--out", default=str(TABLE))
    args = ap.parse_args(argv)
    table, report = fit_grid(args.grid_out)
    write_text(args.out, json.dumps({"source": "GRID s1 training clips, MediaPipe face_landmarker capture",
                                     "quantiles": QUANTILES, "fit": {k: v for k, v in report.items()
                                                                     if k != "channels"},
                                     "report": report["channels"], "channels": table}, indent=1))
    for name, rep in report["channels"].items():
        print(f"{name:22s} {rep}")
    print(f"{report['clips']} clips, {report['frames']} frames -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
