"""Command line: ``python -m emotalk_blender generate AUDIO... -o OUT`` (and ``bake``, with Blender).

Exit codes: 0 success, 1 bad input (one-line error on stderr), 2 usage error, 130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from .allocator import keep_freed_memory
from .constants import NUM_PERSONS
from .errors import EmoTalkError


class ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal or ``force``."""

    def __init__(self, label: str, force: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.label = label
        self.start = time.perf_counter()

    def __call__(self, fraction: float, message: str = "") -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(round(fraction * width))
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {fraction * 100:3.0f}% {message} {elapsed:.1f}s ")
        if fraction >= 1:
            self.stream.write("\n")
        self.stream.flush()


def _outputs(inputs: list[str], out: str) -> list[Path]:
    """-o is the file for one input, or a folder receiving STEM.npy for several."""
    out_path = Path(out)
    if len(inputs) == 1 and not (out_path.is_dir() or out.endswith(os.sep)):
        return [out_path if out_path.suffix == ".npy" else out_path.with_suffix(".npy")]
    stems = [Path(i).stem for i in inputs]
    dupes = {s for s in stems if stems.count(s) > 1}
    if dupes:
        raise EmoTalkError(f"several inputs share the name {sorted(dupes)[0]!r}; their outputs would collide in {out}")
    return [out_path / f"{s}.npy" for s in stems]


def parse_person(text: str):
    """``3`` or a mix ``3:0.5,7:0.5`` (style index: weight)."""
    if ":" not in text:
        return int(text)
    weights = [0.0] * NUM_PERSONS
    for part in text.split(","):
        idx, w = part.split(":")
        weights[int(idx)] = float(w)
    return weights


def add_generate(sub) -> None:
    p = sub.add_parser("generate", help="audio -> (T, 52) ARKit weights as .npy (released channel order)")
    p.add_argument("audio", nargs="+", help="audio files (anything libsndfile reads)")
    p.add_argument("-o", "--output", required=True, help="output .npy for one input, or a folder for several")
    p.add_argument("--checkpoint", help="model file (default: the shipped default model)")
    p.add_argument("--level", type=float, default=1.0, help="emotion intensity 0..1 (default 1, as the released demo)")
    p.add_argument("--person", type=parse_person, default=0, help="speaking style 0..23, or a mix like 3:0.5,7:0.5 (default 0)")
    p.add_argument("--raw", action="store_true", help="network output only: no smoothing, no blinks")
    p.add_argument("--no-smooth", action="store_true", help="skip Savitzky-Golay smoothing")
    p.add_argument("--no-blinks", action="store_true", help="skip inserted blinks")
    p.add_argument("--seed", type=int, default=0, help="blink seed (default 0)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("--half", action="store_true", help="fp16 on CUDA")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.set_defaults(func=run_generate)


def run_generate(args) -> int:
    from .pipeline import GenerateSettings, generate  # torch is imported only when needed

    if not 0.0 <= args.level <= 1.0:
        raise EmoTalkError(f"--level must lie in 0..1, got {args.level}")
    if isinstance(args.person, int) and not 0 <= args.person <= 23:
        raise EmoTalkError(f"--person must be 0..23, got {args.person}")
    settings = GenerateSettings(
        level=args.level, person=args.person, smooth=not (args.raw or args.no_smooth),
        blinks=not (args.raw or args.no_blinks), seed=args.seed, checkpoint=args.checkpoint,
        device=args.device, half=args.half,
    )
    outputs = _outputs(args.audio, args.output)
    for audio, out in zip(args.audio, outputs):
        bar = ProgressBar(Path(audio).name, force=args.progress)
        weights = generate(audio, settings, progress=bar)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".partial.npy")
        np.save(tmp, weights.astype(np.float32))  # no half-written file under the real name
        os.replace(tmp, out)
        print(f"{out}: {weights.shape[0]} frames", file=sys.stderr)
    return 0


def add_bake(sub) -> None:
    """The Blender batch command lives on the Blender side; its module imports bpy only when run."""
    try:
        from ..blender import bake
    except ImportError:
        return
    p = sub.add_parser("bake", help="audio -> animated .blend (needs the bpy module)")
    bake.add_arguments(p)
    p.set_defaults(func=bake.run)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emotalk_blender", description="EmoTalk for Blender")
    sub = parser.add_subparsers(dest="command", required=True)
    add_generate(sub)
    add_bake(sub)
    args = parser.parse_args(argv)
    keep_freed_memory()  # our own process: large CNN buffers are reused instead of re-faulted
    try:
        return args.func(args)
    except EmoTalkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
