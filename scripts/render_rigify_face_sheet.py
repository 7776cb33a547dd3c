"""The demo take on Rigify's face: docs/rigify_face_sheet.png.

    .venv/bin/python scripts/render_rigify_face_sheet.py [--audio FILE] [--out docs/rigify_face_sheet.png]

A Rigify rig is generated from the human meta-rig (bpy), the shipped face poses are loaded, and the
take of the demo (the sample with the default model, as ``make demo``) is written onto it with the
add-on's own writer. Tiles draw the face's deform bones as Blender evaluates them at chosen frames
(front view; lips red, lids and eyes blue, brows brown, jaw and chin grey): the rest pose, and the
frames where the take opens the jaw, closes the lips, smiles, blinks and raises the brows most.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bpy
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import emotalk_blender  # noqa: E402
from emotalk_blender.blender import rigify_face, scene_writer  # noqa: E402
from emotalk_blender.engine import atomic  # noqa: E402
from emotalk_blender.engine.arkit import INDEX  # noqa: E402
from emotalk_blender.engine.pipeline import GenerateSettings, generate  # noqa: E402

COLOURS = (("lip", "#c0392b"), ("lid", "#2e6da4"), ("brow", "#7a5230"), ("jaw", "#777777"), ("chin", "#777777"),
           ("cheek", "#b08070"), ("nose", "#a07050"), ("forehead", "#bbbbbb"), ("temple", "#bbbbbb"),
           ("ear", "#cccccc"))
# (title, channels whose summed weight picks the frame)
MOMENTS = (("jaw open", ("jawOpen",)), ("lips closed", ("mouthClose",)),
           ("smile", ("mouthSmileLeft", "mouthSmileRight")), ("blink", ("eyeBlinkLeft", "eyeBlinkRight")),
           ("brows up", ("browInnerUp",)))


def _segments(rig):
    """(x, z) head and tail, colour of each face deform bone as evaluated now; the eyes' centre and gaze."""
    out = []
    for pb in rig.pose.bones:
        if not pb.name.startswith("DEF-"):
            continue
        colour = next((c for key, c in COLOURS if pb.name[4:].startswith(key)), None)
        if colour is not None:
            out.append(((pb.head.x, pb.head.z), (pb.tail.x, pb.tail.z), colour))
    eyes = []
    for side in "LR":
        eye = rig.pose.bones.get(f"ORG-eye.{side}")
        if eye is not None:
            gaze = (eye.tail - eye.head).normalized()
            eyes.append(((eye.head.x, eye.head.z), (gaze.x, gaze.z)))
    return out, eyes


def _draw(ax, segments, eyes, title):
    for (x0, z0), (x1, z1), colour in segments:
        ax.plot([x0, x1], [z0, z1], color=colour, lw=2.2, solid_capstyle="round")
    for (x, z), (gx, gz) in eyes:
        ax.add_patch(plt.Circle((x, z), 0.013, fill=False, color="#2e6da4", lw=1))
        ax.plot([x + 0.011 * gx], [z + 0.011 * gz], "o", color="#1b2b40", ms=4)
    ax.set_aspect("equal")
    ax.set_xlim(-0.11, 0.11)
    ax.set_ylim(1.71, 1.96)
    ax.axis("off")
    ax.set_title(title, fontsize=9)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio", default=str(REPO / "samples" / "sample.flac"))
    ap.add_argument("--checkpoint", help="model checkpoint (default: the shipped model)")
    ap.add_argument("--out", default=str(REPO / "docs" / "rigify_face_sheet.png"))
    args = ap.parse_args(argv)
    weights = generate(args.audio, GenerateSettings(checkpoint=args.checkpoint))

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = rigify_face.generate_rig()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    emotalk_blender.register()
    try:
        bpy.context.view_layer.objects.active = rig
        rigify_face.load_poses(rig)
        bpy.context.view_layer.update()
        tiles = [("rest (before the take)", *_segments(rig))]
        take = scene_writer.write_take(rig, weights, start_frame=1)
        for title, channels in MOMENTS:
            mean = sum(weights[:, INDEX[c]] for c in channels) / len(channels)
            k = int(np.argmax(mean))
            scene.frame_set(1 + k)
            tiles.append((f"{title}\nframe {k}, weight {mean[k]:.2f}", *_segments(rig)))
        jaw = []
        for k in range(len(weights)):
            scene.frame_set(1 + k)
            jaw.append(np.degrees(rig.pose.bones["jaw_master"].rotation_quaternion.angle))
    finally:
        emotalk_blender.unregister()

    fig = plt.figure(figsize=(12, 5.6), dpi=100)
    grid = fig.add_gridspec(2, len(tiles), height_ratios=[3, 1.2])
    for i, (title, segments, eyes) in enumerate(tiles):
        _draw(fig.add_subplot(grid[0, i]), segments, eyes, title)
    ax = fig.add_subplot(grid[1, :])
    t = np.arange(len(weights)) / 30
    ax.plot(t, weights[:, INDEX["jawOpen"]], color="#777777", label="jawOpen weight")
    ax.plot(t, (weights[:, INDEX["mouthSmileLeft"]] + weights[:, INDEX["mouthSmileRight"]]) / 2, color="#c0392b",
            label="mouthSmile weight (mean of sides)")
    ax2 = ax.twinx()
    ax2.plot(t, jaw, color="black", lw=0.8, ls="--", label="jaw_master rotation (degrees, right axis)")
    ax.set_xlabel("seconds")
    ax.set_xlim(0, t[-1])
    fig.legend(loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"The demo take ({Path(args.audio).name}, default model) on a Rigify face: {take.mapped} ARKit "
                 "channels through the shipped poses (rigs/rigify_face_poses.json)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    out = Path(args.out)
    with atomic.atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
