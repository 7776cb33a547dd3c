"""The gen3 evaluation parts (training/evaluate_gen3.py) on hand-made predictions and a small corpus."""
from __future__ import annotations

import json

import numpy as np
import pytest

from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.training import evaluate_gen3 as g3

torch = pytest.importorskip("torch")


def test_face_scores_follow_the_capture():
    rng = np.random.default_rng(0)
    t = np.zeros((120, 52), np.float32)
    t[:, INDEX["jawOpen"]] = np.abs(np.sin(np.arange(120) / 5))
    t[:, INDEX["mouthPucker"]] = np.abs(np.cos(np.arange(120) / 7))
    good = t + rng.normal(0, 0.02, t.shape).astype(np.float32)
    s = g3.face_scores(good, t, raw=0.3 * t)
    assert s["jaw_r"] > 0.95 and s["opening_r"] > 0.9 and s["rounding_r"] > 0.9
    assert s["jaw_r_raw_capture"] == pytest.approx(s["jaw_r"], abs=1e-6)  # r does not see a gain
    flat = g3.face_scores(np.zeros_like(t), t)
    assert flat["jaw_r"] == 0.0  # a frozen face correlates with nothing


def test_emotion_summary_counts_confident_mistakes():
    rows = [(np.array([0.9, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01]), 4),  # sure and wrong
            (np.array([0.1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1]), 4),  # unsure and right
            (np.array([0.3, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1]), 4)]  # unsure and wrong
    s = g3.summary(rows)
    assert s["accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["confident_wrong"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["read_as"] == {"angry": 2, "neutral": 1}


def test_languages_part_on_a_small_corpus(tmp_path, tiny_checkpoint):
    from emotalk_blender.engine.pipeline import load_model
    from emotalk_blender.training import gen3
    from emotalk_blender.training.corpus import ClipPlan, load_manifest, render

    plans = [p for p in gen3._plan_languages(0, ClipPlan)
             if p.split == "test_language" and p.sentence == 1 and p.emotion in ("neutral", "happy") and p.level == 1
             or (p.split == "test_language" and p.sentence == 1 and p.emotion == "neutral")]
    rows, refs = [], {}
    for name, res, err in render(plans, tmp_path, 1):
        assert err is None
        rows.append(res[0])
        if res[2] is not None:
            refs[name] = res[2]
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 1, "clips": rows}))
    (tmp_path / "real_reference.json").write_text(json.dumps(refs))
    out = g3.languages(load_model(tiny_checkpoint), load_manifest(tmp_path))
    assert set(out) == set(gen3.HELD_OUT_LANGUAGES) | {"pooled"}
    assert out["pooled"]["bilabial_closures"] > 0 and 0 <= out["pooled"]["bilabial_hit_rate"] <= 1
    assert out["it"]["clips"] == 1 and 0 <= out["it"]["emotion_accuracy"] <= 1
