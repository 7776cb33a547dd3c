"""The NumPy backend against the torch one: the shipped default model on 10 s of speech, this CPU.

Prints the machine, then for each backend the network's time on the clip (normalisation, both
encoders, decoder; best of N after a warm-up), its real-time factor and how many times faster
than real time it runs, and the largest difference between the two outputs.
Target (issue 12): the NumPy path at least 50x faster than real time on the project's 2-core CPU.

    .venv/bin/python bench/bench_numpy.py [--seconds 10] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench"), str(REPO / "tests")]

from bench_engine import speech  # noqa: E402
from machine import best, describe  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import numpy as np
    import torch

    from emotalk_blender.engine.network import numpy_backend
    from emotalk_blender.engine import paths
    from emotalk_blender.engine.network.interface import normalise_audio
    from emotalk_blender.engine.network.checkpoint import load_checkpoint
    from emotalk_blender.engine.constants import frames_for_samples

    torch.set_num_threads(2)
    print("machine:", describe())
    path = paths.default_checkpoint()
    t0 = time.perf_counter()
    npb = numpy_backend.load(path)
    t_np_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = load_checkpoint(path)
    t_torch_load = time.perf_counter() - t0
    print(f"default model: {path.name}, {npb.num_parameters() / 1e6:.2f} M parameters; "
          f"load: numpy {t_np_load * 1000:.0f} ms, torch {t_torch_load * 1000:.0f} ms")
    audio = speech(args.seconds)
    frames = frames_for_samples(audio.shape[0])

    def run_numpy():
        x = normalise_audio(audio)
        return npb.decode(npb.encode_content(x, frames), npb.encode_emotion(x, frames), 1.0, 0)

    @torch.inference_mode()
    def run_torch():
        x = torch.from_numpy(normalise_audio(audio))[None]
        emotion, _ = model.encode_emotion(x, frames)
        return model.decode(model.encode_content(x, frames), emotion, 1.0, 0)[0].numpy()

    diff = float(np.abs(run_numpy() - run_torch()).max())
    s = args.seconds
    for name, fn in (("numpy", run_numpy), ("torch", run_torch)):
        t = best(fn, args.repeats, warmup=True)
        print(f"{name:>5}: {s:g} s clip, network {t * 1000:.0f} ms (RTF {t / s:.4f}, {s / t:.0f}x real time), "
              f"best of {args.repeats}")
    print(f"max |numpy - torch| on the clip: {diff:.2e}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores (other jobs slow both paths)")


if __name__ == "__main__":
    main()
