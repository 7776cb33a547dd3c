"""The README's first picture: the demo take (``make demo``'s preview video) as a small looping GIF.

    .venv/bin/python scripts/make_demo_gif.py        # out/demo.mp4 -> docs/demo.gif

ffmpeg (a Debian package ``make deps`` installs) makes one palette for the whole clip, then the GIF
at ``--fps`` frames per second and ``--width`` pixels; no sound (GIFs have none).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emotalk_blender.engine.atomic import atomic_path  # noqa: E402


def make_gif(video: Path, out: Path, width: int = 256, fps: int = 15) -> Path:
    if not video.is_file():
        raise SystemExit(f"{video}: no such video (run `make demo` first)")
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg not found (make deps installs it)")
    scale = f"fps={fps},scale={width}:-1:flags=lanczos"
    graph = f"[0:v]{scale},split[a][b];[a]palettegen=max_colors=96:stats_mode=diff[p];[b][p]paletteuse=dither=bayer"
    with atomic_path(out) as tmp:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-filter_complex", graph,
                        "-loop", "0", "-f", "gif", str(tmp)], check=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=str(REPO / "out" / "demo.mp4"))
    ap.add_argument("--out", default=str(REPO / "docs" / "demo.gif"))
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--fps", type=int, default=15)
    args = ap.parse_args(argv)
    path = make_gif(Path(args.video), Path(args.out), args.width, args.fps)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
