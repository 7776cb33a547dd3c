"""Command-line flags for directing a take (emotion source, track, face-part strengths, gaze),
shared by ``generate`` and ``bake``. Each flag is its settings field with dashes (``--upper-face``
sets ``upper_face``); all are checked before any work.
"""
from __future__ import annotations

import argparse

from .emotion_parsing import DEFAULT_CROSSFADE, parse_emotion_arg, parse_reference_arg
from ..errors import EmoTalkError

# (flag, field, type, help) of the numeric controls; the defaults are the settings' own.
STRENGTH_FLAGS = (
    ("--upper-face", "upper_face", float, "gain on brows, eyes, cheeks and nose, 0..2 (default 1)"),
    ("--lower-face", "lower_face", float, "gain on jaw, mouth and tongue, 0..2 (default 1)"),
    ("--lip-open", "lip_open", float, "-1..1 added to jawOpen, not at p/b/m closures (default 0)"),
    ("--eyelid", "eyelid", float, "-1..1: > 0 wider eyes, < 0 lower lids (default 0)"),
    ("--blink-strength", "blink_strength", float, "0..1 gain on the inserted blinks (default 1)"),
    ("--blink-rate", "blink_rate", float, "0.1..4 times the demo's blink rate (default 1)"),
    ("--upper-smooth", "upper_smooth", int, "Savitzky-Golay window of the upper face, odd, 1 = off (default 5)"),
    ("--lower-smooth", "lower_smooth", int, "Savitzky-Golay window of the lower face, odd, 1 = off (default 5)"),
    ("--gaze", "gaze", float, "procedural gaze (saccades and drift) strength 0..1 (default 0: off)"),
    ("--gaze-seed", "gaze_seed", int, "the gaze's seed (default 0)"),
    ("--head-motion", "head_motion", float, "head motion from the voice, strength 0..2 (default 0: off); "
                                             "generate writes NAME.head.npy"),
    ("--head-style", "head_style", str, "head motion style: natural, calm, lively, nodding, storyteller, anchor"),
    ("--head-seed", "head_seed", int, "the head motion's seed (default 0)"),
    ("--neutral-lean", "neutral_lean", float, "0..1: an unsure emotion reading of the voice leans the face "
                                              "toward neutral by up to this (default 0.8; 0 = off)"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("directing the performance")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--emotion", metavar="NAME[:MIX]",
                     help="a named emotion from the model's presets (angry, disgust, fear, happy, neutral, sad, "
                          "surprise), mixed 0..1 with the voice's own (default mix 1)")
    src.add_argument("--emotion-ref", metavar="FILE[:MIX]",
                     help="take the emotion from another recording (its emotion features), mixed 0..1")
    g.add_argument("--emotion-track", metavar="TRACK", default="",
                   help='emotion over time: "0:neutral,2.5:angry:0.8" (seconds:emotion[:strength]; '
                        "also voice, reference)")
    g.add_argument("--crossfade", type=int, default=DEFAULT_CROSSFADE, metavar="N",
                   help=f"frames over which each switch of the track fades in (default {DEFAULT_CROSSFADE})")
    for flag, field, kind, text in STRENGTH_FLAGS:
        g.add_argument(flag, dest=field, type=kind, default=None, help=text)


def settings_fields(args) -> dict:
    """The GenerateSettings fields the directing flags set (only those given, and the source)."""
    out: dict = {"emotion_track": args.emotion_track, "crossfade": args.crossfade}
    if args.emotion:
        out["emotion"], out["emotion_mix"] = parse_emotion_arg(args.emotion)
        out["emotion_source"] = "named"
    elif args.emotion_ref:
        out["emotion_reference"], out["emotion_mix"] = parse_reference_arg(args.emotion_ref)
        out["emotion_source"] = "reference"
    for _, field, _, _ in STRENGTH_FLAGS:
        if getattr(args, field) is not None:
            out[field] = getattr(args, field)
    return out


def flag_error(exc: EmoTalkError) -> EmoTalkError:
    """A settings error with the field's name spelled as its flag (``upper_face`` -> ``--upper-face``)."""
    text = str(exc)
    for flag, field, _, _ in (*STRENGTH_FLAGS, ("--crossfade", "crossfade", 0, ""), ("--seed", "seed", 0, ""),
                              ("--emotion-track", "emotion_track", 0, "")):
        if text.startswith(field + " "):
            return type(exc)(flag + text[len(field):])
    return exc
