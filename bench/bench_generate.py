"""End-to-end Generate with the shipped default model on a 10 s clip (issue 3), on this machine.

Times, best of N: model load (first call), engine inference (network + post-processing), and the
whole Blender operator on the default head (`emotalk.generate` in background mode: audio read,
inference, take written, sound strip added). Also the real-time factor of the default model
(issue 5 target: at least 50x faster than real time, RTF <= 0.02).

    .venv/bin/python bench/bench_generate.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bench_engine import speech, speech_wav  # noqa: E402
from machine import describe  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import bpy

    import emotalk_blender
    from emotalk_blender.engine import paths, pipeline
    from emotalk_blender.engine.network.inference import predict

    print("machine:", describe())
    wav = speech_wav(10.0)
    t = time.perf_counter()
    model = pipeline.load_model(None, "cpu")
    print(f"default model: {paths.default_checkpoint().name}, {model.num_parameters() / 1e6:.2f} M parameters, "
          f"first load {time.perf_counter() - t:.2f} s")

    def best(fn):
        fn()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    audio = speech(10.0)
    t_net = best(lambda: predict(model, audio))
    t_gen = best(lambda: pipeline.generate(wav))
    print(f"10 s clip: network {t_net * 1000:.0f} ms (RTF {t_net / 10:.4f}, {10 / t_net:.0f}x real time); "
          f"generate() incl. audio read and post-processing {t_gen * 1000:.0f} ms")

    bpy.ops.wm.read_factory_settings(use_empty=True)
    emotalk_blender.register()
    try:
        bpy.ops.emotalk.create_head()
        obj = bpy.context.view_layer.objects.active
        t_op = best(lambda: bpy.ops.emotalk.generate(filepath=str(wav)))
        takes = [a for a in bpy.data.actions if a.get("emotalk_take")]
        print(f"Blender operator emotalk.generate on the default head ({len(obj.data.vertices)} vertices): "
              f"{t_op * 1000:.0f} ms per take ({len(takes)} takes written)")
    finally:
        emotalk_blender.unregister()


if __name__ == "__main__":
    main()
