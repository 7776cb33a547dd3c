"""Head motion from the voice (engine/direction/head_motion.py): the time to compute a 60 s take's head motion.

Prints the machine, then the best of N (after a warm-up) for 60 s of real speech (the asterisk
prompts joined, else espeak-ng speech looped), per style, with the budget's ratio.
Target (issue 25): at most 20 ms for 60 s.

    .venv/bin/python bench/bench_head_motion.py [--seconds 60] [--repeats 7]
"""
from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench"), str(REPO / "tests")]

from machine import best, describe  # noqa: E402

BUDGET_MS = 20.0


def real_speech(seconds: float):
    import numpy as np

    from emotalk_blender.engine.audio.decoding import load_audio

    files = sorted(glob.glob("/usr/share/asterisk/sounds/en/*.wav"))
    if not files:
        from bench_engine import speech

        return speech(seconds), "espeak-ng speech, looped"
    clips, total = [], 0
    for f in files:
        clips.append(load_audio(f))
        total += len(clips[-1])
        if total >= seconds * 16000:
            break
    return np.concatenate(clips)[: int(seconds * 16000)], f"{len(clips)} asterisk prompts joined"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    from emotalk_blender.engine.direction import head_motion as hm

    audio, what = real_speech(args.seconds)
    print("machine:", describe())
    print(f"audio: {len(audio) / 16000:.1f} s ({what})")
    for style in hm.STYLES:
        t = best(lambda: hm.head_motion(audio, style=style), args.repeats, warmup=True)
        print(f"{style:<12} {t * 1000:6.2f} ms  ({t * 1000 / BUDGET_MS:.2f} of the {BUDGET_MS:g} ms budget, "
              f"{len(audio) / 16000 / t:,.0f}x real time)")


if __name__ == "__main__":
    main()
