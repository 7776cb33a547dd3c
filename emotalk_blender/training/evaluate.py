"""Evaluate a model on the held-out parts of a corpus; the results go into the model card.

    python -m emotalk_blender.training.evaluate CORPUS_DIR [--checkpoint PATH] [--out eval.json]
        [--splits synthetic,natural,real]

Held-out synthetic speech (split ``test_speaker``: voices and sentences never trained on), and the
same figures for held-out natural-voice speakers (split ``test_natural``: flite/festival voices,
paired like the synthetic clips) when the corpus has them:
  * LVE, EVE and mean vertex error on the default head (metrics.py; blinks are random in both the
    data and the demo post-processing, so both blink channels are zeroed before EVE);
  * per-channel mean absolute error;
  * emotion accuracy of the emotion encoder's 7-class head from audio alone;
  * disentanglement: the same sentence's content audio with the emotion audio of another emotion.
    Lips should follow the content (correlation of lip channels with the unswapped output) and the
    upper face should follow the emotion audio (the swapped output's mean emotion channels are
    closer to the target of the emotion audio than to that of the content audio);
  * emotion accuracy per voice (the row's ``voice``, else its speaker id);
  * lip opening against the clip's target (no alignment reference here, so open frames are those
    where the target's lip aperture is above visemes.OPEN_APERTURE): the share shown with closed
    lips, and the mean predicted aperture over the mean target aperture on them.
The gen3 parts (grid, grid_fixtures, ljspeech, languages, emotion_real): evaluate_gen3.py.
Held-out real speech (split ``test_real``: asterisk prompts never trained on):
  * bilabial hit rate: every p/b/m closure of the forced alignment met by closed lips
    (visemes.lip_aperture below CLOSED_APERTURE) within 2 frames;
  * correlation of the predicted jawOpen with the alignment-derived reference;
  * false closures: the share of open-vowel frames (reference jawOpen > OPEN_JAW) shown with
    closed lips, so that the hit rate cannot be bought by keeping the mouth shut;
  * on those open-vowel frames, the mean predicted lip aperture over the mean aperture of the clip's
    corpus target (what training asks for: the viseme table through the real speaker's style);
    1 = as wide as asked, the first models opened about half as wide.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from ..engine.arkit import ARKIT_NAMES, BLINK_CHANNELS, INDEX
from ..engine.atomic import write_text
from ..engine.audio.decoding import load_audio
from ..engine.network.inference import predict
from ..engine.constants import EMOTIONS
from ..engine.network.model import normalise_audio
from ..engine.pipeline import load_model
from ..engine.network.precision import PRECISIONS
from ..engine.network.torch_backend import encoder_autocast
from ..engine.motion.postprocess import smooth
from ..engine.formats.templates import load_template_set, stylised_template_path
from ..engine.formats import metrics
from .corpus import load_manifest
from .visemes import CLOSED_APERTURE, OPEN_APERTURE, lip_aperture

LIP_CHANNELS = [INDEX[n] for n in ARKIT_NAMES if n.startswith((
    "jaw", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRoll", "mouthPress", "mouthLowerDown", "mouthUpperUp"))]
EMOTION_CHANNELS = [INDEX[n] for n in ARKIT_NAMES if n.startswith((
    "brow", "cheek", "noseSneer", "mouthSmile", "mouthFrown", "mouthDimple", "mouthStretch", "eyeWide", "eyeSquint"))]
HIT_TOLERANCE = 2  # frames
OPEN_JAW = 0.2  # reference jawOpen above this: an open vowel, lips apart (43 % of the test frames)
HELD_OUT = {"synthetic": "test_speaker", "natural": "test_natural"}  # evaluate() part -> corpus split
PAIRED_KINDS = ("synthetic", "natural")  # clips said by one speaker in every emotion
BASE_PARTS = ("synthetic", "natural", "real")
PARTS = BASE_PARTS + ("grid", "grid_fixtures", "ljspeech", "languages", "emotion_real")  # the rest: evaluate_gen3.py


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-8 or b.std() < 1e-8:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


@torch.no_grad()
def _emotion_logits(model, audio: np.ndarray) -> np.ndarray:
    wav = normalise_audio(torch.from_numpy(audio)[None])
    with encoder_autocast(model):
        _, logits = model.encode_emotion(wav, 1)
    return logits[0].float().numpy()


@torch.no_grad()
def _swap(model, content_audio, emotion_audio, frames, level, person) -> np.ndarray:
    c = normalise_audio(torch.from_numpy(content_audio)[None])
    e = normalise_audio(torch.from_numpy(emotion_audio)[None])
    with encoder_autocast(model):  # as the torch backend runs it: encoders in the weights' precision
        emo, content = model.encode_emotion(e, frames)[0].float(), model.encode_content(c, frames).float()
    return model.decode(content, emo, level, person)[0].numpy()


def _voice(row: dict) -> str:
    return str(row.get("voice") or row["speaker"])


def lip_summary(scores: list[dict]) -> dict:
    """Open-frame figures pooled over the frames of all clips (``lip_scores`` with a target)."""
    open_closed = [v for s in scores for v in s["open_closed"]]
    pred = [v for s in scores for v in s["open_pred"]]
    target = [v for s in scores for v in s["open_target"]]
    mean_pred = float(np.mean(pred)) if pred else None
    mean_target = float(np.mean(target)) if target else None
    return {
        "open_frames_closed_rate": float(np.mean(open_closed)) if open_closed else None,
        "open_aperture_ratio": mean_pred / mean_target if pred and mean_target > 0 else None,
        "open_aperture_pred": mean_pred, "open_aperture_target": mean_target,
    }


def synthetic(model, manifest: dict, split: str = "test_speaker", limit: int | None = None) -> dict:
    """The paired held-out clips of ``split`` (kind synthetic or natural); {} when it has none."""
    root = Path(manifest["root"])
    head = load_template_set(stylised_template_path())  # the model card's figures are on this head
    rows = [r for r in manifest["clips"] if r["split"] == split and r["kind"] in PAIRED_KINDS][:limit]
    if not rows:
        return {}
    per_clip, abs_err, lips, correct, confusion = [], [], [], 0, np.zeros((7, 7), int)
    by_level: dict = defaultdict(list)
    by_voice: dict = defaultdict(list)
    by_sentence: dict = defaultdict(dict)
    for r in rows:
        audio = load_audio(root / f"{r['name']}.wav")
        target = np.load(root / f"{r['name']}.npy")
        pred = smooth(predict(model, audio, level=float(r["level"]), person=int(r["person"])))
        a, b = pred.copy(), target.copy()
        a[:, BLINK_CHANNELS] = 0
        b[:, BLINK_CHANNELS] = 0
        per_clip.append(metrics.vertex_metrics(head, a, b))
        abs_err.append(np.abs(pred - target).mean(axis=0))
        lips.append(lip_scores(pred, None, target))
        label = EMOTIONS.index(r["emotion"])
        guess = int(_emotion_logits(model, audio).argmax())
        correct += guess == label
        by_level[int(r["level"])].append(guess == label)
        by_voice[_voice(r)].append(guess == label)
        confusion[label, guess] += 1
        by_sentence[(r["speaker"], r["sentence"], r["level"])][r["emotion"]] = (r, audio, target)
    # disentanglement: content of (c1, e_a) with the emotion audio of (c1, e_b)
    lip_corr, follows = [], []
    for clips in by_sentence.values():
        names = sorted(clips)
        for ea in names:
            ra, audio_a, target_a = clips[ea]
            frames = target_a.shape[0]
            own = None  # the unswapped output, made once per content clip
            for eb in names:
                if ea == eb:
                    continue
                rb, audio_b, target_b = clips[eb]
                if own is None:
                    own = _swap(model, audio_a, audio_a, frames, float(ra["level"]), int(ra["person"]))
                swapped = _swap(model, audio_a, audio_b, frames, float(ra["level"]), int(ra["person"]))
                moving = [i for i in LIP_CHANNELS if own[:, i].std() > 1e-3]
                lip_corr.append(np.mean([_corr(own[:, i], swapped[:, i]) for i in moving] or [0.0]))
                m = swapped[:, EMOTION_CHANNELS].mean(0)
                to_b = np.linalg.norm(m - target_b[:, EMOTION_CHANNELS].mean(0))
                follows.append(to_b < np.linalg.norm(m - target_a[:, EMOTION_CHANNELS].mean(0)))
    err = np.mean(abs_err, axis=0)
    return {
        "split": split, "clips": len(rows), "units": head.units,
        "lve": float(np.mean([c["lve"] for c in per_clip])),
        "eve_without_blinks": float(np.mean([c["eve"] for c in per_clip])),
        "mean_vertex_error": float(np.mean([c["mve"] for c in per_clip])),
        "channel_mae": {n: round(float(e), 4) for n, e in zip(ARKIT_NAMES, err)},
        "mae": float(err.mean()),
        "emotion_accuracy": correct / len(rows),
        "emotion_accuracy_by_level": {str(k): float(np.mean(v)) for k, v in sorted(by_level.items())},
        "emotion_accuracy_by_voice": {k: float(np.mean(v)) for k, v in sorted(by_voice.items())},
        "emotion_confusion": {"rows_true_cols_predicted": list(EMOTIONS), "matrix": confusion.tolist()},
        "swap_pairs": len(lip_corr),
        "swap_lip_correlation": float(np.mean(lip_corr)) if lip_corr else None,
        "swap_emotion_follows_emotion_audio": float(np.mean(follows)) if follows else None,
        **lip_summary(lips),
    }


def lip_scores(pred: np.ndarray, ref: dict | None, target: np.ndarray | None = None) -> dict:
    """Lip scores of one (T, 52) prediction.

    ``ref``, a real-speech reference (``bilabial_frames`` spans, ``jaw_open`` curve;
    corpus.real_reference.json): bilabial hits, least aperture per closure, jaw correlation, and
    the open frames are those with reference jawOpen > OPEN_JAW. Without it (synthetic and natural
    clips) the open frames are those with the target's lip aperture > OPEN_APERTURE.
    ``target``, the clip's (T, 52) corpus target: the apertures of prediction and target on the
    open frames (``open_pred``, ``open_target``), for open_aperture_ratio.
    """
    aperture = lip_aperture(pred)
    closed = aperture < CLOSED_APERTURE
    hits, least, jaw_corr = [], [], None
    if ref is not None:
        for f0, f1 in ref["bilabial_frames"]:
            lo, hi = max(0, f0 - HIT_TOLERANCE), min(len(closed), f1 + HIT_TOLERANCE + 1)
            hits.append(bool(closed[lo:hi].any()))
            least.append(float(aperture[lo:hi].min()))
        jaw = np.asarray(ref["jaw_open"], np.float32)
        n = min(len(jaw), len(pred))
        open_ = jaw[:n] > OPEN_JAW
        jaw_corr = _corr(pred[:n, INDEX["jawOpen"]], jaw[:n])
    elif target is not None:
        n = min(len(target), len(pred))
        open_ = lip_aperture(target[:n]) > OPEN_APERTURE
    else:
        raise ValueError("lip_scores needs a reference or a target")
    out = {"hits": hits, "least": least, "open_closed": closed[:n][open_].tolist(), "jaw_corr": jaw_corr}
    if target is not None:
        m = min(n, len(target))
        out["open_pred"] = aperture[:m][open_[:m]].tolist()
        out["open_target"] = lip_aperture(target[:m])[open_[:m]].tolist()
    return out


def real(model, manifest: dict, split: str = "test_real") -> dict:
    root = Path(manifest["root"])
    refs = json.loads((root / "real_reference.json").read_text())
    names = [r["name"] for r in manifest["clips"] if r["split"] == split and r["name"] in refs]
    scores = [lip_scores(smooth(predict(model, load_audio(root / f"{name}.wav"), level=0.0, person=0)), refs[name],
                         np.load(root / f"{name}.npy"))
              for name in names]
    hits = [h for s in scores for h in s["hits"]]
    least = [v for s in scores for v in s["least"]]
    lips = lip_summary(scores)
    return {
        "split": split, "clips": len(names), "bilabial_closures": len(hits),
        "bilabial_hit_rate": float(np.mean(hits)) if hits else None,
        "bilabial_median_least_aperture": float(np.median(least)) if least else None,
        # the other side of the hit rate: lips shut where the reference is open (a model that
        # never opened its lips would meet every closure)
        "open_frames_closed_rate": lips["open_frames_closed_rate"],
        "jaw_open_correlation": float(np.mean([s["jaw_corr"] for s in scores])) if scores else None,
        # how wide the lips open on those frames, against the corpus target of the same clip
        "open_aperture_ratio": lips["open_aperture_ratio"],
        "open_aperture_pred": lips["open_aperture_pred"], "open_aperture_target": lips["open_aperture_target"],
    }


def evaluate(corpus_dir, checkpoint=None, limit: int | None = None, threads: int = 2, precision: str = "fp32",
             splits=BASE_PARTS) -> dict:
    """{"synthetic": test_speaker, "natural": test_natural ({} without that split), "real": test_real},
    the parts named in ``splits`` only."""
    unknown = sorted(set(splits) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown evaluation part {', '.join(unknown)}; expected some of {', '.join(PARTS)}")
    torch.set_num_threads(threads)
    model = load_model(checkpoint, "cpu", precision)
    manifest = load_manifest(corpus_dir)
    out = {}
    for part in BASE_PARTS:
        if part in splits:
            out[part] = real(model, manifest) if part == "real" else synthetic(model, manifest, HELD_OUT[part], limit)
    from . import evaluate_gen3 as g3

    for part in g3.GEN3_PARTS:
        if part not in splits:
            continue
        if part == "emotion_real":
            from ..engine.network.loading import load_backend, resolve_checkpoint

            ckpt = resolve_checkpoint(checkpoint)
            out[part] = g3.emotion_real(load_backend(ckpt, "cpu", "torch", precision=precision), ckpt, manifest)
        elif part == "grid_fixtures":
            out[part] = g3.grid_fixtures(model)
        elif part == "grid":
            out[part] = g3.grid(model, manifest, limit)
        else:
            out[part] = getattr(g3, part)(model, manifest)
    return out


def _splits(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a comma-separated subset of {','.join(PARTS)}")
    return parts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.evaluate", description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--checkpoint")
    ap.add_argument("--limit", type=int, help="at most this many synthetic (and natural) clips")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=PRECISIONS, default="fp32", help="fp32 (default), auto, bf16")
    ap.add_argument("--splits", type=_splits, default=BASE_PARTS,
                    help=f"the parts to run, comma-separated (default: synthetic,natural,real; of {','.join(PARTS)})")
    args = ap.parse_args(argv)
    res = evaluate(args.corpus, args.checkpoint, args.limit, args.threads, args.precision, args.splits)
    text = json.dumps(res, indent=1)
    if args.out:
        write_text(args.out, text)
    summary = {}
    for part, figures in res.items():  # the figures without the big tables (those are in --out)
        summary[part] = {k: v for k, v in figures.items()
                         if not isinstance(v, dict) or k == "emotion_accuracy_by_voice" or part not in BASE_PARTS}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
