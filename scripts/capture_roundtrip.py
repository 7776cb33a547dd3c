"""Round trip of the capture ResNet: a generated take rendered on the default head to an MP4 with its
audio, captured back with ``python -m emotalk_blender capture --backend resnet``, compared channel by
channel with the take (Pearson r on jawOpen, mouthClose and the blinks).

    .venv/bin/python scripts/capture_roundtrip.py --capture-model models/capture_resnet.safetensors -o out/roundtrip
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emotalk_blender.engine.arkit import INDEX  # noqa: E402

TEXT = ("Peter picked a basket of fresh apples by the blue boat, and then we all went home "
        "to eat them with warm bread.")
CHANNELS = ("jawOpen", "mouthClose", "eyeBlinkLeft", "eyeBlinkRight")


def run(*cmd) -> None:
    subprocess.run([sys.executable, *cmd] if cmd[0] == "-m" else list(cmd), check=True, cwd=ROOT)


def render(take: Path, wav: Path, mp4: Path, resolution: int) -> tuple[int, int, int, int]:
    """The take on a new default head, rendered with ``blender.preview``; returns the face crop in pixels."""
    import bpy

    from emotalk_blender.blender import head_mesh, preview, scene_writer
    from emotalk_blender.engine.formats import templates
    from emotalk_blender.training.capture_renders import preview_crop

    import emotalk_blender

    bpy.ops.wm.read_factory_settings(use_empty=True)
    emotalk_blender.register()  # the take writer reads the object's add-on properties
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 30, 1.0
    obj = head_mesh.build_head_object(templates.load_template_set(templates.stylised_template_path()))
    scene_writer.write_take(obj, np.load(take), audio_path=str(wav))
    crop = preview_crop(obj, resolution=resolution)
    preview.render_mp4(obj, mp4, resolution=resolution, look="capture")  # the ResNet reads this look
    return crop


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capture-model", required=True)
    ap.add_argument("-o", "--out", default="out/roundtrip")
    ap.add_argument("--text", default=TEXT)
    ap.add_argument("--resolution", type=int, default=256)
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    wav, take, mp4, captured = out / "line.wav", out / "take.npy", out / "take.mp4", out / "captured.npy"
    run("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), args.text)
    run("-m", "emotalk_blender", "generate", str(wav), "-o", str(take))
    crop = render(take, wav, mp4, args.resolution)
    run("-m", "emotalk_blender", "capture", str(mp4), "-o", str(captured), "--backend", "resnet",
        "--capture-model", str(Path(args.capture_model).resolve()), "--crop", ",".join(map(str, crop)))
    a, b = np.load(take), np.load(captured)
    n = min(len(a), len(b))
    result = {"frames": [len(a), len(b)], "crop": crop,
              "r": {c: round(float(np.corrcoef(a[:n, INDEX[c]], b[:n, INDEX[c]])[0, 1]), 3) for c in CHANNELS},
              "mae": {c: round(float(np.abs(a[:n, INDEX[c]] - b[:n, INDEX[c]]).mean()), 4) for c in CHANNELS}}
    (out / "roundtrip.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
