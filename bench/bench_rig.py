"""A 60 s take on Rigify's face: writing it onto every mapped bone, and what playing it costs.

    .venv/bin/python bench/bench_rig.py [--seconds 60] [--repeats 5]

The rig is generated from Rigify's human meta-rig (the Rigify bundled with Blender) and gets the
shipped face poses for all 52 channels. Writing = scene_writer.write_take onto the armature (pose
blending + bulk F-curve writes + assignment). Playing = stepping through frames with frame_set: the
rig with the take against the same rig unanimated, tagged for update on every frame so that its
pose (constraints, drivers) is evaluated as often (left alone, an unanimated rig is not evaluated).
Targets: write <= 200 ms; playing <= 2x the unanimated rig.
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
from emotalk_blender.blender import rigify_face, scene_writer
from emotalk_blender.engine.arkit import NUM_BLENDSHAPES
from emotalk_blender.engine.constants import FPS
from machine import best, describe


def _play(scene, frames, rig=None) -> float:
    """Step through ``frames``; with ``rig``, tag it first on every frame so its pose is evaluated
    even with nothing animated (an unanimated rig is otherwise skipped by the depsgraph)."""
    t = time.perf_counter()
    for f in frames:
        if rig is not None:
            rig.update_tag(refresh={"DATA"})
        scene.frame_set(f)
    return time.perf_counter() - t


def _key_one_bone(rig) -> bool:
    """Animate the rig minimally (the torso's height keyed at two frames), as the plainest playing rig."""
    pb = rig.pose.bones["torso"]
    for frame, z in ((1, 0.0), (1000, 0.1)):
        pb.location[2] = z
        pb.keyframe_insert("location", index=2, frame=frame)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--play-frames", type=int, default=150, help="frames stepped through per playing run")
    args = parser.parse_args(argv)
    frames = int(args.seconds * FPS)
    weights = np.random.default_rng(0).random((frames, NUM_BLENDSHAPES), dtype=np.float32)
    print(f"machine: {describe()}")

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = rigify_face.generate_rig()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    emotalk_blender.register()
    try:
        rig.select_set(True)
        bpy.context.view_layer.objects.active = rig
        mapping = rigify_face.load_poses(rig)
        steps = list(range(1, 1 + args.play_frames))
        plain = best(lambda: _play(scene, steps, rig), args.repeats, warmup=True)
        take = None

        def write():
            nonlocal take
            take = scene_writer.write_take(rig, weights, start_frame=1)
        written = best(write, args.repeats)
        keys_only = best(lambda: scene_writer.write_take(rig, weights, start_frame=1, set_range=False), args.repeats)
        action = bpy.data.actions[take.action]
        curves = sum(1 for _ in scene_writer.compat.fcurves_of(action, scene_writer.compat.find_slot(
            action, "OBJECT", rig.name)))
        animated = best(lambda: _play(scene, steps), args.repeats, warmup=True)
        bones = len({fc.data_path.split('"')[1] for fc in scene_writer.compat.fcurves_of(
            action, scene_writer.compat.find_slot(action, "OBJECT", rig.name))})
        for old in scene_writer.takes_of(rig):
            scene_writer.delete_take(rig, old)
        one_bone = best(lambda: _play(scene, steps), args.repeats, warmup=True) if _key_one_bone(rig) else 0
    finally:
        emotalk_blender.unregister()
    print(f"rig: {len(rig.pose.bones)} pose bones, {len(mapping.channels)} channels mapped; take: {args.seconds:g} s "
          f"= {curves} F-curves on {bones} bones x {frames} keys")
    print(f"write (scene_writer.write_take onto the armature): best {written * 1000:.1f} ms of {args.repeats}  "
          f"target <= 200 ms [{'ok' if written <= 0.2 else 'MISSED'}]")
    print(f"      of which the poses blended and keyed (set_range=False: no frame change): {keys_only * 1000:.1f} ms; "
          "the rest is Blender evaluating the rig once at the take's first frame")
    per_plain, per_anim = plain / len(steps) * 1000, animated / len(steps) * 1000
    ratio = animated / plain
    print(f"playing: {per_anim:.2f} ms/frame with the take vs {per_plain:.2f} ms/frame unanimated = {ratio:.2f}x  "
          f"target <= 2x [{'ok' if ratio <= 2 else 'MISSED'}]")
    print(f"         (the rig with one keyed bone, the cheapest animated rig: {one_bone / len(steps) * 1000:.2f} "
          f"ms/frame; the take costs {animated / one_bone:.2f}x that)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
