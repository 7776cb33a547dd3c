"""Render one take's frames without and with head motion from the voice, with the head curves below.

Headless, with the bpy module, in the look of ``render_contact_sheet.py`` (Workbench, matcap). The
take: the default model on samples/sample.flac with gaze 0.5; the top row without head motion,
the bottom row with it (strength 1, style natural, seed 0), written by the add-on's own writer
(scene_writer.write_take with ``head``) onto the default head and rendered at the same frames.
Under the tiles: pitch, yaw and roll over the take, the shown frames marked.

    .venv/bin/python scripts/render_head_motion_strip.py            # -> docs/head_motion_strip.png
    .venv/bin/python scripts/render_head_motion_strip.py --frames 4 --cell 160 --out /tmp/strip.png
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from emotalk_blender.engine.audio.decoding import load_audio  # noqa: E402
from emotalk_blender.engine.constants import FPS  # noqa: E402
from emotalk_blender.engine.direction.head_motion import AXES, for_settings  # noqa: E402
from emotalk_blender.engine.pipeline import GenerateSettings, generate_from_audio  # noqa: E402

FRAME_CENTRE = (0.0, -0.03, -0.01)  # the whole head, in the default head's coordinates
FRAME_SIZE = 0.3
COLOURS = ("#d62728", "#1f77b4", "#2ca02c")


def plot_head(head: np.ndarray, frames, width: int, height: int, title: str) -> np.ndarray:
    """(height, width, 4) float RGBA, top row first: pitch, yaw, roll over the take."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    t = np.arange(len(head)) / FPS
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((40 / width, 32 / height, 1 - 52 / width, 1 - 60 / height))
    for i, (name, colour) in enumerate(zip(AXES, COLOURS)):
        ax.plot(t, head[:, i], color=colour, lw=1.2, label=f"{name} (deg)")
    for f in frames:
        ax.axvline(f / FPS, color="0.3", lw=0.8, alpha=0.6)
        ax.annotate(str(f), (f / FPS, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.set_xlim(0, t[-1])
    ax.set_xlabel("seconds", fontsize=7, labelpad=1)
    ax.tick_params(labelsize=7, pad=1)
    ax.legend(fontsize=7, ncol=3, loc="lower right", frameon=False)
    fig.text(0.5, 1 - 3 / height, title, fontsize=8, ha="center", va="top")
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba(), dtype=np.float32) / 255.0
    plt.close(fig)
    return rgba


def render_rows(weights, head, frames, cell: int, audio_path: str) -> list[list[np.ndarray]]:
    """Two rows of tiles: the take without, then with head motion, at ``frames`` (take frames from 0)."""
    import bpy
    import render_contact_sheet as sheet

    import emotalk_blender
    from emotalk_blender.blender import head_mesh, scene_writer
    from emotalk_blender.engine.formats import templates

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r, with_head in enumerate((None, head)):
            ts = templates.load_template_set(templates.default_template_path())
            lights = bpy.context.preferences.studio_lights
            scene = sheet._setup_scene(cell, "clay_studio.exr" if "clay_studio.exr" in lights else "basic_grey.exr")
            emotalk_blender.register()
            try:
                obj = head_mesh.build_head_object(ts, name="head")
                sheet._set_colours(obj, sheet.base_colours(ts), np.zeros(ts.num_vertices))
                scene_writer.write_take(obj, weights, scene=scene, head=with_head)
                sheet.FRAME_CENTRE = FRAME_CENTRE  # the label sits under this centre
                cam = sheet._camera(scene, 22.0, 4.0, centre=FRAME_CENTRE, size=FRAME_SIZE)
                label = sheet._Label(scene, cam)
                label.curve.size = 0.016
                tiles = []
                for k, f in enumerate(frames):
                    scene.frame_set(scene.frame_start + f)
                    what = "head motion" if with_head is not None else "no head motion"
                    label.set(f"f {f}  {what}")
                    scene.render.filepath = str(Path(tmp) / f"{r}_{k:02d}.png")
                    bpy.ops.render.render(write_still=True)
                    tiles.append(sheet._read_png(Path(scene.render.filepath)))
                rows.append(tiles)
            finally:
                emotalk_blender.unregister()
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio", default=str(REPO / "samples" / "sample.flac"))
    ap.add_argument("--checkpoint", help="model checkpoint (default: the shipped model)")
    ap.add_argument("--out", default=str(REPO / "docs" / "head_motion_strip.png"))
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--cell", type=int, default=220)
    args = ap.parse_args(argv)
    import render_contact_sheet as sheet

    from emotalk_blender.engine.atomic import atomic_path

    audio = load_audio(args.audio)
    settings = GenerateSettings(checkpoint=args.checkpoint, gaze=0.5, head_motion=1.0)
    weights = generate_from_audio(audio, settings)
    head = for_settings(audio, settings.validated(), len(weights))
    # The frames where the head is farthest from rest, spread over the take (the middle of each
    # equal part, so that two picks are never neighbours).
    chunks = [c[len(c) // 5:len(c) - len(c) // 5] for c in np.array_split(np.arange(len(head)), args.frames)]
    frames = [int(c[np.argmax(np.linalg.norm(head[c], axis=1))]) for c in chunks]
    rows = render_rows(weights, head, frames, args.cell, args.audio)
    cell, cols = args.cell, len(frames)
    title = (f"{Path(args.audio).name}: top, the take without head motion; bottom, the same take with head "
             "motion from the voice (strength 1, natural); gaze 0.5 in both")
    strip = plot_head(head, frames, cols * cell, max(170, int(0.8 * cell)), title)
    h_strip = strip.shape[0]
    img = np.ones((2 * cell + h_strip, cols * cell, 4), np.float32)
    for r, tiles in enumerate(rows):
        y0 = h_strip + (1 - r) * cell  # Blender images start at the bottom row
        for c, tile in enumerate(tiles):
            img[y0:y0 + cell, c * cell:(c + 1) * cell] = tile
    img[:h_strip] = strip[::-1, :cols * cell]
    img[:h_strip, :, 3] = 1.0
    out = Path(args.out)
    with atomic_path(out) as tmp_png:
        sheet._save_png(img, tmp_png)
    print(f"frames {frames}; wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
