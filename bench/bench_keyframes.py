"""Writing a 60 s take (52 curves x 1,800 keys): the add-on's bulk writer vs keyframe_insert.

    .venv/bin/python bench/bench_keyframes.py [--seconds 60]

Both run in this one process on the same mesh, so the ratio is measured side by side.
Targets: bulk <= 50 ms and >= 100x faster than keyframe_insert.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy
import numpy as np

import emotalk_blender
from emotalk_blender.blender import scene_writer
from emotalk_blender.engine.arkit import ARKIT_NAMES
from emotalk_blender.engine.constants import FPS
from machine import describe


def head():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    me = bpy.data.meshes.new("Face")
    me.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new("Face", me)
    scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    for name in ARKIT_NAMES:
        obj.shape_key_add(name=name, from_mix=False).value = 0.0
    return obj


def bulk(obj, weights) -> float:
    t = time.perf_counter()
    scene_writer.write_take(obj, weights, start_frame=1)
    return time.perf_counter() - t


def keyframe_insert(obj, weights) -> float:
    key = obj.data.shape_keys
    blocks = [key.key_blocks[n] for n in ARKIT_NAMES]
    t = time.perf_counter()
    for frame, row in enumerate(weights, start=1):
        for kb, value in zip(blocks, row):
            kb.value = float(value)
            kb.keyframe_insert("value", frame=frame)
    return time.perf_counter() - t


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5, help="bulk runs (best is reported)")
    args = parser.parse_args(argv)
    frames = int(args.seconds * FPS)
    weights = np.random.default_rng(0).random((frames, len(ARKIT_NAMES)), dtype=np.float32)
    print(f"machine: {describe()}")
    print(f"take: {args.seconds:g} s = {len(ARKIT_NAMES)} curves x {frames} keys")

    obj = head()
    emotalk_blender.register()
    try:
        times = [bulk(obj, weights) for _ in range(args.repeats)]
        obj = head()
        slow = keyframe_insert(obj, weights)
    finally:
        emotalk_blender.unregister()
    best = min(times)
    print(f"bulk write (scene_writer.write_take): best {best * 1000:.1f} ms, "
          f"median {np.median(times) * 1000:.1f} ms over {args.repeats} runs")
    print(f"keyframe_insert loop:                 {slow * 1000:.0f} ms")
    print(f"speed-up: {slow / best:.0f}x   targets: bulk <= 50 ms "
          f"[{'ok' if best <= 0.05 else 'MISSED'}], >= 100x [{'ok' if slow / best >= 100 else 'MISSED'}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
