"""Re-fit the emotion reading's last layer on real and synthetic voices, then calibrate it honestly.

    python -m emotalk_blender.training.emotion_head CORPUS --checkpoint MODEL.safetensors --sources DIR \\
        --out NEW.safetensors

Why: the network learns its 7-class head jointly with everything else, from a corpus where real
emotional voices are few (EmoDB: 8 training actors) beside thousands of synthetic ones. After
training, the emotion encoder is fixed; its head's last layer (``classifier.out_proj``: 192 -> 7 on
the tanh of the dense layer, over the clip's mean hidden state) is a multinomial logistic
regression on fixed features, fitted here by weighted maximum likelihood with an L2 pull toward the
trained weights. Only the reading changes: the face is made from the emotion features, not from
this layer (it also feeds training's emotion loss, which is over).

- Clips: the corpus's training splits: EmoDB (both augmented copies of every training actor's
  clips), GRID s1, LJSpeech and asterisk prompts (neutral real voices), espeak, flite/festival and
  the 17 languages (a sample). Never a held-out split.
- Weights: each group's share of the loss is fixed (EmoDB 0.3, the neutral real voices 0.3,
  espeak 0.15, flite/festival 0.15, languages 0.1), class-balanced within EmoDB.
- The pull's strength is chosen by 4-fold cross-validation grouped by speaker (EmoDB's 8
  training actors two per fold; the single-speaker sets split by clip), scoring the mean of the
  groups' accuracies (EmoDB counted twice: it is the only real emotional voice).
- Calibration (``NAME.emotion_calibration.json``) is fitted on the out-of-fold logits, which the
  re-fitted layer never saw, and reported on the calibration test set (emotion_calibration.py).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from ..engine.audio.decoding import load_audio
from ..engine.constants import EMOTIONS
from ..engine.direction.emotion_reading import _classifier, hidden_states, logits_of
from ..engine.network import safetensors_io
from .emotion_calibration import clip_sets, ece, fit, write_calibration

OUT_W, OUT_B = "audio_encoder_emo.classifier.out_proj.weight", "audio_encoder_emo.classifier.out_proj.bias"
SHARES = {"emodb": 0.3, "real": 0.3, "synthetic": 0.15, "natural": 0.15, "language": 0.1}
SAMPLE = {"video": 250, "real": 150, "synthetic": 700, "natural": 400, "language": 250}
PULLS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
FOLDS = 4


def training_clips(manifest: dict, seed: int = 0) -> list[dict]:
    """Rows of the corpus's training splits: every EmoDB and LJSpeech clip, a sample of the rest."""
    rng = np.random.default_rng(seed)
    out = []
    by_kind: dict[str, list] = {}
    for r in manifest["clips"]:
        if r["split"] in ("train", "train_real"):
            by_kind.setdefault(r.get("kind", "synthetic"), []).append(r)
    for kind, rows in sorted(by_kind.items()):
        n = SAMPLE.get(kind)
        pick = rows if n is None or n >= len(rows) else [rows[int(i)] for i in np.sort(rng.permutation(len(rows))[:n])]
        out += pick
    return out


def group_of(r: dict) -> str:
    kind = r.get("kind", "synthetic")
    return "real" if kind in ("video", "ljspeech", "real") else kind


def folds_of(rows: list[dict]) -> np.ndarray:
    """Fold per clip, grouped by speaker: EmoDB's actors two per fold, other speakers by id, the
    single-speaker real sets clip by clip."""
    actors = sorted({r["source"][:2] for r in rows if r.get("kind") == "emodb"})
    fold_of_actor = {a: k % FOLDS for k, a in enumerate(actors)}
    out = np.zeros(len(rows), int)
    for i, r in enumerate(rows):
        if r.get("kind") == "emodb":
            out[i] = fold_of_actor[r["source"][:2]]
        elif group_of(r) == "real":
            out[i] = i % FOLDS
        else:
            out[i] = int(r["speaker"]) % FOLDS
    return out


def sample_weights(rows: list[dict], labels: np.ndarray) -> np.ndarray:
    groups = np.array([group_of(r) for r in rows])
    w = np.zeros(len(rows))
    for g, share in SHARES.items():
        m = groups == g
        if not m.any():
            continue
        if g == "emodb":  # class-balanced: EmoDB has twice as many angry clips as disgusted ones
            present = np.unique(labels[m])
            for c in present:
                mc = m & (labels == c)
                w[mc] = share / len(present) / mc.sum()
        else:
            w[m] = share / m.sum()
    return w / w.sum()


def head_features(backend, paths: list[str], log=print) -> np.ndarray:
    """tanh(dense(mean hidden)) per clip: the input of the layer re-fitted here."""
    w1, b1, _, _ = (np.asarray(a, np.float64) for a in _classifier(backend))
    out = []
    for k, p in enumerate(paths):
        h = hidden_states(backend, load_audio(p)).astype(np.float64).mean(axis=0)
        out.append(np.tanh(h @ w1.T + b1))
        if log and (k + 1) % 250 == 0:
            log(f"{k + 1}/{len(paths)} clips read")
    return np.stack(out)


def fit_layer(x: np.ndarray, y: np.ndarray, w: np.ndarray, w0: np.ndarray, b0: np.ndarray, pull: float):
    """Weighted multinomial logistic regression, ``pull * |W - W0|^2`` (bias free): (W, b)."""
    k, d = w0.shape
    onehot = np.eye(k)[y]

    def loss(theta):
        W, b = theta[:k * d].reshape(k, d), theta[k * d:]
        z = x @ W.T + b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        nll = -(w * np.log(np.maximum(p[np.arange(len(y)), y], 1e-300))).sum()
        g = (p - onehot) * w[:, None]
        dW = g.T @ x + 2 * pull * (W - w0)
        return nll + pull * ((W - w0) ** 2).sum(), np.concatenate([dW.ravel(), g.sum(axis=0)])

    res = minimize(loss, np.concatenate([w0.ravel(), b0]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:k * d].reshape(k, d), res.x[k * d:]


def scores(logits: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict:
    pred = logits.argmax(axis=1)
    out = {g: float((pred[groups == g] == y[groups == g]).mean()) for g in sorted(set(groups))}
    out["mean"] = float(np.mean([out[g] for g in out] + [out.get("emodb", 0.0)]))  # EmoDB counted twice
    return out


def cross_validate(x, y, w, groups, folds, w0, b0, pulls=PULLS, log=print):
    """(best pull, its out-of-fold logits, the table of every pull's scores; ``inf`` is the trained layer)."""
    table = {"inf": scores(x @ w0.T + b0, y, groups)}
    best, best_oof = None, None
    for pull in pulls:
        oof = np.zeros((len(y), w0.shape[0]))
        for f in range(FOLDS):
            tr, te = folds != f, folds == f
            W, b = fit_layer(x[tr], y[tr], w[tr] / w[tr].sum(), w0, b0, pull)
            oof[te] = x[te] @ W.T + b
        table[str(pull)] = scores(oof, y, groups)
        log(f"pull {pull}: " + ", ".join(f"{g} {v:.3f}" for g, v in table[str(pull)].items()))
        if best is None or table[str(pull)]["mean"] > table[str(best)]["mean"]:
            best, best_oof = pull, oof
    return best, best_oof, table


def main(argv=None) -> int:
    from ..engine.network.loading import load_backend
    from .corpus import load_manifest

    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.emotion_head",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--sources", required=True, help="folder with grid_s1/, LJSpeech-1.1/, emodb/ (calibration sets)")
    ap.add_argument("--out", required=True, help="the model with the re-fitted layer (.safetensors)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    t0 = time.time()
    manifest = load_manifest(a.corpus)
    rows = training_clips(manifest, a.seed)
    root = Path(manifest["root"])
    y = np.array([EMOTIONS.index(r["emotion"]) for r in rows])
    groups = np.array([group_of(r) for r in rows])
    backend = load_backend(a.checkpoint, backend="numpy")
    print(f"{len(rows)} training clips: " + ", ".join(f"{g} {int((groups == g).sum())}" for g in sorted(set(groups))))
    x = head_features(backend, [str(root / f"{r['name']}.wav") for r in rows])
    _, _, w0, b0 = (np.asarray(v, np.float64) for v in _classifier(backend))
    w = sample_weights(rows, y)
    pull, oof, table = cross_validate(x, y, w, groups, folds_of(rows), w0, b0)
    W, b = fit_layer(x, y, w, w0, b0, pull)
    # the new model file: the same tensors and metadata, the one layer replaced
    tensors, metadata = safetensors_io.read(a.checkpoint)
    tensors = dict(tensors)
    tensors[OUT_W], tensors[OUT_B] = W.astype(np.float32), b.astype(np.float32)
    meta = json.loads(metadata.get("meta", "{}"))
    meta["emotion_head"] = {"method": "out_proj re-fitted (training/emotion_head.py)", "pull": pull,
                            "clips": len(rows), "cross_validation": table, "seconds": round(time.time() - t0, 1)}
    safetensors_io.write(a.out, tensors, {**metadata, "meta": json.dumps(meta)})
    # calibration on logits the layer never saw (out of fold), reported on the calibration test set
    cal = fit(oof, y, balanced=True)
    plain = fit(oof, y, balanced=False)
    if ece(plain.probabilities(oof), y) < ece(cal.probabilities(oof), y):
        cal, kind = plain, "plain"
    else:
        kind = "class-balanced"
    test = clip_sets(a.sources, a.seed)["test"]
    new = load_backend(a.out, backend="numpy")
    head = _classifier(new)
    from . import gen3

    lt = np.stack([logits_of(hidden_states(new, gen3.load_emodb(p) if "emodb" in p else load_audio(p)), head)
                   for p, _, _ in test])
    write_calibration(a.out, cal, test, lt, {g: int((groups == g).sum()) for g in sorted(set(groups))},
                      f"softmax(logits / T + b), T and b minimising the {kind} NLL on the re-fitted layer's "
                      "out-of-fold logits of its training clips (lower out-of-fold ECE of the two fits)")
    print(json.dumps({"pull": pull, "cross_validation": table}, indent=1))
    print(f"-> {a.out} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
