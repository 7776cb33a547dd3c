"""``python -m emotalk_blender emotion FILE...``: what emotion each voice reads as (seven probabilities).

Calibrated with the checkpoint's ``.emotion_calibration.json`` when there is one for that file
(engine/direction/emotion_reading.py); ``--json`` for machines, ``--over-time`` for a reading per second.
"""
from __future__ import annotations

import json
import sys

from ..constants import EMOTIONS


def add_emotion(sub) -> None:
    p = sub.add_parser("emotion", help="the seven emotion probabilities each voice reads as")
    p.add_argument("audio", nargs="+", help="audio files (WAV, FLAC, OGG, MP3, ...)")
    p.add_argument("--checkpoint", help="model file (default: the shipped default model)")
    p.add_argument("--backend", choices=("auto", "torch", "numpy"), default="auto")
    p.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    p.add_argument("--over-time", action="store_true", help="also a reading per second")
    p.add_argument("--raw", action="store_true", help="the uncalibrated softmax")
    p.set_defaults(func=run_emotion)


def run_emotion(args) -> int:
    from ..audio.decoding import check_audio_path, load_audio
    from ..network.loading import load_backend, resolve_checkpoint
    from ..direction.emotion_reading import Calibration, load_calibration, read

    paths = [check_audio_path(a) for a in args.audio]  # every file named before the model loads
    ckpt = resolve_checkpoint(args.checkpoint)
    backend = load_backend(ckpt, backend=args.backend)
    cal = Calibration() if args.raw else load_calibration(ckpt)
    for path in paths:
        r = read(backend, load_audio(path), cal, over_time=args.over_time)
        if args.json:
            print(json.dumps({"file": str(path), **r.to_dict()}))
            continue
        probs = "  ".join(f"{e} {p:.2f}" for e, p in zip(EMOTIONS, r.probabilities))
        print(f"{path}: {r.summary().replace('voice reads as: ', '')}  ({probs})")
        if r.per_second is not None:
            for s, row in enumerate(r.per_second):
                k = int(row.argmax())
                print(f"  {s:4d}s  {EMOTIONS[k]} {row[k]:.2f}  ({'  '.join(f'{p:.2f}' for p in row)})")
    if not cal.source or cal.source == "none":
        print("note: no calibration for this model: raw softmax confidences", file=sys.stderr)
    return 0
