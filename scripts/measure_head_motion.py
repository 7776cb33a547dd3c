"""Head motion against real heads: the figures of issue 25, measured (engine/direction/head_stats.py).

    python scripts/measure_head_motion.py [--grid /work/data/grid_s1] [--ljspeech DIR] [--asterisk DIR]

Real heads: GRID speaker s1, MediaPipe head pose (pitch, yaw, roll in degrees, 25 fps, GRID_POSE/
<clip>.npy) with its audio (wav/<clip>.wav or corpus/<clip>.wav). Clips are split by name: every
fifth clip in sorted order is held out, the rest is the fitting set. For each set: per-axis SD
(median over clips), 95th percentile of the angular speed, speech energy against head speed in 0.5 s
windows (r over the pooled, per-clip-centred windows) and the spectral peak ratio between 0.2 and
5 Hz (median and 90th percentile over clips). Then the procedure (engine/direction/head_motion.py) on the
held-out GRID audio, on LJSpeech clips and on the asterisk prompts, per style. Nothing is written.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from emotalk_blender.engine.direction import head_motion as hm
from emotalk_blender.engine.direction import head_stats as hs
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.constants import FPS

GRID_FPS = 25


def grid_clips(root: str):
    """{name: (pose (T, 3), audio)} of the GRID capture's clips that have both."""
    out = {}
    for pose_path in sorted(glob.glob(os.path.join(root, "pose", "*.npy"))):
        name = os.path.basename(pose_path)[:-4]
        wav = next((p for p in (os.path.join(root, "wav", name + ".wav"), os.path.join(root, "corpus", name + ".wav"))
                    if os.path.isfile(p)), None)
        pose = np.load(pose_path)
        if wav is None or pose.ndim != 2 or pose.shape[1] != 3 or len(pose) < 10 or not np.isfinite(pose).all():
            continue
        out[name] = (pose.astype(np.float64), load_audio(wav))
    return out


def line(label: str, s: dict) -> str:
    sd = ", ".join(f"{v:.2f}" for v in s["sd"])
    return (f"{label:<34} clips {s['clips']:>4}  SD (p, y, r) {sd:<18}  p95 speed {s['p95_speed']:6.1f} deg/s  "
            f"r {s['r']:+.2f}  peak {s['peak']:6.1f} (p90 {s['peak_p90']:6.1f})")


def ours(audios, style: str = "natural", fps: float = FPS):
    return hs.summary([(hm.head_motion(a, style=style, seed=i), a) for i, a in enumerate(audios)], fps)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default="/work/data/grid_s1")
    p.add_argument("--ljspeech", default="/work/data/ljspeech/LJSpeech-1.1/wavs")
    p.add_argument("--asterisk", default="/usr/share/asterisk/sounds/en")
    p.add_argument("--limit", type=int, default=200, help="at most this many clips per corpus")
    args = p.parse_args(argv)

    grid = grid_clips(args.grid)
    names = sorted(grid)
    held = [n for i, n in enumerate(names) if i % 5 == 0][:args.limit]
    fit = [n for i, n in enumerate(names) if i % 5 != 0][:args.limit]
    if grid:
        print(line("GRID s1 real, fitting set", hs.summary([grid[n] for n in fit], GRID_FPS)))
        print(line("GRID s1 real, held out", hs.summary([grid[n] for n in held], GRID_FPS)))
        for style in hm.STYLES:
            print(line(f"ours {style}, GRID held-out audio", ours([grid[n][1] for n in held], style)))
    else:
        print(f"no GRID capture under {args.grid}")
    for label, folder in (("LJSpeech", args.ljspeech), ("asterisk", args.asterisk)):
        files = sorted(glob.glob(os.path.join(folder, "*.wav")))
        audios = sorted((load_audio(f) for f in files), key=len)[-args.limit:]  # the longest: whole sentences
        if audios:
            for style in ("natural", "calm", "lively", "anchor"):
                print(line(f"ours {style}, {label}", ours(audios, style)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
