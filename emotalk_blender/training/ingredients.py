"""What each ingredient of a mixed corpus buys: short screens with one kind of clip left out.

    python -m emotalk_blender.training.ingredients CORPUS EVAL_CORPUS --init models/emotalk_default.safetensors \
        --out runs/ingredients [--without video,emodb,language] [--steps 200] [--parallel 2]

For each kind named in ``--without`` (a manifest's ``kind``: video = GRID faces, emodb, language,
ljspeech, real, natural, synthetic) a view of CORPUS without that kind's training clips is made
(``OUT/no_KIND/``: a filtered manifest and links to the same files; held-out splits are kept), and
the same fine-tune runs on it and on the whole corpus (``OUT/all/``): same init, seed and number of
steps (one rank, one thread each, ``--parallel`` at once). Each export is then scored on
EVAL_CORPUS's held-out clips (``evaluate --splits grid,ljspeech,emotion_real``) and a table printed
(and written to ``OUT/ingredients.json``). A screen is short: it says which way an ingredient
pushes, not what a full run reaches.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TRAIN_SPLITS = ("train", "train_real")
SPLITS = "grid,ljspeech,emotion_real"


def view_without(corpus: Path, out: Path, kind: str | None) -> Path:
    """``out``: CORPUS's files (linked) under a manifest without ``kind``'s training clips."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    keep = [r for r in manifest["clips"] if kind is None or not (r.get("kind") == kind and r["split"] in TRAIN_SPLITS)]
    for entry in os.scandir(corpus):
        link = out / entry.name
        if entry.name != "manifest.json" and not link.exists():
            link.symlink_to(entry.path)
    manifest = {**manifest, "clips": keep, "without": kind}
    manifest.pop("root", None)
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest))
    tmp.replace(out / "manifest.json")
    return out


def summary(res: dict) -> dict:
    """The screen's figures: GRID lips, LJSpeech lips, real-voice readings (raw: screens have no calibration)."""
    g, lj, er = res.get("grid", {}), res.get("ljspeech", {}), res.get("emotion_real", {})
    raw = lambda part: er.get(part, {}).get("raw", {})  # noqa: E731
    return {"grid_jaw_r": g.get("jaw_r"), "grid_opening_r": g.get("opening_r"), "grid_rounding_r": g.get("rounding_r"),
            "lj_pbm_met": lj.get("bilabial_hit_rate"), "lj_open_shut": lj.get("open_frames_closed_rate"),
            "grid_neutral": raw("grid").get("accuracy"), "lj_neutral": raw("ljspeech").get("accuracy"),
            "emodb_accuracy": raw("emodb").get("accuracy"),
            "emodb_confident_wrong": raw("emodb").get("confident_wrong")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.ingredients",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("eval_corpus", type=Path,
                    help="a corpus with the held-out clips (test_grid, test_ljspeech, test_emodb)")
    ap.add_argument("--init", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--without", default="video,emodb,language")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--grid-limit", type=int, default=60, help="held-out GRID clips scored (the first N)")
    a = ap.parse_args(argv)
    kinds = [None] + [k for k in a.without.split(",") if k]
    jobs = []
    for kind in kinds:
        name = "all" if kind is None else f"no_{kind}"
        view = view_without(a.corpus, a.out / name / "corpus", kind)
        export = a.out / name / "screen.safetensors"
        train = [sys.executable, "-m", "emotalk_blender.training.train", str(view),
                 "--run-dir", str(a.out / name / "run"), "--steps", str(a.steps), "--threads", "1",
                 "--init", a.init, "--export", str(export),
                 "--name", f"ingredient screen ({name})"]
        score = [sys.executable, "-m", "emotalk_blender.training.evaluate", str(a.eval_corpus), "--checkpoint",
                 str(export), "--splits", SPLITS, "--threads", "1", "--limit", str(a.grid_limit),
                 "--out", str(a.out / name / "eval.json")]
        jobs.append((name, train, score))
    results, running, queue = {}, [], list(jobs)
    t0 = time.time()
    while queue or running:
        while queue and len(running) < a.parallel:
            name, train, score = queue.pop(0)
            log = open(a.out / name / "log.txt", "w")
            cmd = f"{subprocess.list2cmdline(train)} && {subprocess.list2cmdline(score)}"
            running.append((name, subprocess.Popen(cmd, shell=True, stdout=log, stderr=subprocess.STDOUT), log))
        time.sleep(5)
        for item in list(running):
            name, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                if proc.returncode:
                    print(f"{name}: failed (exit {proc.returncode}); see {a.out / name / 'log.txt'}", file=sys.stderr)
                    continue
                results[name] = summary(json.loads((a.out / name / "eval.json").read_text()))
                print(f"{name}: done at {time.time() - t0:.0f} s", flush=True)
    (a.out / "ingredients.json").write_text(json.dumps({"steps": a.steps, "results": results}, indent=1))
    cols = list(next(iter(results.values()), {}))
    print("screen | " + " | ".join(cols))
    for name, row in results.items():
        print(name + " | " + " | ".join("-" if v is None else f"{v:.3f}" for v in row.values()))
    return 0 if len(results) == len(jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
