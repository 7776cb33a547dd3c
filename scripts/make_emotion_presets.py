"""Compute a model's emotion presets from a corpus built by ``emotalk_blender.training.corpus``.

    .venv/bin/python -m emotalk_blender.training.corpus build /work/corpus-presets --size tiny --seed 0
    .venv/bin/python scripts/make_emotion_presets.py /work/corpus-presets

A preset is the mean of the emotion encoder's features (e832) over every frame of the corpus's
synthetic and natural-voice clips spoken in that emotion at high intensity (neutral has level 0
only), all voices (espeak, flite, festival).
One preset per emotion, not per level: the level is a separate input of the decoder that the user
still sets, and the emotion mix grades how much of the preset is used.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for running without installing

from emotalk_blender.engine import paths
from emotalk_blender.engine.network import torch_backend
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.constants import EMOTIONS
from emotalk_blender.engine.direction.emotion import make_presets
from emotalk_blender.engine.direction.presets_file import presets_path, save_presets


def corpus_clips(corpus: Path) -> dict[str, list[Path]]:
    """Synthetic and natural-voice clips per emotion: level 1, or level 0 for neutral (which has no other)."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    by_emotion: dict[str, list[Path]] = defaultdict(list)
    for row in manifest["clips"]:
        if row["kind"] in ("synthetic", "natural") and row["level"] == (0 if row["emotion"] == "neutral" else 1):
            by_emotion[row["emotion"]].append(corpus / f"{row['name']}.wav")
    missing = [e for e in EMOTIONS if not by_emotion[e]]
    if missing:
        sys.exit(f"error: {corpus}: no clips for {', '.join(missing)}")
    return {e: sorted(by_emotion[e]) for e in EMOTIONS}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path, help="a corpus folder (manifest.json + NAME.wav)")
    ap.add_argument("--checkpoint", type=Path, default=None, help="model (default: the shipped default model)")
    ap.add_argument("-o", "--output", type=Path, default=None, help="presets file (default: beside the checkpoint)")
    args = ap.parse_args(argv)

    checkpoint = args.checkpoint or paths.default_checkpoint()
    out = args.output or presets_path(checkpoint)
    clips = corpus_clips(args.corpus)
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    backend = torch_backend.load(checkpoint, device="cpu")
    t0 = time.perf_counter()
    meta = {
        "made_by": "scripts/make_emotion_presets.py",
        "how": "mean emotion-encoder features over every frame of the clips",
        "checkpoint": checkpoint.name,
        "model": backend.meta.get("name") or backend.config.name,
        "corpus": {"size": manifest["size"], "seed": manifest["seed"], "builder": "emotalk_blender.training.corpus"},
        "clips": {e: [p.stem for p in ps] for e, ps in clips.items()},
    }
    presets = make_presets(backend, {e: (load_audio(p) for p in ps) for e, ps in clips.items()}, meta)
    save_presets(out, presets)
    feats = np.stack([presets.features[e] for e in EMOTIONS])
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    print(f"{out}: {len(EMOTIONS)} presets of {feats.shape[1]} features from "
          f"{sum(map(len, clips.values()))} clips in {time.perf_counter() - t0:.1f}s")
    print("cosine similarity between presets (rows/columns in EMOTIONS order):")
    print(np.array2string(unit @ unit.T, precision=3, suppress_small=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
