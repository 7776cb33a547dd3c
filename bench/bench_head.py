"""Benchmark: the default head (ICT-FaceKit, flame_templates/ict_facekit.npz) in numpy and in Blender.

Targets (issue 23): its template file <= 15 MB; Eq. 1 over its ~26k vertices fast (microseconds per
frame, one frame and a 60 s take); Create head <= 3 s in bpy; writing a 60 s take onto it <= 50 ms;
evaluating the animated head (depsgraph update + evaluated mesh read) >= 60 frames per second.

    .venv/bin/python bench/bench_head.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emotalk_blender.engine.formats import templates
from machine import best, describe

N_FRAMES = 1800  # 60 s at 30 fps


def main():
    path = templates.default_template_path()
    t_load = best(lambda: templates.load_template_set(path), repeats=3)
    ts = templates.load_template_set(path)
    print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB (target <= 15 MB), {ts.num_vertices} vertices, "
          f"{ts.num_faces} faces, {0 if ts.identity is None else len(ts.identity)} identity components; "
          f"load {t_load * 1e3:.0f} ms")
    rng = np.random.default_rng(0)
    take = rng.uniform(0, 1, (N_FRAMES, 52)).astype(np.float32)
    one = take[0]
    t_one = best(lambda: ts.vertices(one), repeats=50, warmup=True)
    t_take = best(lambda: ts.vertices(take), repeats=3, warmup=True)
    print(f"Eq. 1 numpy, 1 frame x {ts.num_vertices} vertices x 52: {t_one * 1e6:.0f} us "
          f"({1 / t_one:.0f} frames/s)")
    print(f"Eq. 1 numpy, 60 s take ({N_FRAMES} frames): {t_take * 1e3:.0f} ms = "
          f"{t_take / N_FRAMES * 1e6:.0f} us per frame ({N_FRAMES / 30 / t_take:.0f}x real time)")
    a = rng.normal(size=len(ts.identity)).astype(np.float32)
    t_id = best(lambda: ts.identity_neutral(a), repeats=10, warmup=True)
    print(f"identity neutral (K={len(ts.identity)}): {t_id * 1e3:.1f} ms")

    try:
        import bpy
    except ImportError:
        print("bpy not installed: Blender timings skipped")
        print(f"machine: {describe()}")
        return
    import emotalk_blender
    from emotalk_blender.blender import head_identity, scene_writer

    bpy.ops.wm.read_factory_settings(use_empty=True)
    emotalk_blender.register()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        bpy.ops.emotalk.create_head()
        times.append(time.perf_counter() - t0)
    obj = bpy.context.active_object
    print(f"Create head (ICT head, materials, 53 keys): best {min(times):.2f} s (target <= 3 s)")
    t_ident = best(lambda: head_identity.set_identity(obj, 7, (1.0,)), repeats=3)
    print(f"Head identity (rewrites the Basis and 52 keys): {t_ident * 1e3:.0f} ms")
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    write = []
    for _ in range(3):
        t0 = time.perf_counter()
        scene_writer.write_take(obj, take, scene=scene, start_frame=1)
        write.append(time.perf_counter() - t0)
    print(f"writing a 60 s take (52 curves x {N_FRAMES} keys): best {min(write) * 1e3:.0f} ms (target <= 50 ms)")
    dg = bpy.context.evaluated_depsgraph_get()
    n = len(obj.data.vertices)
    co = np.empty(n * 3, np.float32)

    def frame(f):
        scene.frame_set(f)
        ev = obj.evaluated_get(dg)
        me = ev.to_mesh()
        me.vertices.foreach_get("co", co)
        ev.to_mesh_clear()

    def fps(count=120):
        frame(1)
        t0 = time.perf_counter()
        for f in range(2, 2 + count):
            frame(f)
        return count / (time.perf_counter() - t0)

    print(f"evaluating the animated head (frame_set + evaluated mesh): {fps():.0f} frames/s "
          f"(target >= 60)")
    # head motion turns Create head's neck rig (head bone, skinned neck) under the shape keys
    motion = np.cumsum(rng.normal(0.0, 0.3, (N_FRAMES, 3)), axis=0).astype(np.float32)
    t0 = time.perf_counter()
    scene_writer.write_take(obj, take, scene=scene, start_frame=1, head=motion)
    t_motion = time.perf_counter() - t0
    print(f"writing a 60 s take with head motion (52 + 4 curves): {t_motion * 1e3:.0f} ms; "
          f"evaluating it: {fps():.0f} frames/s (target >= 60)")
    emotalk_blender.unregister()
    print(f"machine: {describe()}")


if __name__ == "__main__":
    main()
