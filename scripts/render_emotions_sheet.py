"""Render one line spoken with several chosen emotions on the default head: one row per emotion.

Headless, with the bpy module, in the same look as ``render_contact_sheet.py`` (Workbench, matcap).
Each row is a take of the same audio made with the shipped default model, its emotion taken from
the voice or from one of the model's presets (``--emotion NAME``); the columns are the same frames.

    .venv/bin/python scripts/render_emotions_sheet.py            # -> docs/emotions_sheet.png
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import bpy  # noqa: E402
import render_contact_sheet as sheet  # noqa: E402

from emotalk_blender.blender import head_mesh  # noqa: E402
from emotalk_blender.blender.portrait import quiet  # noqa: E402
from emotalk_blender.engine import arkit  # noqa: E402
from emotalk_blender.engine.formats import templates  # noqa: E402
from emotalk_blender.engine.pipeline import GenerateSettings, generate  # noqa: E402

LINE = "Peter picked a basket of fresh apples by the blue boat."


def takes(audio: Path, rows: list[str]) -> dict[str, np.ndarray]:
    """(T, 52) per row: ``voice`` is the line's own emotion, any other name the model's preset."""
    out = {}
    for row in rows:
        s = GenerateSettings(seed=0, blinks=False) if row == "voice" else \
            GenerateSettings(seed=0, blinks=False, emotion_source="named", emotion=row)
        out[row] = generate(audio, s)
    return out


def render(weights: dict[str, np.ndarray], out: Path, frames: list[int], cell: int = 200) -> Path:
    ts = templates.load_template_set(templates.default_template_path())
    scene = sheet._setup_scene(cell, "clay_studio.exr" if "clay_studio.exr" in bpy.context.preferences.studio_lights
                               else "basic_grey.exr")
    obj = head_mesh.build_head_object(ts, name="head")
    cam = sheet._camera(scene, 22.0, 4.0)
    label = sheet._Label(scene, cam)
    sheet._set_colours(obj, sheet.base_colours(ts), np.zeros(ts.num_vertices))
    keys = obj.data.shape_keys.key_blocks
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for r, (name, w) in enumerate(weights.items()):
            for c, f in enumerate(frames):
                for i, arkit_name in enumerate(arkit.ARKIT_NAMES):
                    keys[arkit_name].value = float(w[min(f, len(w) - 1), i])
                label.set(f"{name}  {f / 30:.1f} s")
                scene.render.filepath = str(Path(tmp) / f"{r}_{c}.png")
                with quiet():  # no per-frame "Saved" lines, no EGL noise
                    bpy.ops.render.render(write_still=True)
                tiles.append(sheet._read_png(Path(scene.render.filepath)))
    rows, cols = len(weights), len(frames)
    img = np.ones((rows * cell, cols * cell, 4), np.float32)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y0 = (rows - 1 - r) * cell  # Blender images start at the bottom row
        img[y0:y0 + cell, c * cell:(c + 1) * cell] = tile
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet._save_png(img, out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "emotions_sheet.png"))
    ap.add_argument("--emotion", action="append", help="a row per preset (default: happy, angry, surprise)")
    ap.add_argument("--no-voice-row", action="store_true", help="leave out the row of the voice's own emotion")
    ap.add_argument("--frames", default="15,35,55,75,95", help="30 fps frames shown in every row")
    ap.add_argument("--cell", type=int, default=200)
    args = ap.parse_args(argv)
    rows = ([] if args.no_voice_row else ["voice"]) + (args.emotion or ["happy", "angry", "surprise"])
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "line.wav"
        subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-v", "en-us", "-s", "160", "-w", str(audio), LINE],
                       check=True)
        weights = takes(audio, rows)
    for name, w in weights.items():
        print(f"{name}: mouthSmile {w[:, [arkit.INDEX['mouthSmileLeft'], arkit.INDEX['mouthSmileRight']]].mean():.3f}, "
              f"browDown {w[:, [arkit.INDEX['browDownLeft'], arkit.INDEX['browDownRight']]].mean():.3f}, "
              f"browInnerUp {w[:, arkit.INDEX['browInnerUp']].mean():.3f}, "
              f"eyeWide {w[:, [arkit.INDEX['eyeWideLeft'], arkit.INDEX['eyeWideRight']]].mean():.3f}")
    path = render(weights, Path(args.out), [int(f) for f in args.frames.split(",")], args.cell)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
