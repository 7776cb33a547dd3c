"""Command line: ``python -m emotalk_blender generate AUDIO... -o OUT`` (and more commands from the package).

The engine's own commands are here; front ends add theirs through ``main(argv, extra_commands)``
(``emotalk_blender/__main__.py`` adds ``bake`` from the Blender side), so the engine never imports
Blender code. Exit codes: 0 success, 1 bad input (one-line error on stderr), 2 usage error, 130
interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .. import atomic
from . import flags as direction_flags
from ..network.allocator import keep_freed_memory
from ..audio.decoding import check_audio_path
from ..arkit import NUM_BLENDSHAPES
from ..network.interface import BACKENDS
from ..constants import NUM_PERSONS
from ..errors import EmoTalkError
from ..network.precision import PRECISIONS, precision_of
from ..progress import ProgressBar
from ..settings import GenerateSettings, parse_person

# A command adds its subparser to ``sub`` (the parser's subparsers action) and sets ``func``.
Command = Callable[[Any], None]

PERSON_HELP = f"speaking style 0..{NUM_PERSONS - 1}, or a mix like 3:0.5,7:0.5 (default 0)"


def _outputs(inputs: list[str], out: str) -> list[Path]:
    """-o is the file for one input, or a folder receiving STEM.npy for several; checked before any work
    (no two inputs write one file, the folders are writable)."""
    out_path = Path(out)
    if len(inputs) == 1 and not (out_path.is_dir() or out.endswith(("/", os.sep))):
        targets = [out_path if out_path.suffix == ".npy" else out_path.with_suffix(".npy")]
    else:
        targets = atomic.folder_outputs(inputs, out_path, ".npy")
    atomic.check_outputs(zip(inputs, targets))
    return targets


def settings_of(args, **fields) -> GenerateSettings:
    """The checked settings of the command's flags (one check; one-line SettingsError naming the flag).

    ``--half`` is converted here, to precision fp16: the engine knows only ``precision``."""
    try:
        person = parse_person(args.person) if isinstance(args.person, str) else args.person
        precision = precision_of(args.precision, getattr(args, "half", False))  # bake has no --half
        return GenerateSettings(level=args.level, person=person, precision=precision,
                                **direction_flags.settings_fields(args), **fields).validated()
    except EmoTalkError as exc:
        raise direction_flags.flag_error(exc) from None


def add_generate(sub) -> None:
    p = sub.add_parser("generate",
                       help=f"audio -> (T, {NUM_BLENDSHAPES}) ARKit weights as .npy (released channel order)")
    p.add_argument("audio", nargs="+", help="audio files (anything libsndfile reads)")
    p.add_argument("-o", "--output", required=True, help="output .npy for one input, or a folder for several")
    p.add_argument("--checkpoint", help="model file (default: the shipped default model)")
    p.add_argument("--level", type=float, default=1.0, help="emotion intensity 0..1 (default 1, as the released demo)")
    p.add_argument("--person", default="0", help=PERSON_HELP)
    p.add_argument("--raw", action="store_true", help="network output only: no smoothing, no blinks")
    p.add_argument("--no-smooth", action="store_true", help="skip Savitzky-Golay smoothing")
    p.add_argument("--no-blinks", action="store_true", help="skip inserted blinks")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="number format: auto (default: fp16 on CUDA, bf16 on CPUs with native bf16, else fp32), "
                        "fp32, bf16 or fp16 (CUDA only)")
    p.add_argument("--half", action="store_true", help="the same as --precision fp16")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="network implementation (default auto: torch when installed, else numpy)")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    direction_flags.add_arguments(p)
    p.set_defaults(func=run_generate)


def run_generate(args) -> int:
    from ..pipeline import generate

    settings = settings_of(args, smooth=not (args.raw or args.no_smooth), blinks=not (args.raw or args.no_blinks),
                           checkpoint=args.checkpoint, device=args.device, backend=args.backend)  # the device too
    outputs = _outputs(args.audio, args.output)
    for audio in args.audio:
        check_audio_path(audio)
    for audio, out in zip(args.audio, outputs):
        bar = ProgressBar(Path(audio).name, force=args.progress)
        weights = generate(audio, settings, progress=bar)
        atomic.save_npy(out, weights.astype(np.float32))  # no half-written file under the real name
        if settings.head_motion > 0:  # NAME.head.npy: (T, 3) pitch, yaw, roll in degrees (direction/head_motion.py)
            from ..direction.head_motion import head_path, motion_for_file

            atomic.save_npy(head_path(out), motion_for_file(audio, settings, len(weights)))
        print(f"{out}: {weights.shape[0]} frames", file=sys.stderr)
    return 0


def add_capture(sub) -> None:
    """``capture``: video -> take (engine/capture/cli.py)."""
    from ..capture.cli import add_capture as add

    add(sub)


def add_presets(sub) -> None:
    """``presets``: emotion presets from the user's own clips (engine/cli/presets.py)."""
    from .presets import add_presets as add

    add(sub)


def add_emotion(sub) -> None:
    """``emotion``: what emotion each voice reads as (engine/cli/emotion.py)."""
    from .emotion import add_emotion as add

    add(sub)


ENGINE_COMMANDS: tuple[Command, ...] = (add_generate, add_capture, add_presets, add_emotion)


def build_parser(extra_commands: Iterable[Command] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emotalk_blender", description="EmoTalk for Blender")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (*ENGINE_COMMANDS, *extra_commands):
        add(sub)
    return parser


def main(argv=None, extra_commands: Iterable[Command] = ()) -> int:
    args = build_parser(extra_commands).parse_args(argv)
    keep_freed_memory()  # our own process: large CNN buffers are reused instead of re-faulted
    try:
        return args.func(args)
    except (EmoTalkError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
