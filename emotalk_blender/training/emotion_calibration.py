"""Calibrate a model's emotion reading on real voices: a temperature and a class bias, with the
expected calibration error (ECE) before and after, written beside the checkpoint.

    python -m emotalk_blender.training.emotion_calibration --checkpoint models/emotalk_default.safetensors \\
        --sources /work/data/gen3src_links [--out FILE.json]

Fitting set (never the test set): EmoDB's training speakers (the gen3 split; boredom left out),
GRID s1 training sentences and LJSpeech training clips (neutral). Test set: EmoDB's two held-out
speakers, GRID s1 held-out sentences, LJSpeech held-out clips and asterisk prompts (the corpus's
test_real share). The loss is the class-balanced negative log-likelihood (each emotion weighs the
same, so the many neutral clips do not make "neutral" the answer to everything) with a small L2
on the bias. ECE: 15 equal-width bins of the top probability, |accuracy - confidence| weighted by
the bin's share.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from ..engine.atomic import write_text
from ..engine.constants import EMOTIONS
from ..engine.direction.emotion_reading import (Calibration, _classifier, calibration_path, file_sha256, hidden_states,
                                                     logits_of)
from . import gen3

NEUTRAL = EMOTIONS.index("neutral")
CONFIDENT = 0.8
BIAS_L2 = 0.05
T_RANGE = (0.25, 25.0)


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top label."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    correct = (pred == labels).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        m = (conf > a) & (conf <= b)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def fit(logits: np.ndarray, labels: np.ndarray, balanced: bool = True) -> Calibration:
    """Temperature and bias minimising the NLL (class-balanced unless ``balanced`` is False; a small
    L2 on the bias). Balanced suits a model that over-reads one class; plain suits a test mix like
    the fit set's (it tracks the ECE of that mix)."""
    present = np.unique(labels)
    weights = np.full(len(labels), 1.0 / len(labels))
    if balanced:
        for c in present:
            weights[labels == c] = 1.0 / (labels == c).sum() / len(present)

    def loss(theta):
        t, b = np.exp(theta[0]), theta[1:]
        z = logits / t + b
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -(weights * logp[np.arange(len(labels)), labels]).sum() + BIAS_L2 * (b ** 2).sum()

    # T within [1/4, 25]: a model whose logits carry nothing on these voices gets the flattest
    # reading allowed rather than an unbounded T (the bias then decides the argmax on rounding noise)
    bounds = [(np.log(T_RANGE[0]), np.log(T_RANGE[1]))] + [(None, None)] * len(EMOTIONS)
    res = minimize(loss, np.zeros(1 + len(EMOTIONS)), method="L-BFGS-B", bounds=bounds)
    return Calibration(float(np.exp(res.x[0])), tuple(float(v) for v in res.x[1:]), "fit")


def report(probs: np.ndarray, labels: np.ndarray, sets: np.ndarray) -> dict:
    """Accuracy, ECE, confident-wrong rate, and for the neutral real sets the neutral top-reading rate."""
    pred, conf = probs.argmax(axis=1), probs.max(axis=1)
    out = {"clips": int(len(labels)), "accuracy": round(float((pred == labels).mean()), 4),
           "ece": round(ece(probs, labels), 4),
           "confident_wrong": round(float(((pred != labels) & (conf >= CONFIDENT)).mean()), 4)}
    for s in sorted(set(sets)):
        m = sets == s
        out[s] = {"clips": int(m.sum()), "accuracy": round(float((pred[m] == labels[m]).mean()), 4),
                  "confident_wrong": round(float(((pred[m] != labels[m]) & (conf[m] >= CONFIDENT)).mean()), 4),
                  "read_as": {e: int((pred[m] == k).sum()) for k, e in enumerate(EMOTIONS) if (pred[m] == k).any()}}
    return out


def clip_sets(sources, seed: int = 0, per_set: int = 60) -> dict[str, list[tuple[str, int, str]]]:
    """{'fit': [...], 'test': [...]} of (wav path, label, set name)."""
    from ..engine import paths  # noqa: F401  (the package must import in a stock environment)
    from .corpus import ClipPlan
    from .real import load_prompts

    root = Path(sources)
    out: dict[str, list] = {"fit": [], "test": []}
    for p in gen3._plan_emodb(root / "emodb", seed, ClipPlan):
        if p.name.endswith("_a0"):
            out["test" if p.split == "test_emodb" else "fit"].append((p.source, EMOTIONS.index(p.emotion), "emodb"))
    rng = np.random.default_rng(seed)
    grid = gen3._plan_grid(root / "grid_s1", seed, ClipPlan)
    for split, key in (("train_real", "fit"), ("test_grid", "test")):
        rows = [p for p in grid if p.split == split]
        for i in rng.permutation(len(rows))[:per_set]:
            out[key].append((rows[int(i)].source + ".wav", NEUTRAL, "grid"))
    lj = gen3._plan_ljspeech(root / "LJSpeech-1.1", seed, ClipPlan)
    out["fit"] += [(p.source, NEUTRAL, "ljspeech") for p in lj if p.split == "train_real"][:per_set // 2]
    out["test"] += [(p.source, NEUTRAL, "ljspeech") for p in lj if p.split == "test_ljspeech"]
    try:
        prompts = load_prompts()
        order = np.random.default_rng([seed, 1]).permutation(len(prompts))
        n_test = max(1, len(order) // 10)
        out["test"] += [(str(prompts[int(i)].path), NEUTRAL, "asterisk") for i in order[:n_test]][:per_set // 2]
    except Exception as exc:  # the asterisk prompts are optional here
        print(f"warning: no asterisk prompts ({exc})", file=sys.stderr)
    return out


def logits_for(backend, clips, log=print) -> np.ndarray:
    from ..engine.audio.decoding import load_audio

    head = _classifier(backend)
    out = []
    for k, (path, _, _) in enumerate(clips):
        audio = load_audio(path)
        if path.endswith(".wav") and "emodb" in path:
            audio = gen3.load_emodb(path)  # the zero tail stripped
        out.append(logits_of(hidden_states(backend, audio), head))
        if log and (k + 1) % 50 == 0:
            log(f"{k + 1}/{len(clips)} clips read")
    return np.stack(out)


def main(argv=None) -> int:
    from ..engine.network.loading import load_backend, resolve_checkpoint

    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.emotion_calibration",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", help="the model (default: the shipped default)")
    ap.add_argument("--sources", required=True, help="folder with grid_s1/, LJSpeech-1.1/, emodb/")
    ap.add_argument("--out", help="calibration file (default: beside the checkpoint)")
    ap.add_argument("--backend", default="numpy", choices=("numpy", "torch"))
    ap.add_argument("--cache", help="npz of the clips' logits (re-fitting without re-reading)")
    ap.add_argument("--plain", action="store_true", help="plain NLL instead of the class-balanced one")
    args = ap.parse_args(argv)
    ckpt = resolve_checkpoint(args.checkpoint)
    sets = clip_sets(args.sources)
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        data = np.load(cache)
        lf, lt = data["fit"], data["test"]
    else:
        backend = load_backend(ckpt, backend=args.backend)
        lf, lt = logits_for(backend, sets["fit"]), logits_for(backend, sets["test"])
        if cache is not None:
            np.savez(cache, fit=lf, test=lt)
    yf = np.array([c[1] for c in sets["fit"]])
    cal = fit(lf, yf, balanced=not args.plain)
    fit_set = {s: int(sum(1 for c in sets["fit"] if c[2] == s)) for s in {c[2] for c in sets["fit"]}}
    kind = "plain" if args.plain else "class-balanced"
    method = f"softmax(logits / T + b), T and b minimising the {kind} NLL on the fit set"
    write_calibration(ckpt, cal, sets["test"], lt, fit_set, method, Path(args.out) if args.out else None)
    return 0


def write_calibration(ckpt, cal: Calibration, test_clips, test_logits: np.ndarray, fit_set: dict, method: str,
                      out: Path | None = None) -> dict:
    """Write ``cal`` for the model file ``ckpt`` (beside it unless ``out``), with its test report."""
    yt = np.array([c[1] for c in test_clips])
    st = np.array([c[2] for c in test_clips])
    before = report(Calibration().probabilities(test_logits), yt, st)
    after = report(cal.probabilities(test_logits), yt, st)
    ckpt = Path(ckpt)
    result = {"model": {"file": ckpt.name, "bytes": ckpt.stat().st_size, "sha256": file_sha256(ckpt)},
              "temperature": round(cal.temperature, 5), "bias": [round(b, 5) for b in cal.bias],
              "emotions": list(EMOTIONS), "fit_set": fit_set, "test_before": before, "test_after": after,
              "method": method}
    out = out or calibration_path(ckpt)
    write_text(out, json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("temperature", "bias", "fit_set", "test_before", "test_after")},
                     indent=1))
    print(f"-> {out}")
    return result

if __name__ == "__main__":
    raise SystemExit(main())
