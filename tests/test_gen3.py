"""Third-generation corpus sources (training/gen3.py): languages through the IPA viseme table, EmoDB
labels and padding, codec/microphone augmentation, and the gen3 plan."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.engine.constants import SAMPLE_RATE
from emotalk_blender.training import augment_real, gen3
from emotalk_blender.training.visemes import lip_aperture
from emotalk_blender.training.visemes_ipa import ipa_visemes, unknown_letters


def test_ipa_table_reads_phones_by_place_and_vowel_quality():
    assert ipa_visemes("p") == ("PBM",) and ipa_visemes("m") == ("PBM",)
    assert ipa_visemes("f") == ("FV",) and ipa_visemes("θ") == ("TH",)
    assert ipa_visemes("tʃ") == ("SH",) and ipa_visemes("tɕ") == ("SH",) and ipa_visemes("ts") == ("SZ",)
    assert ipa_visemes("aɪ") == ("AA", "IH") and ipa_visemes("eɪ") == ("EH", "IH")  # a diphthong: two shapes
    assert ipa_visemes("o̞") == ("OW",) and ipa_visemes("ɯᵝ") == ("IH",) and ipa_visemes("y") == ("UW",)
    assert ipa_visemes("dʲ") == ("TDN",) and ipa_visemes("ɔ̃") == ("AO",) and ipa_visemes("iː") == ("IY",)
    assert ipa_visemes("") == ("sil",) and ipa_visemes("(en)") == ("sil",)


def test_languages_cover_many_families_and_hold_three_out():
    langs = set(gen3.LANGUAGES)
    assert len(langs) >= 12 + 3 and not any(code.startswith("en") for code in langs)
    assert set(gen3.HELD_OUT_LANGUAGES) <= langs and len(gen3.HELD_OUT_LANGUAGES) == 3
    assert {"cmn-latn-pinyin", "ja", "hi", "ru", "de", "fr"} <= langs


def test_every_language_speaks_in_ipa_the_table_knows():
    from emotalk_blender.training.corpus import ClipPlan, render

    # one clip per language (a forked child each: IPA events never leak into English mnemonics)
    plans = {}
    for p in gen3._plan_languages(0, ClipPlan):
        plans.setdefault(p.voice, p)
    rows = {}
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        for name, res, err in render(list(plans.values()), tmp, 1):
            assert err is None, err
            row, alignment, _ = res
            rows[row["language"]] = (alignment, np.load(Path(tmp) / f"{name}.npy"))
    assert set(rows) == set(gen3.LANGUAGES)
    for lang, (alignment, face) in rows.items():
        symbols = [p[0] for p in alignment["phones"]]
        assert alignment["alphabet"] == "ipa" and not unknown_letters(symbols), lang
        assert not any(s.startswith("(") for s in symbols), f"{lang}: espeak switched language"
        ap = lip_aperture(face)
        assert ap.max() > 0.2, f"{lang}: the mouth never opens"
        for a, b in alignment["bilabial_frames"]:
            assert ap[a:b + 1].min() < 0.1, f"{lang}: a bilabial at frames {a}-{b} is not closed"


def test_english_mnemonics_stay_after_an_ipa_clip():
    from emotalk_blender.training.corpus import ClipPlan, plan, render

    lang = next(p for p in gen3._plan_languages(0, ClipPlan) if p.voice == "it")
    eng = next(p for p in plan("tiny", 0) if p.kind == "synthetic")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = {name: res for name, res, err in render([lang, eng], tmp, 1)}
    assert out[eng.name][1]["alphabet"] == "espeak"
    assert all(s[0].isascii() for s in out[eng.name][1]["phones"])


def test_emodb_labels_from_the_sixth_letter():
    assert gen3.emodb_label("03a01Fa") == ("03", "a01", "happy")  # F is happiness (Freude), not disgust
    assert gen3.emodb_label("16b10Wb") == ("16", "b10", "angry")
    assert gen3.emodb_label("08a02Ec")[2] == "disgust" and gen3.emodb_label("11b03Ta")[2] == "sad"
    assert gen3.emodb_label("12a05La")[2] is None  # boredom: no class in the model, left out
    with pytest.raises(ValueError):
        gen3.emodb_label("abc")


def test_emodb_plan_splits_by_speaker(tmp_path):
    from emotalk_blender.training.corpus import ClipPlan

    import soundfile as sf

    d = tmp_path / "emodb"
    d.mkdir()
    x = np.r_[0.1 * np.sin(np.arange(22050) / 7.0), np.zeros(22050)].astype(np.float32)
    for stem in ("03a01Fa", "03a01Na", "09a01Wa", "09a02Ta", "12a01La"):
        sf.write(str(d / f"{stem}.wav"), x, 22050)
    plans = gen3._plan_emodb(d, 0, ClipPlan)
    splits = Counter((p.name[6:8], p.split) for p in plans)
    assert splits == {("03", "test_emodb"): 2, ("09", "train"): 2 * gen3.EMODB_COPIES}
    assert not any("12a01La" in p.name for p in plans)
    audio = gen3.load_emodb(str(d / "03a01Fa.wav"))
    assert abs(len(audio) / SAMPLE_RATE - 1.0) < 0.01  # the zero tail is gone


def test_strip_zero_tail_and_warp():
    x = np.r_[np.zeros(5), np.ones(10), np.zeros(30)]
    assert len(gen3.strip_zero_tail(x)) == 15
    from emotalk_blender.training.espeak import Phone

    ph = [Phone("a", 0.2, 0.4), Phone("b", 0.4, 1.2)]
    w = gen3.warped_phones(ph, (0.2, 1.2), (0.5, 1.0))
    assert w[0].start == pytest.approx(0.5) and w[-1].end == pytest.approx(1.0) and w[0].end == pytest.approx(0.6)


def _tone():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t) * ((t > 0.3) & (t < 0.6))).astype(np.float32)


@pytest.mark.parametrize("codec,kbps", [("mp3", 32), ("opus", 12), ("mulaw", 64)])
def test_codec_round_trip_keeps_length_and_timing(codec, kbps):
    x = _tone()
    y = augment_real.codec_round_trip(x, codec, kbps)
    assert len(y) == len(x)
    lag = np.correlate(y, x, "full").argmax() - (len(x) - 1)
    assert abs(lag) <= 2  # samples: the codec's delay is removed
    assert np.corrcoef(x, y)[0, 1] > 0.9


def test_microphone_colours_but_keeps_length():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    spec = {"mic": {"highpass_hz": 150.0, "peaks": [[2000.0, 7.0, 1.0]], "lowpass_hz": 5000.0}}
    y = augment_real.apply(x, spec, rng)
    assert len(y) == len(x)
    f = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    gain = np.abs(np.fft.rfft(y)) / (np.abs(np.fft.rfft(x)) + 1e-9)
    near = lambda lo, hi: np.median(gain[(f > lo) & (f < hi)])  # noqa: E731
    assert near(1900, 2100) > 2.0 and near(1900, 2100) > 1.5 * near(500, 700)  # +7 dB presence peak
    assert near(20, 60) < 0.2 and near(7000, 7900) < 0.5  # high-pass and low-pass


def test_draw_is_reproducible_and_records_codecs():
    specs = [augment_real.draw(np.random.default_rng(s), 1.0) for s in range(200)]
    assert specs == [augment_real.draw(np.random.default_rng(s), 1.0) for s in range(200)]
    names = Counter(s["codec"]["name"] for s in specs if "codec" in s)
    assert set(names) == set(augment_real.CODECS)
    assert sum("mic" in s for s in specs) > 40


def test_gen3_plan_adds_languages_and_tiny_is_unchanged():
    from emotalk_blender.training.corpus import plan

    tiny = plan("tiny", 0)
    assert not any(p.kind in gen3.KINDS for p in tiny)
    extra = gen3.plan(None, 0, __import__("emotalk_blender.training.corpus", fromlist=["ClipPlan"]).ClipPlan)
    kinds = Counter((p.kind, p.split) for p in extra)
    assert kinds[("language", "test_language")] == 3 * 5 * 13
    assert {p.voice for p in extra if p.split == "test_language"} == set(gen3.HELD_OUT_LANGUAGES)
    assert INDEX["jawOpen"] >= 0
