"""A training corpus from your own videos, in the 3D-ETF layout the trainer reads.

    python -m emotalk_blender.training.corpus from-video VIDEOS... -o DIR [--labels labels.csv]

Per video: ``NAME.wav`` (its audio, 16 kHz mono) and ``NAME.npy`` ((T, 52) at 30 fps, captured per
frame, faceless frames filled, Savitzky-Golay 5/2: the 3D-ETF construction), T the audio's frame
count; plus ``manifest.json`` / ``manifest.csv`` with the splits (every clip ``train`` unless the
labels say otherwise). Labels CSV columns: ``name`` (the video's stem), ``emotion``, ``level``
(0..1), ``person`` (0..23), optional ``sentence`` (same text = same sentence) and ``split``.
Clips of one person saying one sentence in several emotions give cross-reconstruction pairs;
every other clip trains by self-reconstruction.
"""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from ..engine.atomic import atomic_open, check_outputs, save_npy, write_text
import numpy as np

from ..engine.capture import head_pose
from ..engine.capture.base import load_capture_backend
from ..engine.capture.capture import capture_video, fill_faceless, prepare
from ..engine.capture.video import save_wav
from ..engine.constants import EMOTIONS, FPS, NUM_PERSONS, SAMPLE_RATE
from ..engine.errors import EmoTalkError
from .corpus_layout import CSV_FIELDS, FORMAT_VERSION

SPLITS = ("train", "val_sentence", "test_speaker", "train_real", "test_real")
DEFAULTS = {"emotion": "neutral", "level": 0.0, "person": 0, "sentence": "", "split": "train"}


class PoseRecorder:
    """Wraps the MediaPipe backend (head_pose=True): each frame's head pose kept beside its weights."""

    def __init__(self, backend):
        self.inner = backend
        self.name = backend.name
        self.missing_channels = backend.missing_channels
        self.rows: list[np.ndarray | None] = []

    def begin_video(self, fps: float) -> None:
        self.rows = []
        self.inner.begin_video(fps)

    def weights(self, rgb):
        w = self.inner.weights(rgb)
        m = self.inner.last_matrix
        self.rows.append(None if m is None or w is None else head_pose.angles(m))
        return w

    def pose(self) -> np.ndarray:
        """(N, 3) float32 pitch/yaw/roll degrees per decoded video frame, faceless frames filled."""
        found = np.array([r is not None for r in self.rows], bool)
        if not found.any():
            return np.zeros((len(self.rows), 3), np.float32)
        values = np.stack([np.zeros(3) if r is None else r for r in self.rows])
        return fill_faceless(values, found).astype(np.float32)

    def close(self) -> None:
        self.inner.close()


class LabelError(EmoTalkError):
    """A labels CSV that is missing, malformed, or names values the model does not have."""


def read_labels(path, names: list[str]) -> dict[str, dict]:
    """Per video stem its checked labels (defaults for stems not in the file)."""
    out = {n: dict(DEFAULTS) for n in names}
    if path is None:
        return out
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            header = rows[0].keys() if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelError(f"{path}: cannot read the labels ({exc})") from None
    if "name" not in header:
        raise LabelError(f"{path}: needs a 'name' column (and emotion, level, person)")
    for line, row in enumerate(rows, start=2):
        name = (row.get("name") or "").strip()
        where = f"{path}:{line}"
        if name not in out:
            raise LabelError(f"{where}: {name!r} is none of the videos ({', '.join(names)})")
        lab = out[name]
        emotion = (row.get("emotion") or "neutral").strip().lower()
        if emotion not in EMOTIONS:
            raise LabelError(f"{where}: emotion {emotion!r} is not one of {', '.join(EMOTIONS)}")
        try:
            level = float(row.get("level") or 0)
            person = int(row.get("person") or 0)
        except ValueError:
            raise LabelError(f"{where}: level must be a number 0..1 and person an integer") from None
        if not 0.0 <= level <= 1.0 or not 0 <= person < NUM_PERSONS:
            raise LabelError(f"{where}: level must be in 0..1 and person in 0..{NUM_PERSONS - 1}")
        split = (row.get("split") or "train").strip()
        if split not in SPLITS:
            raise LabelError(f"{where}: split {split!r} is not one of {', '.join(SPLITS)}")
        lab.update(emotion=emotion, level=level, person=person, sentence=(row.get("sentence") or "").strip(),
                   split=split)
    return out


def build_from_videos(videos, out_dir, labels=None, backend: str = "mediapipe", capture_model=None,
                      crop=None, smooth: bool = True, log=print, pose_dir=None, resume: bool = False) -> dict:
    """Capture every video into ``out_dir`` and write the manifest; returns it. Checks all inputs first.

    ``pose_dir`` (MediaPipe only): also ``NAME.npy`` there, the head's pitch/yaw/roll in degrees per
    video frame at the video's own rate ((N, 3) float32, engine/capture/head_pose.py). ``resume``
    keeps clips whose files are already written (a long capture that was stopped goes on).
    """
    videos = [str(v) for v in videos]
    names = [Path(v).stem for v in videos]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise EmoTalkError(f"several videos share the name {dupes[0]!r}; their clips would collide in {out_dir}")
    out = Path(out_dir)
    labelled = read_labels(labels, names)
    check_outputs([(v, out / f"{n}.npy") for v, n in zip(videos, names)])
    infos = [prepare(v) for v in videos]
    for info in infos:
        if not info.has_audio:
            raise EmoTalkError(f"{info.path}: has no audio track; a training clip pairs speech with the face")
    sentence_ids = {s: i for i, s in enumerate(sorted({lab["sentence"] for lab in labelled.values()} - {""}))}
    if pose_dir is not None:
        if backend != "mediapipe":
            raise EmoTalkError("--pose-dir needs the mediapipe backend (its facial transformation matrix)")
        from ..engine.capture import mediapipe_backend

        cap_backend = PoseRecorder(mediapipe_backend.load(capture_model, crop=crop, head_pose=True))
        check_outputs([(v, Path(pose_dir) / f"{n}.npy") for v, n in zip(videos, names)])
    else:
        cap_backend = load_capture_backend(backend, capture_model, crop=crop)
    manifest_path = out / "manifest.json"
    done = {}
    if resume and manifest_path.exists():  # rows of the stopped run, written every few clips
        done = {r["name"]: r for r in json.loads(manifest_path.read_text()).get("clips", [])}
    t0 = time.perf_counter()
    rows, notes = [], {}
    try:
        for k, (info, name) in enumerate(zip(infos, names)):
            if name in done and (out / f"{name}.npy").exists() and (
                    pose_dir is None or (Path(pose_dir) / f"{name}.npy").exists()):
                rows.append(done[name])
                continue
            cap = capture_video(info, cap_backend, smooth=smooth)
            lab = labelled[name]
            save_wav(out / f"{name}.wav", cap.audio)
            save_npy(out / f"{name}.npy", cap.weights)
            if pose_dir is not None:
                save_npy(Path(pose_dir) / f"{name}.npy", cap_backend.pose())
            rows.append({"name": name, "kind": "video", "split": lab["split"], "speaker": lab["person"],
                         "person": lab["person"], "emotion": lab["emotion"], "level": lab["level"],
                         "sentence": sentence_ids.get(lab["sentence"], -1), "text": lab["sentence"],
                         "duration": round(len(cap.audio) / SAMPLE_RATE, 4), "frames": len(cap.weights),
                         "augmentation": {}, "source": str(Path(info.path).resolve()),
                         "faceless_frames": cap.faceless, "video_frames": cap.video_frames})
            notes[name] = cap.report()
            if log:
                log(f"{name}: {cap.report()}")
            if resume and k % 25 == 24:
                write_text(manifest_path, json.dumps({"clips": rows}))
    finally:
        cap_backend.close()
    by_split: dict[str, int] = {}
    for r in rows:
        by_split[r["split"]] = by_split.get(r["split"], 0) + 1
    manifest = {
        "format_version": FORMAT_VERSION, "size": "from-video", "seed": 0, "sample_rate": SAMPLE_RATE, "fps": FPS,
        "emotions": list(EMOTIONS), "build_seconds": round(time.perf_counter() - t0, 2), "skipped": {},
        "capture": {"backend": backend, "smooth": smooth, "notes": notes},
        "counts": {"clips": len(rows), "by_split": by_split,
                   "seconds_by_split": {s: round(sum(r["duration"] for r in rows if r["split"] == s), 1)
                                        for s in by_split}, "augmented": 0},
        "clips": rows,
    }
    write_text(out / "manifest.json", json.dumps(manifest, indent=1))
    write_text(out / "alignments.json", "{}")
    write_text(out / "real_reference.json", "{}")
    with atomic_open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return manifest


def add_parser(sub) -> None:
    """The ``from-video`` subcommand of ``python -m emotalk_blender.training.corpus``."""
    p = sub.add_parser("from-video", help="a corpus from your own videos (capture + audio, 3D-ETF layout)")
    p.add_argument("videos", nargs="+")
    p.add_argument("-o", "--output", required=True, help="corpus folder")
    p.add_argument("--labels", help="CSV with columns name,emotion,level,person[,sentence,split]")
    p.add_argument("--backend", choices=("mediapipe", "resnet"), default="mediapipe")
    p.add_argument("--capture-model", help="MediaPipe's face_landmarker.task, or a ResNet capture model")
    p.add_argument("--crop", help="fixed face crop x,y,w,h (resnet backend)")
    p.add_argument("--no-smooth", action="store_true", help="skip the Savitzky-Golay 5/2 step")
    p.add_argument("--pose-dir", help="also write each clip's head pitch/yaw/roll (degrees, video rate) here")
    p.add_argument("--resume", action="store_true", help="keep the clips a stopped run already wrote")


def run(args) -> dict:
    from ..engine.capture.base import parse_crop

    return build_from_videos(args.videos, args.output, labels=args.labels, backend=args.backend,
                             capture_model=args.capture_model, crop=parse_crop(args.crop),
                             smooth=not args.no_smooth, pose_dir=args.pose_dir, resume=args.resume)
