"""Image/blendshape pairs for the capture ResNet, from three sources.

- ``render``: a mesh with ARKit shape keys (default: the project's default head) driven by random
  sparse weights or by recorded takes, rendered headless with Blender's Workbench (bpy), with jitter
  of framing, head pose, matcap and colour so that the network learns the face, not the pixels;
- ``livelinkface``: the Live Link Face app's video with its CSV, frames matched by timecode;
- ``mediapipe``: any video, each frame labelled by the MediaPipe capture backend.

A pairs folder holds shards ``pairs_*.npz``, each with ``images`` (N, S, S, 3) uint8 face crops
and ``weights`` (N, 52) float32 in the released order, plus ``pairs.json`` saying how they were made.

    python -m emotalk_blender.training.capture_renders render OUT --count 2000 --size 128 --seed 0
    python -m emotalk_blender.training.capture_renders livelinkface take.mov take.csv -o OUT
    python -m emotalk_blender.training.capture_renders mediapipe clip.mp4 -o OUT --capture-model face_landmarker.task
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..engine.arkit import ARKIT_NAMES, INDEX, NUM_BLENDSHAPES, auto_map, mirror
from ..engine.atomic import atomic_open
from ..engine.capture import resnet, video
from ..engine.capture.base import CaptureError
from ..engine.errors import EmoTalkError

SHARD = 500  # pairs per shard file
MATCAPS = ("basic_bright.exr", "basic_grey.exr", "basic_side.exr", "basic_dark.exr", "clay_studio.exr",
           "clay_warm.exr", "clay_brown.exr", "ceramic_lightbulb.exr", "pearl.exr", "resin.exr")
FRAME_GROUPS = ("face", "brows")  # the head's vertex groups the face crop frames (brows to chin)
FRAME_MARGIN = 1.2
BATCH = 100  # frames rendered with one matcap and colour (these cannot vary within one animation render)

_MOUTH = [n for n in ARKIT_NAMES if n.startswith("mouth") or n == "cheekPuff"]
_BROWS = ["browDownLeft", "browInnerUp", "browOuterUpLeft"]
_FACE = ["cheekSquintLeft", "noseSneerLeft", "eyeSquintLeft", "eyeWideLeft"]
_LOOKS = {  # gaze directions: both eyes move together (ARKit In/Out are per eye)
    "up": ("eyeLookUpLeft", "eyeLookUpRight"), "down": ("eyeLookDownLeft", "eyeLookDownRight"),
    "left": ("eyeLookOutLeft", "eyeLookInRight"), "right": ("eyeLookInLeft", "eyeLookOutRight"),
}


# ----------------------------------------------------------------------------------------- weights

def _set(w: np.ndarray, name: str, value: float, rng: np.random.Generator, symmetric: float = 0.75) -> None:
    """Set ``name``; a sided channel sets its mirror too (slightly different) with probability ``symmetric``."""
    w[INDEX[name]] = value
    other = mirror(name)
    if other != name and rng.random() < symmetric:
        w[INDEX[other]] = np.clip(value + rng.normal(0, 0.08), 0, 1)


def sample_weights(rng: np.random.Generator, count: int) -> np.ndarray:
    """(count, 52) sparse, plausible poses: a few active channels, mostly symmetric, blinks, gaze."""
    out = np.zeros((count, NUM_BLENDSHAPES), np.float32)
    for w in out:
        if rng.random() < 0.7:
            w[INDEX["jawOpen"]] = rng.random() ** 1.3
        for name in rng.choice(_MOUTH, size=rng.integers(0, 4), replace=False):
            _set(w, str(name), rng.uniform(0.15, 1.0), rng)
        if rng.random() < 0.15:
            w[INDEX[str(rng.choice(["jawForward", "jawLeft", "jawRight"]))]] = rng.uniform(0.2, 1.0)
        if rng.random() < 0.35:  # blink (or a wink now and then)
            _set(w, "eyeBlinkLeft" if rng.random() < 0.5 else "eyeBlinkRight", rng.uniform(0.1, 1.0), rng, 0.85)
        if rng.random() < 0.4:
            for name in _LOOKS[str(rng.choice(list(_LOOKS)))]:
                w[INDEX[name]] = rng.uniform(0.2, 1.0)
        if rng.random() < 0.35:
            _set(w, str(rng.choice(_BROWS)), rng.uniform(0.2, 1.0), rng, 0.8)
        for name in _FACE:
            if rng.random() < 0.12:
                _set(w, name, rng.uniform(0.2, 1.0), rng)
        if rng.random() < 0.05:
            w[INDEX["tongueOut"]] = rng.uniform(0.3, 1.0)
            w[INDEX["jawOpen"]] = max(w[INDEX["jawOpen"]], 0.4)
    dense = rng.random(count) < 0.1  # a few low, dense poses: many channels a little
    out[dense] = np.maximum(out[dense], rng.uniform(0, 0.3, (int(dense.sum()), NUM_BLENDSHAPES))
                            * (rng.random((int(dense.sum()), NUM_BLENDSHAPES)) < 0.3))
    return out


def recorded_weights(paths, rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` frames drawn from recorded takes (.npy (T, 52) in the released order, or Live Link Face CSV)."""
    from ..engine.formats import livelinkface
    from ..engine.formats.motion_io import check_motion

    takes = []
    for p in paths:
        p = Path(p)
        arr = livelinkface.read_csv(p) if p.suffix.lower() == ".csv" else check_motion(np.load(p), str(p))
        takes.append(np.clip(arr, 0, 1).astype(np.float32))
    pool = np.concatenate(takes)
    return pool[rng.integers(0, len(pool), count)]


# ----------------------------------------------------------------------------------------- shards

def write_pairs(out_dir, images: np.ndarray, weights: np.ndarray, info: dict, prefix: str = "pairs") -> Path:
    """Shards of ``images``/``weights`` into ``out_dir`` plus ``pairs.json``; each file written atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if len(images) != len(weights) or len(images) == 0:
        raise ValueError(f"{out}: {len(images)} images for {len(weights)} weight rows")
    for k, start in enumerate(range(0, len(images), SHARD)):
        with atomic_open(out / f"{prefix}_{k:03d}.npz", "wb") as fh:
            np.savez_compressed(fh, images=images[start:start + SHARD],
                                weights=weights[start:start + SHARD].astype(np.float32))
    with atomic_open(out / "pairs.json", "w", encoding="utf-8") as fh:
        json.dump({**info, "count": int(len(images)), "size": int(images.shape[1]),
                   "channels": list(ARKIT_NAMES)}, fh, indent=1)
    return out


def read_pairs(folder) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, S, S, 3) uint8, weights (N, 52) float32) of every shard in ``folder``."""
    folder = Path(folder)
    shards = sorted(folder.glob("*.npz"))
    if not shards:
        raise EmoTalkError(f"{folder}: no pairs (*.npz shards) in this folder")
    images, weights = [], []
    for s in shards:
        try:
            with np.load(s, allow_pickle=False) as z:
                img, w = z["images"], z["weights"]
        except (OSError, KeyError, ValueError) as exc:
            raise EmoTalkError(f"{s}: not a pairs shard ({exc})") from None
        if img.ndim != 4 or img.shape[-1] != 3 or img.dtype != np.uint8 or w.shape != (len(img), NUM_BLENDSHAPES):
            raise EmoTalkError(f"{s}: not a pairs shard (images {img.shape} {img.dtype}, weights {w.shape})")
        images.append(img)
        weights.append(w.astype(np.float32))
    sizes = {i.shape[1:] for i in images}
    if len(sizes) > 1:
        raise EmoTalkError(f"{folder}: shards of different image sizes {sorted(sizes)}")
    return np.concatenate(images), np.concatenate(weights)


def _resize(crop: np.ndarray, size: int) -> np.ndarray:
    """A crop as (size, size, 3) uint8 (torch's antialiased bilinear, as the backend resizes)."""
    torch = resnet.import_torch()
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float()
    t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return t[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


# ----------------------------------------------------------------------------------------- renders

def face_square(obj) -> tuple[float, float, float]:
    """World (x, z, side) of the square the renders frame: brows to chin, cheek to cheek, with a margin."""
    from mathutils import Vector

    groups = {g.index for g in obj.vertex_groups if g.name in FRAME_GROUPS}
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    member = [v.index for v in obj.data.vertices if any(g.group in groups for g in v.groups)] if groups else []
    pts = co[member] if member else co
    corners = [obj.matrix_world @ Vector(c) for c in (pts.min(axis=0), pts.max(axis=0))]
    lo = [min(c[i] for c in corners) for i in range(3)]
    hi = [max(c[i] for c in corners) for i in range(3)]
    side = max(hi[0] - lo[0], hi[2] - lo[2]) * FRAME_MARGIN
    return (lo[0] + hi[0]) / 2, (lo[2] + hi[2]) / 2, side


def preview_crop(obj, scene=None, resolution: int = 512) -> tuple[int, int, int, int]:
    """The renders' face square as a pixel crop (x, y, w, h) of ``blender.preview``'s front view of ``obj``.

    A video made with ``preview.render_mp4`` captured with this crop is framed as the training renders.
    """
    from ..blender import preview

    cx, cz, side = face_square(obj)
    with preview.preview_setup(obj, scene, resolution) as scn:
        cam = scn.camera
        scale, px, pz = cam.data.ortho_scale, cam.location.x, cam.location.z
    w = side / scale * resolution
    x = (cx - px) / scale * resolution + resolution / 2 - w / 2
    y = resolution / 2 - (cz - pz) / scale * resolution - w / 2  # image rows run top-down
    return int(round(x)), int(round(y)), int(round(w)), int(round(w))


def render_pairs(weights: np.ndarray, size: int = 128, seed: int = 0, obj_name: str | None = None,
                 blend_file=None, jitter: bool = True, progress=None) -> np.ndarray:
    """Render one (size, size, 3) uint8 image per row of ``weights`` on a mesh with ARKit shape keys.

    The mesh is ``obj_name`` in ``blend_file``, or the default head built from its template set.
    Frames render as one animation (a frame-change handler poses the head and moves the camera).
    """
    import bpy

    from ..blender import head_mesh, preview
    from ..engine.formats import templates

    rng = np.random.default_rng(seed + 1)
    if blend_file:
        bpy.ops.wm.open_mainfile(filepath=str(blend_file))
        obj = bpy.data.objects.get(obj_name or "")
        if obj is None:
            raise EmoTalkError(f"{blend_file}: no object named {obj_name!r}")
    else:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        # the stylised head: the shipped ResNet was trained on its renders (issue 23 kept them)
        obj = head_mesh.build_head_object(templates.load_template_set(templates.stylised_template_path()))
    keys = obj.data.shape_keys if obj.type == "MESH" else None
    if keys is None:
        raise EmoTalkError(f"object {obj.name!r}: not a mesh with shape keys")
    blocks = keys.key_blocks
    mapping, missing = auto_map([kb.name for kb in blocks if kb != keys.reference_key])  # as retargeting matches
    if missing:
        raise EmoTalkError(f"object {obj.name!r}: no shape keys for {', '.join(missing)}")
    order = [blocks.find(mapping[n]) for n in ARKIT_NAMES]
    n = len(weights)
    values = np.zeros((n, len(blocks)), np.float32)
    values[:, order] = weights
    scene = bpy.context.scene
    out = np.empty((n, size, size, 3), np.uint8)
    with preview.preview_setup(obj, scene, size), tempfile.TemporaryDirectory() as tmp:
        camera = scene.camera
        cx, cz, side = face_square(obj)
        camera.location.x, camera.location.z, camera.data.ortho_scale = cx, cz, side
        base_loc, base_scale = camera.location.copy(), camera.data.ortho_scale
        base_rot = obj.rotation_euler.copy()
        shake = (rng.uniform(-1, 1, (n, 6)) * [0.05, 0.05, 0.08, 0.14, 0.1, 0.08]) if jitter else np.zeros((n, 6))
        zoom = rng.uniform(0.9, 1.1, n) if jitter else np.ones(n)

        def pose(scn, *_):
            i = scn.frame_current - 1
            if 0 <= i < n:
                blocks.foreach_set("value", values[i])
                camera.location.x = base_loc.x + shake[i, 0] * base_scale
                camera.location.z = base_loc.z + shake[i, 1] * base_scale
                camera.data.ortho_scale = base_scale * zoom[i]
                obj.rotation_euler = (base_rot.x + shake[i, 4], base_rot.y + shake[i, 5], base_rot.z + shake[i, 3])

        shading = scene.display.shading
        available = {s.name for s in bpy.context.preferences.studio_lights if s.type == "MATCAP"}
        matcaps = [m for m in MATCAPS if m in available] or sorted(available)
        scene.render.image_settings.file_format = "PNG"
        scene.render.image_settings.color_mode = "RGB"
        bpy.app.handlers.frame_change_pre.append(pose)
        try:
            for start in range(0, n, BATCH):
                stop = min(n, start + BATCH)
                if jitter:
                    shading.studio_light = matcaps[int(rng.integers(len(matcaps)))] if start else matcaps[0]
                    shading.single_color = tuple(np.clip(0.8 + rng.normal(0, 0.08, 3), 0.5, 1.0))
                scene.frame_start, scene.frame_end = start + 1, stop
                scene.render.filepath = os.path.join(tmp, "f")
                bpy.ops.render.render(animation=True, scene=scene.name)
                for i in range(start, stop):
                    path = os.path.join(tmp, f"f{i + 1:04d}.png")
                    img = bpy.data.images.load(path)
                    px = np.empty(size * size * img.channels, np.float32)
                    img.pixels.foreach_get(px)
                    bpy.data.images.remove(img)
                    os.remove(path)
                    rgb = px.reshape(size, size, -1)[::-1, :, :3]  # Blender's rows run bottom-up
                    out[i] = np.round(np.clip(rgb, 0, 1) * 255)
                if progress:
                    progress(stop, n)
        finally:
            bpy.app.handlers.frame_change_pre.remove(pose)
            blocks.foreach_set("value", np.zeros(len(blocks), np.float32))
            camera.location, camera.data.ortho_scale = base_loc, base_scale
            obj.rotation_euler = base_rot
    return out


# ------------------------------------------------------------------------------ Live Link Face video

_VIDEO_TC = re.compile(r"^(\d+):(\d+):(\d+)[:;.](\d+)$")


def video_timecode(path) -> str | None:
    """The start timecode a video carries (``HH:MM:SS:FF``, the Live Link Face .mov has one), or None."""
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format_tags=timecode:stream_tags=timecode",
           "-of", "json", os.fspath(path)]
    run = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if run.returncode != 0:
        raise CaptureError(f"{path}: not a readable video ({(run.stderr.strip().splitlines() or ['?'])[-1]})")
    data = json.loads(run.stdout or "{}")
    for entry in [data.get("format", {})] + data.get("streams", []):
        tc = entry.get("tags", {}).get("timecode")
        if tc:
            return tc
    return None


def timecode_seconds(text: str, fps: float) -> float:
    """``HH:MM:SS:FF`` at ``fps`` frames per second -> seconds of the day."""
    m = _VIDEO_TC.match(text.strip())
    if not m:
        raise CaptureError(f"bad video timecode {text!r} (expected HH:MM:SS:FF)")
    h, mi, s, f = (int(g) for g in m.groups())
    return h * 3600 + mi * 60 + s + f / round(fps)


def livelinkface_pairs(video_path, csv_path, size: int = 128, crop=None, timecode: str | None = None,
                       csv_timecode_fps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images, weights) of a Live Link Face recording: each video frame with the CSV's values at its time.

    Frame ``i`` is at the video's start timecode + i / fps (``timecode`` overrides the file's); the
    CSV rows are interpolated linearly at that time, and frames outside the CSV's span are dropped.
    """
    from ..engine.formats import livelinkface

    info = video.probe(video_path)
    times, rows = livelinkface.read_csv_timed(csv_path, csv_timecode_fps)
    tc = timecode or video_timecode(info.path)
    if tc is None:
        raise CaptureError(f"{info.path}: the video carries no timecode to match {csv_path} "
                           f"(pass the start timecode as --timecode HH:MM:SS:FF)")
    start = timecode_seconds(tc, info.fps)
    if start < times[0] - 43200:  # the take ran over midnight
        start += 86400.0
    images, weights = [], []
    for i, rgb in enumerate(video.frames(info)):
        t = start + i / info.fps
        if times[0] - 1e-6 <= t <= times[-1] + 1e-6:
            box = resnet.crop_pixels(crop, rgb.shape[1], rgb.shape[0])
            images.append(_resize(resnet.cut(rgb, box), size))
            weights.append([np.interp(t, times, rows[:, c]) for c in range(NUM_BLENDSHAPES)])
    if not images:
        raise CaptureError(f"{info.path}: no frame falls inside the timecodes of {csv_path} "
                           f"(video starts at {tc}, {info.fps:.3g} fps)")
    return np.stack(images), np.clip(np.asarray(weights, np.float32), 0, 1)


# ------------------------------------------------------------------------------- MediaPipe labels

def mediapipe_pairs(video_paths, model_path, size: int = 128, every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(images, weights) from videos labelled frame by frame by the MediaPipe backend (faceless frames dropped).

    The crop is the face box of MediaPipe's landmarks, widened as the resnet backend widens it.
    """
    face_box = resnet.mediapipe_face_box(model_path)
    from ..engine.capture import mediapipe_backend

    labeller = mediapipe_backend.load(model_path)
    images, weights = [], []
    try:
        for path in video_paths:
            info = video.probe(path)
            labeller.begin_video(info.fps)
            for i, rgb in enumerate(video.frames(info)):
                w = labeller.weights(rgb)
                if w is None or i % every:
                    continue
                box = face_box(rgb)
                if box is None:
                    continue
                square = resnet.square_box(box, rgb.shape[1], rgb.shape[0], resnet.FACE_BOX_SCALE,
                                           resnet.FACE_BOX_LIFT)
                images.append(_resize(resnet.cut(rgb, square), size))
                weights.append(w)
    finally:
        labeller.close()
        face_box.close()
    if not images:
        raise CaptureError(f"{', '.join(map(str, video_paths))}: MediaPipe found no face to label")
    return np.stack(images), np.asarray(weights, np.float32)


# ------------------------------------------------------------------------------------------ CLI

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.capture_renders", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="synthetic pairs: renders of a mesh with ARKit shape keys")
    r.add_argument("out")
    r.add_argument("--count", type=int, default=2000)
    r.add_argument("--size", type=int, default=128)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--weights-from", nargs="*", default=[],
                   help="recorded takes (.npy or Live Link Face .csv) to draw poses from instead of random ones")
    r.add_argument("--recorded-share", type=float, default=1.0, help="share of poses from --weights-from")
    r.add_argument("--blend", help="a .blend with the character (default: the project's default head)")
    r.add_argument("--object", help="the mesh object in --blend")
    r.add_argument("--no-jitter", action="store_true")
    llf = sub.add_parser("livelinkface", help="pairs from a Live Link Face video + its CSV, matched by timecode")
    llf.add_argument("video")
    llf.add_argument("csv")
    llf.add_argument("-o", "--out", required=True)
    llf.add_argument("--size", type=int, default=128)
    llf.add_argument("--crop", help="x,y,w,h in pixels (default: the centre square of the frame)")
    llf.add_argument("--timecode", help="the video's start timecode HH:MM:SS:FF when the file has none")
    mp = sub.add_parser("mediapipe", help="pairs from videos labelled by the MediaPipe backend")
    mp.add_argument("videos", nargs="+")
    mp.add_argument("-o", "--out", required=True)
    mp.add_argument("--capture-model", required=True, help="MediaPipe's face_landmarker.task")
    mp.add_argument("--size", type=int, default=128)
    mp.add_argument("--every", type=int, default=1, help="keep every n-th frame")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "render":
            if args.count < 1 or args.size < 16:
                raise EmoTalkError(f"--count {args.count} / --size {args.size}: need count >= 1 and size >= 16")
            rng = np.random.default_rng(args.seed)
            weights = sample_weights(rng, args.count)
            if args.weights_from:
                take = rng.random(args.count) < args.recorded_share
                weights[take] = recorded_weights(args.weights_from, rng, int(take.sum()))
            images = render_pairs(weights, args.size, args.seed, args.object, args.blend, not args.no_jitter,
                                  progress=lambda k, n: print(f"rendered {k}/{n}", file=sys.stderr, flush=True))
            info = {"source": "render", "mesh": args.blend or "default head", "seed": args.seed,
                    "weights": "recorded: " + ", ".join(args.weights_from) if args.weights_from else "random"}
        elif args.cmd == "livelinkface":
            from ..engine.capture.base import parse_crop

            images, weights = livelinkface_pairs(args.video, args.csv, args.size, parse_crop(args.crop), args.timecode)
            info = {"source": "livelinkface", "video": args.video, "csv": args.csv}
        else:
            images, weights = mediapipe_pairs(args.videos, args.capture_model, args.size, args.every)
            info = {"source": "mediapipe", "videos": args.videos}
        write_pairs(args.out, images, weights, info)
    except (EmoTalkError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.out}: {len(images)} pairs ({images.shape[1]}x{images.shape[2]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
