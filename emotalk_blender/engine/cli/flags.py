"""Command-line flags for the controls of a take (seed, emotion source, track, face-part strengths, gaze,
head), shared by ``generate`` and ``bake``. Each flag is its control's name with dashes (``--upper-face``
sets ``upper_face``), made from the table of controls (engine/controls.py); all are checked before any work.
"""
from __future__ import annotations

import argparse

from ..controls import BY_NAME, CONTROLS
from ..direction.emotion_parsing import parse_emotion_arg, parse_reference_arg
from ..errors import EmoTalkError

_TYPES = {"float": float, "int": int, "str": str, "enum": str}
# (flag, field, type, help) of the controls with a plain flag: derived from the table (engine/controls.py).
STRENGTH_FLAGS = tuple((c.flag, c.name, _TYPES[c.kind], c.help_text()) for c in CONTROLS if c.cli)


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("directing the performance")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--emotion", metavar="NAME[:MIX]",
                     help="a named emotion from the model's presets (angry, disgust, fear, happy, neutral, sad, "
                          "surprise), mixed 0..1 with the voice's own (default mix 1)")
    src.add_argument("--emotion-ref", metavar="FILE[:MIX]",
                     help="take the emotion from another recording (its emotion features), mixed 0..1")
    for flag, field, kind, text in STRENGTH_FLAGS:  # the defaults are the table's
        g.add_argument(flag, dest=field, type=kind, default=BY_NAME[field].default, help=text)


def settings_fields(args) -> dict:
    """The GenerateSettings fields the flags set (every plain flag, and the emotion source when given)."""
    out: dict = {}
    if args.emotion:
        out["emotion"], out["emotion_mix"] = parse_emotion_arg(args.emotion)
        out["emotion_source"] = "named"
    elif args.emotion_ref:
        out["emotion_reference"], out["emotion_mix"] = parse_reference_arg(args.emotion_ref)
        out["emotion_source"] = "reference"
    for _, field, _, _ in STRENGTH_FLAGS:
        out[field] = getattr(args, field)
    return out


def flag_error(exc: EmoTalkError) -> EmoTalkError:
    """A settings error with the field's name spelled as its flag (``upper_face`` -> ``--upper-face``)."""
    text = str(exc)
    for c in (c for c in CONTROLS if c.cli or c.name in ("level", "person")):
        if text.startswith((c.name + " ", c.name + ":")):
            return type(exc)(c.flag + text[len(c.name):])
    return exc
