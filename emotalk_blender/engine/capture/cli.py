"""``python -m emotalk_blender capture VIDEO... -o OUT``: videos -> takes (.npy or Live Link Face CSV)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..atomic import check_outputs, folder_outputs
from ..errors import EmoTalkError
from ..progress import ProgressBar
from .base import CAPTURE_BACKENDS, fit_crop, load_capture_backend, parse_crop

SUFFIXES = (".npy", ".csv")


def outputs(videos: list[str], out: str, csv: bool = False) -> list[Path]:
    """-o is the file for one video (.npy, or .csv for Live Link Face), else a folder of STEM.npy/.csv."""
    out_path = Path(out)
    if len(videos) == 1 and out_path.suffix.lower() in SUFFIXES and not out_path.is_dir():
        return [out_path]
    if len(videos) == 1 and out_path.suffix and not out_path.is_dir() and not out.endswith(("/", os.sep)):
        raise EmoTalkError(f"{out}: a take is written as .npy or .csv (Live Link Face); for a folder, end -o with /")
    if out_path.suffix.lower() in SUFFIXES and not out_path.is_dir():
        raise EmoTalkError(f"{out}: {len(videos)} videos need a folder for -o, not a file")
    return folder_outputs(videos, out_path, ".csv" if csv else ".npy")  # collisions: check_outputs


def add_capture(sub) -> None:
    p = sub.add_parser("capture", help="video -> (T, 52) ARKit weights at 30 fps (.npy or Live Link Face .csv)")
    p.add_argument("video", nargs="+", help="video files (anything ffmpeg reads)")
    p.add_argument("-o", "--output", required=True,
                   help="output .npy or .csv (Live Link Face) for one video, or a folder for several")
    p.add_argument("--backend", choices=CAPTURE_BACKENDS, default="mediapipe",
                   help="capture network (default mediapipe)")
    p.add_argument("--capture-model", help="model file: MediaPipe's face_landmarker.task, or a ResNet capture model")
    p.add_argument("--face-model", help="resnet backend: MediaPipe's face_landmarker.task to crop each frame to the "
                   "face (default: the fixed --crop, or the centre square)")
    p.add_argument("--crop",
                   help="fixed face crop x,y,w,h in video pixels (the resnet backend; mediapipe: search area)")
    p.add_argument("--no-smooth", action="store_true", help="skip the Savitzky-Golay 5/2 step")
    p.add_argument("--csv", action="store_true", help="with a folder for -o: write Live Link Face CSV files")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.set_defaults(func=run_capture)


def run_capture(args) -> int:
    from ..formats import livelinkface, motion_io
    from .capture import capture_video, prepare

    crop = parse_crop(args.crop)
    outs = outputs(args.video, args.output, args.csv)
    check_outputs(zip(args.video, outs))
    infos = [prepare(v) for v in args.video]  # every video readable before the first is captured
    for info in infos:  # and the crop inside each (clamped to its frame, or refused)
        fitted = fit_crop(crop, info.width, info.height, info.path)
        if fitted != crop:
            print(f"{info.path}: --crop clamped to the {info.width}x{info.height} frame: "
                  f"{','.join(map(str, fitted))}", file=sys.stderr)
    backend = load_capture_backend(args.backend, args.capture_model, crop=crop, face_model=args.face_model)
    try:
        for info, out in zip(infos, outs):
            bar = ProgressBar(Path(info.path).name, force=args.progress)
            cap = capture_video(info, backend, smooth=not args.no_smooth, progress=bar)
            if out.suffix.lower() == ".csv":
                livelinkface.write_csv(out, cap.weights)
            else:
                motion_io.save_motion_npy(out, cap.weights)
            print(f"{out}: {cap.report()}", file=sys.stderr)
    finally:
        backend.close()
    return 0
