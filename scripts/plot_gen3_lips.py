"""Plot a held-out GRID s1 sentence: the captured face against the models' lips, and the voices' readings.

Top: jawOpen and rounding (mouthFunnel + mouthPucker) over time for one held-out sentence (the one
whose jawOpen r under the new model is the median of the split: neither the best nor the worst), the
MediaPipe capture mapped to the rig (training/calibrate.py) against each model given. Bottom: what
each model reads in real voices (GRID held out, LJSpeech held out, EmoDB held-out speakers), the
share of clips whose top calibrated reading is right.

    .venv/bin/python scripts/plot_gen3_lips.py CORPUS --model NAME=CHECKPOINT ... [--out docs/gen3_lips.png]

CORPUS is a gen3 corpus (or its evaluation copy) with ``test_grid`` clips; a training extra
(matplotlib) draws it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emotalk_blender.engine.arkit import INDEX  # noqa: E402
from emotalk_blender.engine.audio.decoding import load_audio  # noqa: E402
from emotalk_blender.engine.constants import FPS  # noqa: E402
from emotalk_blender.engine.motion.postprocess import smooth  # noqa: E402
from emotalk_blender.engine.network.inference import predict  # noqa: E402
from emotalk_blender.engine.network.loading import load_backend  # noqa: E402
from emotalk_blender.training.evaluate_gen3 import _r, rounding  # noqa: E402


def takes(corpus: Path, models: dict[str, str]) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    names = [r["name"] for r in manifest["clips"] if r["split"] == "test_grid"]
    if not names:
        raise SystemExit(f"{corpus}: no test_grid clips (build it with training/gen3.py --kinds video)")
    last = list(models)[-1]
    backend = load_backend(models[last], backend="numpy")
    scored = []
    for n in names:
        y = smooth(predict(backend, load_audio(corpus / f"{n}.wav"), level=0.0, person=0))
        t = np.load(corpus / f"{n}.npy")
        k = min(len(y), len(t))
        scored.append((_r(y[:k, INDEX["jawOpen"]], t[:k, INDEX["jawOpen"]]), n))
    scored.sort()
    name = scored[len(scored) // 2][1]
    target = np.load(corpus / f"{name}.npy")
    audio = load_audio(corpus / f"{name}.wav")
    out = {label: smooth(predict(load_backend(path, backend="numpy"), audio, level=0.0, person=0))
           for label, path in models.items()}
    return name, target, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--model", action="append", required=True, metavar="NAME=CHECKPOINT",
                    help="a model to draw (the last one picks the sentence); repeat")
    ap.add_argument("--readings", type=Path, action="append", default=[], metavar="EVAL_JSON",
                    help="an evaluate --out JSON per model (same order) for the readings panel")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "gen3_lips.png")
    a = ap.parse_args(argv)
    models = dict(m.split("=", 1) for m in a.model)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name, target, preds = takes(a.corpus, models)
    rows = 3 if a.readings else 2
    fig, axes = plt.subplots(rows, 1, figsize=(9, 2.4 * rows + 0.4))
    colours = ["#888888", "#d9534f", "#2a7ab9", "#5cb85c"]
    for ax, (title, fn) in zip(axes, (("jawOpen", lambda y: y[:, INDEX["jawOpen"]]),
                                       ("rounding (mouthFunnel + mouthPucker)", rounding))):
        t = np.arange(len(target)) / FPS
        ax.plot(t, fn(target), color="black", lw=2.2, label="captured face (MediaPipe, mapped to the rig)")
        for k, (label, y) in enumerate(preds.items()):
            n = min(len(y), len(target))
            r = _r(fn(y)[:n], fn(target)[:n])
            ax.plot(np.arange(len(y)) / FPS, fn(y), color=colours[(k + 1) % len(colours)], lw=1.6,
                    label=f"{label} (r {r:.2f})")
        ax.set_title(f"GRID s1 held-out sentence {name}: {title}", fontsize=10)
        ax.set_xlabel("seconds")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(alpha=0.3)
    if a.readings:
        ax = axes[2]
        sets = [("GRID held out\n(neutral)", "grid"), ("LJSpeech held out\n(neutral)", "ljspeech"),
                ("EmoDB held-out speakers\n(6 emotions)", "emodb")]
        width = 0.8 / len(a.readings)
        for k, (label, path) in enumerate(zip(models, a.readings)):
            er = json.loads(path.read_text())["emotion_real"]
            values = [100 * er[key].get("calibrated", er[key]["raw"])["accuracy"] for _, key in sets]
            xs = np.arange(len(sets)) + (k - (len(a.readings) - 1) / 2) * width
            ax.bar(xs, values, width, color=colours[(k + 1) % len(colours)], label=label)
            for x, v in zip(xs, values):
                ax.text(x, v + 1, f"{v:.0f}%", ha="center", fontsize=8)
        ax.set_xticks(np.arange(len(sets)), [s[0] for s in sets], fontsize=8)
        ax.set_ylim(0, 110)
        ax.set_ylabel("read right (%)")
        ax.set_title("The voice's emotion reading on held-out real clips (top calibrated reading is right)",
                     fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_name(a.out.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(a.out)
    print(f"wrote {a.out} (sentence {name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
