"""GRID speaker s1 as real talking faces: word alignments, a held-out split by sentence, and the capture.

    python -m emotalk_blender.training.grid capture --grid DIR --capture-model face_landmarker.task -o OUT

GRID (Cooke, Barker, Cunningham and Shao 2006; CC BY 4.0): 3 s clips, 25 fps frontal video, with
``.align`` files of word times in 1/1000 of a video frame (25,000 units a second). ``DIR`` holds
``data/s1/*.mpg`` and ``data/alignments/s1/*.align`` (``git archive`` of TVR28/LipNet). The
capture is the project's own (``corpus from-video``, MediaPipe backend) into ``OUT/corpus``; with
it, per clip, the head pose ``OUT/pose/NAME.npy`` ((N, 3) float32 pitch/yaw/roll degrees at 25
fps) and ``OUT/wav/NAME.wav`` (16 kHz mono, the corpus's own file, hard-linked); ``OUT/pose/DONE``
when all are written.

Held out: every clip whose sentence is in a fixed, seeded choice of sentences (split ``test_real``;
GRID's texts hardly repeat, so a sentence is mostly one clip, and a repeated text stays on one side).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import time
from pathlib import Path

from ..engine.atomic import atomic_open
from ..engine.errors import EmoTalkError

UNITS_PER_SECOND = 25_000.0  # GRID's align times: 1000 units per 25 fps frame
SILENCES = ("sil", "sp")
HELD_OUT_SPLIT = "test_real"
HELD_OUT_FRACTION = 0.12  # of the sentences; >= 100 of s1's 1000 clips


def read_align(path) -> list[tuple[float, float, str]]:
    """(start s, end s, word) per line of a GRID .align file, silences included."""
    out = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        out.append((int(parts[0]) / UNITS_PER_SECOND, int(parts[1]) / UNITS_PER_SECOND, parts[2]))
    if not out:
        raise EmoTalkError(f"{path}: no word alignment lines (start end word)")
    return out


def sentence(words: list[tuple[float, float, str]]) -> str:
    """The clip's text: its words without the silences."""
    return " ".join(w for _, _, w in words if w not in SILENCES)


def held_out(text: str, fraction: float = HELD_OUT_FRACTION) -> bool:
    """A fixed choice by sentence (hash of the text), the same on every machine and run."""
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < fraction


def clips(grid_dir, speaker: str = "s1") -> list[dict]:
    """Per clip with a video and an alignment: name, video, align path, text, split."""
    grid = Path(grid_dir)
    videos = sorted((grid / "data" / speaker).glob("*.mpg"))
    if not videos:
        raise EmoTalkError(f"{grid}/data/{speaker}: no .mpg videos")
    out = []
    for v in videos:
        align = grid / "data" / "alignments" / speaker / f"{v.stem}.align"
        if not align.exists():
            continue
        text = sentence(read_align(align))
        out.append({"name": v.stem, "video": str(v), "align": str(align), "text": text,
                    "split": HELD_OUT_SPLIT if held_out(text) else "train"})
    return out


def write_labels(rows: list[dict], path) -> Path:
    """The labels CSV of ``corpus from-video``: neutral, person 0, the sentence and the split."""
    with atomic_open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "emotion", "level", "person", "sentence", "split"])
        for r in rows:
            w.writerow([r["name"], "neutral", 0, 0, r["text"], r["split"]])
    return Path(path)


def capture(grid_dir, out_dir, capture_model, limit: int | None = None, resume: bool = True, log=print) -> dict:
    """Capture GRID s1 into ``out_dir`` (corpus, pose, wav); returns the corpus manifest."""
    from .from_video import build_from_videos

    out = Path(out_dir)
    rows = clips(grid_dir)[:limit]
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    (out / "pose").mkdir(parents=True, exist_ok=True)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    labels = write_labels(rows, out / "labels.csv")
    t0 = time.perf_counter()
    manifest = build_from_videos([r["video"] for r in rows], out / "corpus", labels=labels,
                                 capture_model=capture_model, pose_dir=out / "pose", resume=resume, log=log)
    for r in rows:  # the wav issue 25 reads: the corpus's own file
        dst = out / "wav" / f"{r['name']}.wav"
        if dst.exists():
            dst.unlink()
        os.link(out / "corpus" / f"{r['name']}.wav", dst)
    (out / "pose" / "DONE").write_text(f"{len(rows)} clips, {time.perf_counter() - t0:.0f} s\n")
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.grid", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("capture", help="capture GRID s1 (corpus, head pose, wav)")
    c.add_argument("--grid", required=True, help="folder with data/s1/*.mpg and data/alignments/s1/*.align")
    c.add_argument("--capture-model", required=True, help="MediaPipe's face_landmarker.task")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--limit", type=int, help="only the first N clips (a quick check)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    m = capture(args.grid, args.output, args.capture_model, limit=args.limit)
    print(f"{m['counts']['clips']} clips {m['counts']['by_split']} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
