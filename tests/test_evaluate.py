"""The evaluation's lip figures (hand-made takes, then the shipped model on the tiny corpus) and the
demo contact sheet script."""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from emotalk_blender.engine import paths
from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.training import corpus
from emotalk_blender.training.evaluate import OPEN_JAW, evaluate, lip_scores, lip_summary, main, synthetic
from emotalk_blender.training.train import OPEN_APERTURE
from emotalk_blender.training.visemes import lip_aperture

REPO = Path(__file__).resolve().parents[1]
LIP_KEYS = {"open_frames_closed_rate", "open_aperture_ratio", "open_aperture_pred", "open_aperture_target"}


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """The tiny corpus, built as test_training.py builds it."""
    out = tmp_path_factory.mktemp("corpus")
    corpus.build(out, size="tiny", seed=0)
    return out


def _take():
    """A 40-frame target: open vowels (jawOpen 0.4, lips parted) with a /b/ and an /m/ sealed."""
    y = np.zeros((40, 52), np.float32)
    y[:, INDEX["jawOpen"]] = 0.4
    y[:, [INDEX["mouthLowerDownLeft"], INDEX["mouthLowerDownRight"]]] = 0.1
    for a, b in ((10, 13), (30, 32)):
        y[a:b, INDEX["jawOpen"]] = 0.06
        y[a:b, INDEX["mouthClose"]] = 0.06
        y[a:b, [INDEX["mouthLowerDownLeft"], INDEX["mouthLowerDownRight"]]] = 0.0
    ref = {"bilabial_frames": [[10, 12], [30, 31]], "jaw_open": y[:, INDEX["jawOpen"]].tolist()}
    return y, ref


def test_lip_scores_measure_how_wide_the_lips_open_against_the_target():
    target, ref = _take()
    n_open = int((target[:, INDEX["jawOpen"]] > OPEN_JAW).sum())
    assert n_open == 35
    for r in (ref, None):  # real speech (alignment reference) and synthetic (target aperture) open frames
        same = lip_summary([lip_scores(target, r, target)])
        assert same["open_aperture_ratio"] == pytest.approx(1.0) and same["open_frames_closed_rate"] == 0.0
        assert same["open_aperture_pred"] == pytest.approx(0.45) == same["open_aperture_target"]
        shut = lip_summary([lip_scores(np.zeros_like(target), r, target)])
        assert shut["open_aperture_ratio"] == pytest.approx(0.0, abs=1e-9)
        assert shut["open_frames_closed_rate"] == 1.0 and shut["open_aperture_target"] == pytest.approx(0.45)
        assert len(lip_scores(target, r, target)["open_pred"]) == n_open  # the same frames either way
    half = target.copy()
    half[:, INDEX["jawOpen"]] *= 0.5
    scores = lip_scores(half, ref, target)
    assert scores["hits"] == [True, True] and scores["jaw_corr"] == pytest.approx(1.0)
    assert lip_summary([scores])["open_aperture_ratio"] == pytest.approx(0.25 / 0.45)
    # without a reference the open frames are the target's own: wider than OPEN_APERTURE
    narrow = target.copy()
    narrow[:20, INDEX["jawOpen"]] = 0.05  # lips parted 0.1: below OPEN_APERTURE, not an open frame
    assert (lip_aperture(narrow[:20]) < OPEN_APERTURE).all()
    no_ref = lip_scores(narrow, None, narrow)
    assert len(no_ref["open_closed"]) == 18 and no_ref["hits"] == [] and no_ref["jaw_corr"] is None
    # pooled over frames, not averaged per clip
    pooled = lip_summary([lip_scores(target, None, target), lip_scores(np.zeros((5, 52)), None, target[:5])])
    assert pooled["open_aperture_pred"] == pytest.approx(0.45 * 35 / 40)
    with pytest.raises(ValueError):
        lip_scores(target, None)


def test_evaluate_reports_lip_opening_per_part_and_accuracy_per_voice(tiny_corpus, tmp_path):
    res = evaluate(tiny_corpus, paths.default_checkpoint(), limit=4)
    assert list(res) == ["synthetic", "natural", "real"]
    manifest = corpus.load_manifest(tiny_corpus)
    natural = [r for r in manifest["clips"] if r["split"] == "test_natural"]
    parts = ["synthetic", "real"] + (["natural"] if natural else [])
    if not natural:  # the natural voices (flite, festival) are not installed
        assert res["natural"] == {}
    for part in parts:
        figures = res[part]
        assert LIP_KEYS <= set(figures), part
        assert 0.0 <= figures["open_frames_closed_rate"] <= 1.0
        assert figures["open_aperture_ratio"] == pytest.approx(figures["open_aperture_pred"]
                                                               / figures["open_aperture_target"])
        assert 0.0 < figures["open_aperture_ratio"] < 2.0 and figures["open_aperture_target"] > OPEN_APERTURE
    assert res["synthetic"]["emotion_accuracy_by_voice"].keys() == {"24"}
    assert res["synthetic"]["clips"] == 4 and res["synthetic"]["swap_pairs"] == 4
    if natural:
        assert res["natural"]["split"] == "test_natural"
        assert res["natural"]["emotion_accuracy_by_voice"].keys() == {natural[0]["voice"]}
    assert {"bilabial_hit_rate", "jaw_open_correlation", "lve"} <= set(res["real"]) | set(res["synthetic"])
    # a corpus without natural clips: nothing to report
    no_natural = dict(manifest, clips=[r for r in manifest["clips"] if r["kind"] != "natural"])
    assert synthetic(None, no_natural, "test_natural") == {}
    # --splits: only the parts asked for
    out = tmp_path / "eval.json"
    assert main([str(tiny_corpus), "--splits", "real", "--out", str(out)]) == 0
    assert list(json.loads(out.read_text())) == ["real"]
    with pytest.raises(SystemExit):
        main([str(tiny_corpus), "--splits", "real,speaker"])


def test_demo_sheet_renders_open_and_closed_frames_with_the_lip_plot(tmp_path):
    pytest.importorskip("bpy")
    import matplotlib.image

    out = tmp_path / "sheet.png"
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "render_demo_sheet.py"), "--frames", "4",
                          "--cell", "96", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    seconds = time.perf_counter() - t0
    lines = [line for line in run.stdout.splitlines() if " s  " in line]
    kinds = [("open" if " open (" in line else "closed" if " closed (" in line else "?") for line in lines]
    assert sorted(kinds) == ["closed", "closed", "open", "open"], run.stdout
    # the sample has a transcript: every frame is named by its aligned phone, open vowels open, p/b/m closed
    phones = [line.split("  ")[2].split(" ")[0].strip("/").upper() for line in lines]
    sys.path.insert(0, str(REPO / "scripts"))
    import render_demo_sheet as demo

    assert all((ph in demo.OPEN_VOWELS) == (k == "open") and (ph in demo.BILABIALS) == (k == "closed")
               for ph, k in zip(phones, kinds)), run.stdout
    frames = [int(line.split("  ")[0].removeprefix("f ")) for line in lines]
    assert frames == sorted(frames)  # time order
    img = matplotlib.image.imread(out)
    assert img.shape[1] == 4 * 96 and img.shape[0] > 96 + 150
    tiles, strip = img[:96], img[96:]
    assert tiles.std() > 0.05 and strip.std() > 0.05  # a rendered head and a drawn plot, not a blank
    assert seconds < 60, seconds


def test_aligned_picking_takes_open_vowels_widest_and_bilabials_least():
    sys.path.insert(0, str(REPO / "scripts"))
    import render_demo_sheet as demo
    from emotalk_blender.training.espeak import Phone

    aperture = np.full(90, 0.3)
    aperture[10:20], aperture[14] = 0.5, 0.8  # /aa/ at frames 10-19, widest at 14
    aperture[31] = 0.02  # the /m/ (frames 30-32) closes on frame 31
    aperture[60:70] = 0.6  # /iy/: wide but not an open vowel, never picked as one
    phones = [Phone("SIL", 0.0, 10 / 30), Phone("AA1", 10 / 30, 20 / 30), Phone("T", 20 / 30, 30 / 30),
              Phone("M", 30 / 30, 33 / 30), Phone("EH", 33 / 30, 60 / 30), Phone("IY", 60 / 30, 70 / 30)]
    assert demo.pick_aligned(aperture, phones, 2) == [(14, "open", "AA"), (31, "closed", "M")]
    with pytest.raises(ValueError, match="no open vowel or no p/b/m"):
        demo.pick_aligned(aperture, phones[:3], 2)


def test_frame_picking_spreads_open_and_closed_frames():
    sys.path.insert(0, str(REPO / "scripts"))
    import render_demo_sheet as demo

    t = np.arange(120)
    aperture = 0.3 + 0.2 * np.sin(t / 5.0)
    aperture[40:43] = 0.0  # a closure; the frames beside it are nearly closed too
    rms = np.where((t > 10) & (t < 100), 0.2, 0.0)
    rms[40:45] = 0.001  # a silent /p/ closure: still speech
    speech = demo.speech_mask(rms)
    assert speech[40:45].all() and not speech[:11].any() and not speech[100:].any()
    aperture[105:] = -0.1  # shut after the speech: never picked as closed
    picks = demo.pick_frames(aperture, speech, 6)
    assert [f for f, _ in picks] == sorted(f for f, _ in picks)
    closed = [f for f, k in picks if k == "closed"]
    opened = [f for f, k in picks if k == "open"]
    assert len(closed) == 3 == len(opened) and 40 in closed
    assert all(speech[f] for f in closed)
    assert all(abs(a - b) >= demo.SEPARATION for group in (closed, opened) for a in group for b in group if a != b)
    assert all(aperture[f] > 0.45 for f in opened)
