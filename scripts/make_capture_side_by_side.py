"""Side-by-side of a capture: video frames (left) and the captured take on the default head (right).

Captures a GRID clip with the MediaPipe backend, picks three moments (mouth shut, half open, widest
open), renders the default head at those take frames (blender/preview.py) and tiles them in a PNG.

    .venv/bin/python scripts/make_capture_side_by_side.py          # -> docs/capture_side_by_side.png
    .venv/bin/python scripts/make_capture_side_by_side.py VIDEO --model face_landmarker.task --out x.png
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bpy  # noqa: E402

import emotalk_blender  # noqa: E402

from emotalk_blender.blender import head_mesh, preview, scene_writer  # noqa: E402
from emotalk_blender.engine.formats import templates  # noqa: E402
from emotalk_blender.engine.arkit import INDEX  # noqa: E402
from emotalk_blender.engine.atomic import atomic_path  # noqa: E402
from emotalk_blender.engine.capture import video  # noqa: E402
from emotalk_blender.engine.capture.base import load_capture_backend  # noqa: E402
from emotalk_blender.engine.capture.capture import capture_video  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def read_png(path: Path, size: int) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"scale=-2:{size}", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(size, -1, 3)


def write_png(path: Path, rgb: np.ndarray) -> None:
    h, w = rgb.shape[:2]
    with atomic_path(path) as tmp:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                        "-i", "-", str(tmp)], input=np.ascontiguousarray(rgb).tobytes(), check=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video", nargs="?", default=str(SHARED / "grid" / "lwbsza.mpg"))
    ap.add_argument("--model", default=str(SHARED / "mediapipe" / "face_landmarker.task"))
    ap.add_argument("--out", default=str(REPO / "docs" / "capture_side_by_side.png"))
    ap.add_argument("--size", type=int, default=288, help="height of each cell in pixels")
    args = ap.parse_args(argv)

    info = video.probe(args.video)
    backend = load_capture_backend("mediapipe", args.model)
    try:
        cap = capture_video(info, backend)
    finally:
        backend.close()
    jaw = cap.weights[:, INDEX["jawOpen"]]
    order = np.argsort(jaw[5:-5]) + 5  # not the edges, where the clip may start mid-breath
    moments = [int(order[0]), int(order[len(order) // 2]), int(order[-1])]
    wanted = {min(info.frames - 1, round(k / 30 * info.fps)): k for k in moments}
    frames = {i: rgb.copy() for i, rgb in enumerate(video.frames(info)) if i in wanted}

    bpy.ops.wm.read_factory_settings(use_empty=True)
    emotalk_blender.register()  # the take writer reads the object's channel mapping
    scene = bpy.context.scene
    scene.render.fps = 30
    ts = templates.load_template_set(templates.resolve_template(""))
    obj = head_mesh.build_head_object(ts, name="EmoTalkHead", collection=scene.collection)
    scene_writer.write_take(obj, cap.weights, scene=scene, start_frame=1)
    with tempfile.TemporaryDirectory() as tmp:
        sheet = Path(tmp) / "heads.png"
        preview.render_contact_sheet(obj, sheet, scene=scene, frames=[1 + k for k in moments], columns=1,
                                     resolution=args.size)
        heads = read_png(sheet, args.size * len(moments))
    rows = []
    for r, (i, k) in enumerate(sorted(wanted.items(), key=lambda item: moments.index(item[1]))):
        frame = frames[i]
        scale = args.size / frame.shape[0]
        idx_y = (np.arange(args.size) / scale).astype(int)
        idx_x = (np.arange(int(frame.shape[1] * scale)) / scale).astype(int)
        left = frame[idx_y][:, idx_x]
        right = heads[r * args.size:(r + 1) * args.size, :args.size]
        gap = np.full((args.size, 8, 3), 255, np.uint8)
        rows.append(np.concatenate([left, gap, right], axis=1))
        print(f"take frame {k} (video frame {i}): jawOpen {jaw[k]:.2f}")
    write_png(Path(args.out), np.concatenate(rows, axis=0))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
