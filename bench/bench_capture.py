"""Capture from video: seconds of compute per second of video, per backend and stage, on this machine.

Stages, best of N on a GRID clip (3 s, 360x288, 25 fps): ffmpeg decoding alone (frames + audio), and
the whole capture (decode, per-frame network, fill, 30 fps, smoothing) with each backend that can
run here: MediaPipe (needs mediapipe and face_landmarker.task) and the ResNet (needs a capture model:
--resnet-model, or the shipped one when there is one).

    .venv/bin/python bench/bench_capture.py [--repeats 3] [--video V] [--resnet-model M]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from machine import best, describe  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--video", default=str(SHARED / "grid" / "lwbsza.mpg"))
    ap.add_argument("--mediapipe-model", default=str(SHARED / "mediapipe" / "face_landmarker.task"))
    ap.add_argument("--resnet-model", default=None)
    args = ap.parse_args()
    from emotalk_blender.engine.capture import video
    from emotalk_blender.engine.capture.base import CaptureError, load_capture_backend
    from emotalk_blender.engine.capture.capture import capture_video

    print("machine:", describe())
    info = video.probe(args.video)
    seconds = info.frames / info.fps
    print(f"video: {Path(args.video).name}, {info.width}x{info.height}, {info.fps:g} fps, {seconds:.2f} s")

    def decode():
        for _ in video.frames(info):
            pass
        video.read_audio(info)

    t = best(decode, args.repeats)
    print(f"ffmpeg decode (frames + audio): {t * 1000:.0f} ms = {t / seconds:.3f} s per video second")
    for name, model in (("mediapipe", args.mediapipe_model), ("resnet", args.resnet_model)):
        try:
            backend = load_capture_backend(name, model)
        except CaptureError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        try:
            capture_video(info, backend)  # warm-up: first-frame set-up, caches
            t = best(lambda: capture_video(info, backend), args.repeats)
        finally:
            backend.close()
        print(f"{name}: whole capture {t * 1000:.0f} ms = {t / seconds:.3f} s per video second "
              f"({t / info.frames * 1000:.1f} ms per frame, {seconds / t:.1f}x real time)")


if __name__ == "__main__":
    main()
