"""``python -m emotalk_blender presets EMOTION=CLIP[,CLIP...] ...``: emotion presets from your own clips.

A preset is the mean emotion-encoder features of clips spoken in one emotion (engine/direction/emotion.py).
The file goes beside a checkpoint of the user's (``NAME.presets.npz``), or for the shipped model into the
user folder (engine/direction/presets_store.py), where ``--emotion NAME`` and the sidebar's named emotions look for it;
presets already there are kept unless the same emotion is made again.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..constants import EMOTIONS
from ..errors import EmoTalkError


def parse_pairs(texts: list[str]) -> dict[str, list[str]]:
    """``happy=a.wav,b.wav sad=c.wav`` -> {"happy": ["a.wav", "b.wav"], "sad": ["c.wav"]}; one-line errors."""
    from ..direction.emotion_parsing import check_emotion

    out: dict[str, list[str]] = {}
    for text in texts:
        name, sep, clips = text.partition("=")
        if not sep or not clips:
            raise EmoTalkError(f"{text!r}: expected EMOTION=CLIP[,CLIP...], e.g. happy=line1.wav,line2.wav")
        out.setdefault(check_emotion(name.strip()), []).extend(c for c in clips.split(",") if c)
    return out


def add_presets(sub) -> None:
    p = sub.add_parser("presets", help="emotion presets (for --emotion NAME) from your own clips, for any model")
    p.add_argument("pairs", nargs="+", metavar="EMOTION=CLIP[,CLIP...]",
                   help="clips spoken in an emotion (angry, disgust, fear, happy, neutral, sad, surprise)")
    p.add_argument("--checkpoint", help="model file (default: the shipped default model)")
    p.add_argument("-o", "--output", help="presets file (default: NAME.presets.npz beside a --checkpoint of "
                   "yours; for the shipped model, in your user folder: never inside the installed extension)")
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "numpy"))
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.set_defaults(func=run_presets)


def run_presets(args) -> int:
    from ..direction.emotion import make_presets
    from ..direction.presets_file import load_presets, save_presets
    from ..direction import presets_store as store
    from ..atomic import check_writable
    from ..audio.decoding import check_audio_path, load_audio
    from ..network.loading import load_backend, resolve_checkpoint

    clips = parse_pairs(args.pairs)
    for paths in clips.values():
        for path in paths:
            check_audio_path(path)
    checkpoint = resolve_checkpoint(args.checkpoint)
    out = store.write_path(checkpoint, args.output)  # never inside the installed extension
    check_writable(out)
    base_file = store.base_path(checkpoint, out)
    base = load_presets(base_file) if base_file else None  # keep the emotions not made again
    audio = {e: [load_audio(c) for c in cs] for e, cs in clips.items()}  # clips of a preset are short
    for e, cs in clips.items():
        for path, samples in zip(cs, audio[e]):
            store.check_speech(samples, path)
    backend = load_backend(checkpoint, args.device, args.backend, precision="fp32")
    if base is not None:
        store.check_dim(base, backend.config.emotion_dim, base_file)
    meta = {"checkpoint": Path(checkpoint).name, "clips": {e: [Path(c).name for c in cs] for e, cs in clips.items()}}
    presets = make_presets(backend, audio, meta, base)
    save_presets(out, presets)
    where = " (the user folder: the shipped model's presets stay as shipped; --emotion reads these)" \
        if store.is_shipped(checkpoint) else ""
    print(f"{out}: presets for {', '.join(n for n in EMOTIONS if n in presets.features)}{where}", file=sys.stderr)
    return 0
