"""Ingredient screens (training/ingredients.py): a view of a corpus without one kind of training clip."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from emotalk_blender.training import ingredients
from emotalk_blender.training.corpus import epoch_pairs, load_manifest


def _corpus(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    clips = []
    for name, kind, split in [("g1", "video", "train_real"), ("g2", "video", "test_grid"),
                              ("e1", "emodb", "train"), ("r1", "real", "train_real")]:
        sf.write(root / f"{name}.wav", np.zeros(1600, np.float32), 16000)
        np.save(root / f"{name}.npy", np.zeros((3, 52), np.float32))
        clips.append({"name": name, "kind": kind, "split": split, "speaker": 99, "person": 0, "emotion": "neutral",
                      "level": 0, "sentence": -1})
    (root / "manifest.json").write_text(json.dumps({"format_version": 1, "clips": clips}))
    return root


def test_a_view_leaves_out_only_that_kinds_training_clips(tmp_path):
    root = _corpus(tmp_path)
    view = ingredients.view_without(root, tmp_path / "no_video", "video")
    m = load_manifest(view)
    assert sorted(r["name"] for r in m["clips"]) == ["e1", "g2", "r1"]  # the held-out GRID clip stays
    assert m["without"] == "video"
    assert (view / "g2.wav").resolve() == (root / "g2.wav").resolve()  # the same files, linked
    names = {p.target11.stem for p in epoch_pairs(m)}
    assert names == {"e1", "r1"}
    whole = load_manifest(ingredients.view_without(root, tmp_path / "all", None))
    assert {p.target11.stem for p in epoch_pairs(whole)} == {"g1", "e1", "r1"}
    assert json.loads((root / "manifest.json").read_text()).get("without") is None  # the corpus is untouched


def test_the_summary_reads_evaluate_output():
    res = {"grid": {"jaw_r": 0.7, "opening_r": 0.6, "rounding_r": 0.5},
           "ljspeech": {"bilabial_hit_rate": 0.9, "open_frames_closed_rate": 0.1},
           "emotion_real": {"grid": {"raw": {"accuracy": 1.0}},
                            "emodb": {"raw": {"accuracy": 0.5, "confident_wrong": 0.2}}}}
    s = ingredients.summary(res)
    assert s["grid_jaw_r"] == 0.7 and s["lj_open_shut"] == 0.1 and s["emodb_accuracy"] == 0.5
    assert s["lj_neutral"] is None
