"""Re-takes (issue 21): a generate that changes only direction, strengths, smoothing, blinks, gaze or seed
reuses the kept encoder outputs (engine/network/encodings.py) and runs fusion, decoder and post-processing only.

Prints the machine, then for a 10 s clip on the full-size model (random weights, released layout, fp32)
and on the shipped default model: a full generate (nothing kept), a re-take, and their ratio.
Target: a re-take <= 10 % of a full generate on the full-size model.

    .venv/bin/python bench/bench_retake.py [--repeats 3] [--skip-full-size]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from bench_engine import released_checkpoint, speech_wav  # noqa: E402
from machine import best, describe  # noqa: E402


def measure(name: str, checkpoint, backend: str, wav: Path, repeats: int) -> None:
    from emotalk_blender.engine.network import loading as backends, encodings
    from emotalk_blender.engine.pipeline import generate
    from emotalk_blender.engine.settings import GenerateSettings

    base = dict(checkpoint=checkpoint, backend=backend, precision="fp32")
    backends.load_backend(checkpoint, "cpu", backend, precision="fp32")
    first = GenerateSettings(**base)
    # Everything a re-take may change without re-encoding: level, speaking style, smoothing, blinks, gaze, seed.
    retake = GenerateSettings(**base, level=0.4, person=9, smooth=False, blinks=False, gaze=0.5, seed=7)

    def full():
        encodings.clear()
        generate(wav, first)

    t_full = best(full, repeats, warmup=True)
    generate(wav, first)  # kept
    t_re = best(lambda: generate(wav, retake), repeats, warmup=True)
    print(f"{name} ({backend}), 10 s clip, best of {repeats}: full generate {t_full * 1000:.0f} ms, "
          f"re-take {t_re * 1000:.1f} ms = {100 * t_re / t_full:.1f} % of the full generate "
          f"(kept: {encodings.kept_bytes() / 2**20:.1f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-full-size", action="store_true")
    args = ap.parse_args()
    import torch  # noqa: F401  (so that describe() names it)

    print("machine:", describe())
    wav = speech_wav(10.0)
    measure("default model", None, "numpy", wav, args.repeats)
    measure("default model", None, "torch", wav, args.repeats)
    if not args.skip_full_size:
        measure("full-size model", str(released_checkpoint()), "torch", wav, args.repeats)


if __name__ == "__main__":
    main()
