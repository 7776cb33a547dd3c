"""How audible is the corpus's emotion? A baseline recogniser to read the model's accuracy against.

    python -m emotalk_blender.training.probe CORPUS_DIR [--out probe.json]

Hand-made acoustic features of each synthetic clip (the spectral shape of voiced frames, its
spread and frame-to-frame change, the share of voiced frames, the duration and the loudness
envelope's modulation from 2 to 46 Hz, where tremor and roughness live) and a softmax regression
trained on the training speakers, scored on the held-out speakers (split ``test_speaker``), as
the model's emotion accuracy is. If the probe misses a level or a pair of emotions, the corpus
does not carry it in the voice; if only the model misses, the model has not learnt it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.atomic import write_text
from ..engine.audio.decoding import load_audio
from ..engine.constants import EMOTIONS, SAMPLE_RATE
from .corpus import load_manifest

N_FFT, HOP, BANDS = 512, 160, 40  # 32 ms windows every 10 ms, 40 mel bands
MODULATION_BANDS = ((2, 4), (4, 8), (8, 12), (12, 20), (20, 30), (30, 46))  # Hz
# Where the modulation bands sit in a feature vector: after the shape's mean and spread (BANDS
# each), its change (every other band) and the voiced share and duration.
MODULATION_START = 2 * BANDS + len(range(0, BANDS, 2)) + 2


def _mel_filters() -> np.ndarray:
    freqs = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = np.arange(SAMPLE_RATE // 2)
    edges = np.interp(np.linspace(mel(60), mel(7800), BANDS + 2), mel(hz), hz)
    fb = np.zeros((BANDS, len(freqs)))
    for i in range(BANDS):
        lo, mid, hi = edges[i:i + 3]
        fb[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return fb


_FILTERS = _mel_filters()


def features(audio: np.ndarray) -> np.ndarray:
    """A fixed-length vector of a 16 kHz clip; independent of its loudness."""
    x = np.asarray(audio, np.float64)
    x = x / (np.abs(x).max() + 1e-9)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, N_FFT)), N_FFT)[::HOP] * np.hanning(N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    logmel = np.log(power @ _FILTERS.T + 1e-8)
    loud = logmel.max(1)
    voiced = loud > loud.max() - 6
    v = logmel[voiced]
    shape = v - v.mean(1, keepdims=True)  # spectral shape; the level is the voice's, not the emotion's
    env = np.sqrt(power[:, 5:100].sum(1))  # 150-3000 Hz loudness envelope at 100 Hz
    env = env / (env.mean() + 1e-9)
    mod = np.abs(np.fft.rfft(env - env.mean()))
    mod_f = np.fft.rfftfreq(len(env), HOP / SAMPLE_RATE)
    modulation = [np.log(mod[(mod_f >= lo) & (mod_f < hi)].mean() + 1e-6) for lo, hi in MODULATION_BANDS]
    return np.concatenate([shape.mean(0), shape.std(0), np.abs(np.diff(v, axis=0)).mean(0)[::2],
                           [voiced.mean(), len(x) / SAMPLE_RATE], modulation])


def probe(manifest: dict, iterations: int = 600, seed: int = 0) -> dict:
    """Train on every synthetic clip outside ``test_speaker``, score on ``test_speaker``."""
    root = Path(manifest["root"])
    rows = [r for r in manifest["clips"] if r["kind"] == "synthetic"]
    x = np.stack([features(load_audio(root / f"{r['name']}.wav")) for r in rows])
    y = np.array([EMOTIONS.index(r["emotion"]) for r in rows])
    test = np.array([r["split"] == "test_speaker" for r in rows])
    level = np.array([int(r["level"]) for r in rows])
    if not test.any() or test.all():
        raise ValueError(f"{root}: the probe needs both training and test_speaker clips")
    mu, sd = x[~test].mean(0), x[~test].std(0) + 1e-6
    xt = torch.tensor((x - mu) / sd, dtype=torch.float32)
    yt = torch.tensor(y)
    torch.manual_seed(seed)
    net = torch.nn.Linear(x.shape[1], len(EMOTIONS))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
    train = torch.from_numpy(~test)
    for _ in range(iterations):  # full-batch: a few thousand clips
        opt.zero_grad()
        F.cross_entropy(net(xt[train]), yt[train]).backward()
        opt.step()
    with torch.no_grad():
        guess = net(xt).argmax(1).numpy()
    confusion = np.zeros((len(EMOTIONS), len(EMOTIONS)), int)
    np.add.at(confusion, (y[test], guess[test]), 1)
    return {
        "clips_train": int((~test).sum()), "clips_test": int(test.sum()),
        "train_accuracy": float((guess == y)[~test].mean()),
        "emotion_accuracy": float((guess == y)[test].mean()),
        "emotion_accuracy_by_level": {str(lv): float((guess == y)[test & (level == lv)].mean())
                                      for lv in sorted(set(level[test].tolist()))},
        "emotion_confusion": {"rows_true_cols_predicted": list(EMOTIONS), "matrix": confusion.tolist()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.probe", description=__doc__.split("\n")[0])
    ap.add_argument("corpus_dir")
    ap.add_argument("--out", help="write the results as JSON here too")
    args = ap.parse_args(argv)
    result = probe(load_manifest(args.corpus_dir))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
