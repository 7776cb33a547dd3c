"""Benchmark: the blendshape transform for a 60 s take (1,800 frames) on a FLAME-sized set
(5,023 vertices), in numpy and torch, and building the Blender head object (target <= 200 ms).

    .venv/bin/python bench/bench_transform.py
"""
from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emotalk_blender.engine.formats import templates
from machine import best, describe

N_VERTS, N_FRAMES = 5023, 1800  # FLAME's vertex count; 60 s at 30 fps


def synthetic_set(n=N_VERTS) -> templates.TemplateSet:
    """Random offsets on a grid mesh of n vertices (quads, a FLAME-sized stand-in)."""
    rng = np.random.default_rng(0)
    width = 73
    rows = -(-n // width)
    faces = [[r * width + c, r * width + c + 1, (r + 1) * width + c + 1, (r + 1) * width + c]
             for r in range(rows - 1) for c in range(width - 1) if (r + 1) * width + c + 1 < n]
    regions = {"lips": np.arange(0, 300), "eyes": np.arange(2000, 2300), "forehead": np.arange(4000, 4500)}
    return templates.TemplateSet(
        name="bench", neutral=rng.normal(size=(n, 3)).astype(np.float32),
        deltas=(0.01 * rng.normal(size=(52, n, 3))).astype(np.float32),
        face_sizes=[4] * len(faces), face_indices=np.array(faces).ravel(), regions=regions)


def main():
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    print(f"machine: {describe()}")
    ts = synthetic_set()
    w = np.random.default_rng(1).uniform(0, 1, (N_FRAMES, 52)).astype(np.float32)
    out_mb = N_FRAMES * N_VERTS * 3 * 4 / 1e6

    t_np = best(lambda: ts.vertices(w))
    tracemalloc.start()
    ts.vertices(w)
    peak_np = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(f"numpy  transform {N_FRAMES} x {N_VERTS}: {t_np * 1e3:7.1f} ms, peak {peak_np:6.1f} MB "
          f"(output itself {out_mb:.1f} MB)")

    wt = torch.from_numpy(w)
    t_t = best(lambda: ts.vertices_torch(wt))
    print(f"torch  transform {N_FRAMES} x {N_VERTS}: {t_t * 1e3:7.1f} ms")

    try:
        import bpy

        from emotalk_blender.blender import head_mesh
    except ImportError:
        print("bpy not installed: head_mesh timing skipped")
        return
    times = []
    for _ in range(5):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        t0 = time.perf_counter()
        head_mesh.build_head_object(ts, name="bench")
        times.append(time.perf_counter() - t0)
    print(f"head_mesh.build_head_object ({N_VERTS} vertices, 52 keys): best {min(times) * 1e3:.0f} ms, "
          f"median {sorted(times)[2] * 1e3:.0f} ms (target <= 200 ms)")
    default = templates.load_template_set(templates.default_template_path())
    bpy.ops.wm.read_factory_settings(use_empty=True)
    t0 = time.perf_counter()
    head_mesh.build_head_object(default)
    print(f"head_mesh.build_head_object (default head, {default.num_vertices} vertices): "
          f"{(time.perf_counter() - t0) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
