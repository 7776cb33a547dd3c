"""The voice's emotion reading (issue 28): its cost on its own and what the neutral lean adds to a take.

Prints the machine, then for a 10 s clip on the shipped default model (which has a calibration, so
the lean is on by default): ``emotion_reading.read`` alone, a full generate with the lean off
(``neutral_lean=0``: today's take) and with the default lean, their ratio, and the real-time factor.
The reading shares the take's emotion encoder pass (network/encodings.emotion_hidden), so the lean
costs only the classifier head and the mix; before that sharing it cost a second pass (1.45x).
Target of the project: a take >= 50x faster than real time.

    .venv/bin/python bench/bench_emotion_reading.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from bench_engine import speech_wav  # noqa: E402
from machine import best, describe  # noqa: E402


def measure(backend: str, wav: Path, repeats: int) -> None:
    from emotalk_blender.engine.network import loading as backends, encodings
    from emotalk_blender.engine.direction import emotion_reading
    from emotalk_blender.engine.audio.decoding import load_audio
    from emotalk_blender.engine.paths import default_checkpoint
    from emotalk_blender.engine.pipeline import generate
    from emotalk_blender.engine.settings import GenerateSettings

    b = backends.load_backend(None, "cpu", backend, precision="fp32")
    audio = load_audio(wav)
    cal = emotion_reading.load_calibration(default_checkpoint())
    off = GenerateSettings(backend=backend, precision="fp32", neutral_lean=0.0)
    on = GenerateSettings(backend=backend, precision="fp32")

    def take(settings):
        def run():
            encodings.clear()  # a first take: nothing kept
            generate(wav, settings)
        return run

    def reading():
        encodings.clear()  # a first reading: the encoder runs
        emotion_reading.read(b, audio, cal)

    t_read = best(reading, repeats, warmup=True)
    t_off = best(take(off), repeats, warmup=True)
    t_on = best(take(on), repeats, warmup=True)
    seconds = len(audio) / 16000
    print(f"default model ({backend}), {seconds:.0f} s clip, best of {repeats}: reading {t_read * 1000:.0f} ms; "
          f"take lean off {t_off * 1000:.0f} ms ({seconds / t_off:.0f}x real time), lean on {t_on * 1000:.0f} ms "
          f"({seconds / t_on:.0f}x real time) = {t_on / t_off:.2f} x the take without it")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    print("machine:", describe())
    wav = speech_wav(10.0)
    for backend in ("numpy", "torch"):
        measure(backend, wav, args.repeats)


if __name__ == "__main__":
    main()
