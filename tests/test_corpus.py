"""The synthetic corpus builder: real espeak-ng speech, real pocketsphinx alignment, real files."""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emotalk_blender.engine.arkit import INDEX, NUM_BLENDSHAPES
from emotalk_blender.engine.constants import FPS, SAMPLE_RATE, frames_for_samples
from emotalk_blender.engine.errors import EmoTalkError
from emotalk_blender.training import augment, corpus, probe, real
from emotalk_blender.training.emotions import (
    EMOTIONS,
    HELD_OUT_SPEAKERS,
    SPEAKERS,
    TRAIN_SPEAKERS,
    colour_voice,
    speaker_voice,
)
from emotalk_blender.training.espeak import EspeakError, Voice, synthesize
from emotalk_blender.training.sentences import HELD_OUT_SENTENCES, SENTENCES
from emotalk_blender.training.visemes import CLOSED_APERTURE, VISEMES, espeak_visemes, lip_aperture, mouth_track

SEED = 3


def _has_real_speech() -> bool:
    try:
        return bool(real.load_prompts())
    except real.RealSpeechError:
        return False


needs_real = pytest.mark.skipif(not _has_real_speech(),
                                reason="asterisk-core-sounds-en(-wav) or pocketsphinx not installed")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    return corpus.build(out, "tiny", SEED, log=None) | {"root": str(out)}


def _rows(m, **where):
    return [r for r in m["clips"] if all(r[k] == v for k, v in where.items())]


def test_emotion_order_is_the_released_heads():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def test_speakers_are_unlike_voices_and_held_out_voices_are_new():
    """24 training voices, each its own espeak variant; the held-out voices are none of them."""
    train = [SPEAKERS[s] for s in TRAIN_SPEAKERS]
    assert len(train) == 24 and sorted(s.person for s in train) == list(range(24))
    assert len({s.variant for s in train}) == 24
    assert not {SPEAKERS[s].variant.lower() for s in HELD_OUT_SPEAKERS} & {s.variant.lower() for s in train}
    text = "Bob made a big map."
    f0 = [_f0(synthesize(text, speaker_voice(s, "neutral", 0)).audio) for s in TRAIN_SPEAKERS[::3]]
    assert max(f0) > 1.6 * min(f0)  # low and high voices alike


def test_clips_are_3d_etf_pairs_with_matching_lengths_and_values_in_range(tiny):
    root = Path(tiny["root"])
    assert len(tiny["clips"]) >= 100
    assert all(name.startswith("real_") for name in tiny["skipped"])  # only unalignable prompts may drop
    for r in tiny["clips"]:
        audio, sr = sf.read(root / f"{r['name']}.wav", dtype="float32")
        face = np.load(root / f"{r['name']}.npy")
        assert sr == SAMPLE_RATE and audio.ndim == 1
        assert face.dtype == np.float32 and face.shape == (frames_for_samples(len(audio)), NUM_BLENDSHAPES)
        assert face.min() >= 0.0 and face.max() <= 1.0
        assert r["frames"] == len(face)
        assert face[:, INDEX["jawOpen"]].std() > 0.02, f"{r['name']}: the jaw does not move"


def test_every_sentence_is_spoken_in_every_emotion_by_its_speaker(tiny):
    seen = defaultdict(set)
    for r in _rows(tiny, kind="synthetic"):
        seen[(r["speaker"], r["sentence"])].add((r["emotion"], r["level"]))
    assert seen and all(v == set(corpus.EMOTION_LEVELS) for v in seen.values())
    assert len(corpus.EMOTION_LEVELS) == 13  # 6 emotions x 2 levels + neutral


def test_cross_reconstruction_pairs_share_sentences_speaker_and_emotions(tiny):
    m = corpus.load_manifest(tiny["root"])
    by_name = {r["name"]: r for r in m["clips"]}
    pairs = corpus.epoch_pairs(m, "train", seed=1)
    cross = [p for p in pairs if p.input12 != p.input21]
    assert len(cross) >= len(_rows(m, split="train")) and any(p.input12 == p.input21 for p in pairs)  # real: self
    for p in pairs:
        i12, i21, t11, t12 = (by_name[x.stem] for x in (p.input12, p.input21, p.target11, p.target12))
        assert all(x.exists() for x in (p.input12, p.input21, p.target11, p.target12))
        assert p.input12.suffix == p.input21.suffix == ".wav" and p.target11.suffix == p.target12.suffix == ".npy"
        assert {i12["split"], t11["split"]} <= {"train", "train_real"}
        assert len({i12["speaker"], i21["speaker"], t11["speaker"], t12["speaker"]}) == 1 == 1
        assert i12["sentence"] == t11["sentence"] == t12["sentence"]  # c1
        assert i12["name"] == t12["name"]  # B(c1, e2) is the self-reconstruction target of A(c1, e2)
        assert EMOTIONS[p.emotion1] == t11["emotion"] == i21["emotion"]
        assert EMOTIONS[p.emotion2] == i12["emotion"]
        assert p.person == t11["person"] and p.level in (0, 1)
        if p in cross:
            assert i21["sentence"] != i12["sentence"] and p.emotion1 != p.emotion2
            assert all(x["emotion"] == "neutral" or x["level"] == p.level for x in (i12, i21, t11))
    assert corpus.epoch_pairs(m, "train", seed=1) == pairs and corpus.epoch_pairs(m, "train", seed=2) != pairs


def test_splits_hold_out_sentences_speakers_and_real_prompts(tiny):
    train = _rows(tiny, split="train")
    assert {r["sentence"] for r in train}.isdisjoint(HELD_OUT_SENTENCES)
    assert {r["sentence"] for r in _rows(tiny, split="val_sentence")} <= set(HELD_OUT_SENTENCES)
    test_spk = {r["speaker"] for r in _rows(tiny, split="test_speaker")}
    assert test_spk and test_spk.isdisjoint({r["speaker"] for r in train})
    assert {r["person"] for r in _rows(tiny, split="test_speaker")} <= set(range(24))


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def test_bilabial_phoneme_events_close_the_lips_when_the_audio_is_closed():
    utt = synthesize("Pam ate a big apple by the pool.", Voice())
    n = frames_for_samples(len(utt.audio))
    face, spans = mouth_track(utt.phones, "espeak", n)
    ap = lip_aperture(face)
    stops = [p for p in utt.phones if p.symbol in ("p", "b")]
    assert len(stops) == 5 and len(spans) == 6  # P-a-m, b-i-g, a-pp-le, b-y, p-ool
    loud = np.median([_rms(utt.audio[int(p.start * SAMPLE_RATE):int(p.end * SAMPLE_RATE)]) for p in utt.phones
                      if espeak_visemes(p.symbol)[0] in ("AA", "AE", "AH", "IH", "UW")])
    for p in stops:
        # The seal sits at the stop's closure, found near its phoneme event where the audio is quiet:
        # the event times are real, and the lips are shut there.
        a, b = p.closure
        assert p.start - 0.1 <= a and b <= p.end + 0.1, p
        assert _rms(utt.audio[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)]) < 0.35 * loud, p
        f = int(round(0.5 * (a + b) * FPS))
        assert ap[f] < CLOSED_APERTURE, (p, ap[f - 2:f + 3])
        assert lip_aperture(face[f - 6:f - 3]).max() > CLOSED_APERTURE or f < 6  # open before: a real closing gesture
    vowels = [p for p in utt.phones if espeak_visemes(p.symbol)[0] in ("AA", "AE", "AO") and p.end - p.start > 0.06]
    assert vowels and all(ap[int(round(0.5 * (v.start + v.end) * FPS))] > 2 * CLOSED_APERTURE for v in vowels)


def test_bilabial_closures_survive_emotion_style_and_smoothing_in_the_corpus(tiny):
    root = Path(tiny["root"])
    align = json.loads((root / "alignments.json").read_text())
    met = total = 0
    for r in tiny["clips"]:
        ap = lip_aperture(np.load(root / f"{r['name']}.npy"))
        for a, b in align[r["name"]]["bilabial_frames"]:
            total += 1
            met += ap[a:b + 1].min() < CLOSED_APERTURE
    assert total > 300 and met / total > 0.97, (met, total)


def _f0(audio):
    """Median F0 (Hz) of voiced 40 ms frames by autocorrelation, 60-500 Hz."""
    out, hop, win = [], 320, 640
    thr = 0.3 * _rms(audio)
    for s in range(0, len(audio) - win, hop):
        x = audio[s:s + win] - audio[s:s + win].mean()
        if _rms(x) < thr:
            continue
        ac = np.correlate(x, x, "full")[win - 1:]
        lo, hi = SAMPLE_RATE // 500, SAMPLE_RATE // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            out.append(SAMPLE_RATE / lag)
    return float(np.median(out))


def test_emotion_is_audible_in_pitch_rate_and_loudness():
    text = SENTENCES[0]
    u = {e: synthesize(text, speaker_voice(2, e, 1)).audio for e in ("angry", "happy", "neutral", "sad", "surprise")}
    assert len(u["sad"]) > 1.15 * len(u["neutral"]) > 1.15 * len(u["angry"])  # slower, with pauses
    assert _f0(u["happy"]) > 1.15 * _f0(u["sad"]) and _f0(u["surprise"]) > 1.1 * _f0(u["neutral"])
    assert _rms(u["angry"]) > 1.5 * _rms(u["sad"])
    low = synthesize(text, speaker_voice(2, "sad", 0)).audio
    assert len(u["neutral"]) < len(low) < len(u["sad"])  # the intensity level is audible too


def _high_fraction(y):
    spec = np.abs(np.fft.rfft(y)) ** 2
    return spec[np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE) > 2000].sum() / spec.sum()


def _modulation(y, lo, hi):
    """Share of the loudness envelope's modulation (1-50 Hz) that lies between lo and hi Hz."""
    env = np.sqrt(np.convolve(y.astype(np.float64) ** 2, np.ones(160) / 160, "same"))[::160]  # 100 Hz
    spec = np.abs(np.fft.rfft(env - env.mean())) ** 2
    f = np.fft.rfftfreq(len(env), 1 / 100)
    return spec[(f >= lo) & (f <= hi)].sum() / spec[(f > 1) & (f < 50)].sum()


def test_voice_quality_marks_each_emotion_and_keeps_the_timing():
    x = synthesize(SENTENCES[0], speaker_voice(2, "neutral", 0)).audio  # one voice: only the quality differs
    out = {(e, lv): colour_voice(x, e, lv, np.random.default_rng(0)) for e in EMOTIONS for lv in (0, 1)}
    assert all(len(y) == len(x) for y in out.values())  # motion frames depend on the length
    assert np.array_equal(out["neutral", 1], x)
    hf = {k: _high_fraction(y) for k, y in out.items()}
    base = _high_fraction(x)
    assert hf["happy", 1] > hf["happy", 0] > 1.3 * base  # bright, more so at the high level
    assert hf["sad", 1] < 0.9 * base  # dark
    crest = lambda y: np.abs(y).max() / np.sqrt(np.mean(y ** 2))  # noqa: E731
    assert crest(out["angry", 1]) < 0.7 * crest(x)  # tense, saturated phonation
    assert _modulation(out["fear", 1], 5.5, 7.5) > 1.5 * _modulation(x, 5.5, 7.5)  # tremor
    assert _modulation(out["disgust", 1], 28, 47) > 4 * _modulation(x, 28, 47)  # roughness


def test_probe_hears_voice_quality_and_scores_held_out_voices(tiny):
    x = synthesize(SENTENCES[0], speaker_voice(2, "neutral", 0)).audio
    f = probe.features(x)
    assert np.allclose(f, probe.features(0.3 * x), atol=1e-3)  # the level is the voice's, not the emotion's
    tremor = probe.MODULATION_START + probe.MODULATION_BANDS.index((4, 8))
    assert len(f) == probe.MODULATION_START + len(probe.MODULATION_BANDS)  # the bands end the vector
    feared = probe.features(colour_voice(x, "fear", 1, np.random.default_rng(0)))
    assert feared[tremor] > f[tremor] + 0.25  # 4-8 Hz modulation up by a third
    result = probe.probe(tiny)
    assert result["clips_test"] == len(_rows(tiny, split="test_speaker"))
    assert sum(map(sum, result["emotion_confusion"]["matrix"])) == result["clips_test"]
    assert result["train_accuracy"] > 0.9 and result["emotion_accuracy"] > 2 / 7  # held-out voice: twice chance


def test_build_is_deterministic_from_the_seed(tiny, tmp_path):
    plan = corpus.plan("tiny", SEED)
    assert plan == corpus.plan("tiny", SEED) and plan != corpus.plan("tiny", SEED + 1)
    root = Path(tiny["root"])
    picks = [c for c in plan if c.kind == "synthetic"][::25] + [c for c in plan if c.kind == "real"][:1]
    # Spoken in another order, on another worker count, after other speech: the same bytes.
    results = list(corpus.render(picks[::-1], tmp_path, workers=2))
    assert all(res is not None for _, res, _ in results)
    for clip in picks:
        for ext in (".wav", ".npy"):
            a, b = (hashlib.sha256((d / f"{clip.name}{ext}").read_bytes()).hexdigest() for d in (root, tmp_path))
            assert a == b, clip.name


def test_augmentation_keeps_length_and_band_limits_the_telephone():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    y = augment.apply(x, {"telephone": True, "gain_db": 0.0}, np.random.default_rng(1))
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE)
    assert len(y) == len(x) and spec[f > 4500].sum() < 0.01 * spec[(f > 500) & (f < 3000)].sum()
    spec_all = {"gain_db": 3.0, "noise_snr_db": 20.0, "noise_colour": "pink", "reverb_rt60": 0.4, "reverb_wet": 0.3}
    a, b = (augment.apply(x, spec_all, np.random.default_rng(5)) for _ in range(2))
    assert len(a) == len(x) and np.array_equal(a, b) and np.abs(a).max() <= 0.99 and not np.allclose(a, x)


def test_sentences_cover_english_visemes_and_many_bilabials():
    assert len(SENTENCES) >= 300 and len(set(SENTENCES)) == len(SENTENCES)
    counts: dict[str, int] = defaultdict(int)
    for s in SENTENCES[::3]:
        for p in synthesize(s).phones:
            for v in espeak_visemes(p.symbol):
                counts[v] += 1
    assert set(counts) == set(VISEMES), set(VISEMES) - set(counts)
    assert counts["PBM"] > 0.08 * sum(counts.values())
    assert min(counts[v] for v in ("UW", "OW", "AO", "W", "FV", "TH", "SH")) >= 20


@needs_real
def test_real_prompts_align_and_export_a_reference(tiny):
    refs = json.loads((Path(tiny["root"]) / "real_reference.json").read_text())
    tests = _rows(tiny, split="test_real")
    assert tests and set(refs) == {r["name"] for r in tests}
    assert not {r["name"] for r in tests} & {r["name"] for r in _rows(tiny, split="train_real")}
    for r in tests:
        ref = refs[r["name"]]
        assert len(ref["jaw_open"]) == r["frames"] and not r["augmentation"]
    # Alignment of a known prompt: "please enter your password followed by the pound key".
    prompt = {p.name: p for p in real.load_prompts()}["agent-pass"]
    audio = real.load_audio(prompt.path)
    phones = real.align(audio, prompt.words)
    syms = [p.symbol for p in phones if p.symbol != "SIL"]
    assert syms[:3] == ["P", "L", "IY"] and "B" in syms
    assert all(a.end <= b.start + 1e-9 for a, b in zip(phones, phones[1:]))
    face, spans = mouth_track(phones, "arpabet", frames_for_samples(len(audio)))
    env = np.array([_rms(audio[int(i * SAMPLE_RATE / FPS):int((i + 1) * SAMPLE_RATE / FPS)]) for i in range(len(face))])
    assert np.corrcoef(env, face[:, INDEX["jawOpen"]])[0, 1] > 0.3  # the jaw follows the real voice
    assert len(spans) == sum(s in ("P", "B", "M") for s in syms)


def test_bad_input_gives_clear_errors(tmp_path):
    with pytest.raises(corpus.CorpusError, match=str(tmp_path)):
        corpus.load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(EmoTalkError, match="manifest.json"):
        corpus.load_manifest(tmp_path)
    with pytest.raises(corpus.CorpusError, match="huge"):
        corpus.plan("huge", 0)
    with pytest.raises(EspeakError, match="no-such-voice"):
        synthesize("hello", Voice(name="no-such-voice"))
