"""Natural voices (Debian flite and festival): real synthesiser subprocesses, their own phone timings."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emotalk_blender.engine.constants import FPS, SAMPLE_RATE, frames_for_samples
from emotalk_blender.training import corpus, natural
from emotalk_blender.training.sentences import HELD_OUT_SENTENCES
from emotalk_blender.training.visemes import CLOSED_APERTURE, lip_aperture, mouth_track

from test_corpus import _f0, _rms

AVAILABLE = natural.available()
needs = pytest.mark.skipif(not AVAILABLE, reason="flite/festival not installed (make deps)")
TEXT = "Please bring the map, but keep it quiet."


def test_held_out_voices_are_speakers_no_training_voice_shares():
    """One flite and one festival voice held out entirely, and no training voice is the same person."""
    held = {natural.VOICES[v].engine for v in natural.HELD_OUT_VOICES}
    assert held == {"flite", "festival"}
    person = {"flite_kal16": "kal", "festival_kal": "kal", "flite_slt": "slt", "festival_slt_hts": "slt",
              "flite_rms": "rms", "flite_awb": "awb", "festival_ked": "ked"}
    assert set(person) == set(natural.VOICES)
    assert not {person[v] for v in natural.HELD_OUT_VOICES} & {person[v] for v in natural.TRAIN_VOICES}
    speakers = natural.NATURAL_SPEAKERS
    assert all(0 <= s.person < 24 for s in speakers)
    assert len({(s.voice, s.pitch, s.rate) for s in speakers}) == len(speakers)  # every variant its own speaker


@needs
@pytest.mark.parametrize("voice", sorted(natural.VOICES))
def test_every_voice_speaks_with_a_phone_timeline_covering_its_audio(voice):
    if voice not in AVAILABLE:
        pytest.skip(f"{voice} not installed")
    utt = natural.synthesize(TEXT, voice)
    assert utt.audio.dtype == np.float32 and len(utt.audio) > SAMPLE_RATE
    assert utt.phones[0].start == 0.0 and abs(utt.phones[-1].end - utt.duration) < 1e-6
    assert all(a.end == b.start for a, b in zip(utt.phones, utt.phones[1:]))  # contiguous
    symbols = [p.symbol for p in utt.phones]
    assert symbols[0] == "pau" and {"p", "b", "m"} <= set(symbols)
    # each stop the synthesiser timed holds a quiet closure (lips shut) inside its segment
    loud, win = _rms(utt.audio), int(0.02 * SAMPLE_RATE)
    for p in utt.phones:
        if p.symbol in ("p", "b") and p.end - p.start > 0.04:
            seg = utt.audio[int(p.start * SAMPLE_RATE):int(p.end * SAMPLE_RATE)]
            quietest = min(_rms(seg[i:i + win]) for i in range(0, len(seg) - win + 1, win // 4))
            assert quietest < 0.5 * loud, (voice, p)


@needs
def test_emotions_move_pitch_rate_and_pauses_on_a_natural_voice():
    spk = natural.NATURAL_SPEAKERS[0]
    voice = "flite_slt"
    u = {e: natural.synthesize(TEXT, voice, natural.request(spk, e, 1)).audio for e in ("neutral", "sad", "surprise",
                                                                                          "angry")}
    assert _f0(u["surprise"]) > 1.15 * _f0(u["neutral"]) > 1.1 * _f0(u["sad"])
    assert len(u["sad"]) > 1.2 * len(u["neutral"]) > 1.1 * len(u["angry"])


@needs
def test_a_voice_without_pitch_control_takes_its_pitch_by_resampling_at_the_asked_rate():
    """flite's rms ignores intonation targets: its pitch comes from resampling, its rate still holds."""
    req = natural.Request(pitch=1.0, resample=1.25)
    plain, shifted = natural.synthesize(TEXT, "flite_rms"), natural.synthesize(TEXT, "flite_rms", req)
    assert _f0(shifted.audio) == pytest.approx(1.25 * _f0(plain.audio), rel=0.08)
    assert shifted.duration == pytest.approx(plain.duration, rel=0.05)


@needs
def test_pauses_are_inserted_inside_phrase_pauses_and_shift_the_timeline():
    plain = natural.synthesize(TEXT, "flite_slt")
    paused = natural.synthesize(TEXT, "flite_slt", natural.Request(pause_ms=300))
    interior = sum(1 for i, p in enumerate(plain.phones) if p.symbol == "pau" and 0 < i < len(plain.phones) - 1)
    assert interior >= 1  # the comma
    assert len(paused.audio) - len(plain.audio) == interior * int(0.3 * SAMPLE_RATE)
    assert [p.symbol for p in paused.phones] == [p.symbol for p in plain.phones]
    assert paused.phones[-1].end == pytest.approx(plain.phones[-1].end + 0.3 * interior, abs=1e-6)


@needs
def test_natural_faces_close_the_lips_on_the_synthesisers_bilabials():
    utt = natural.synthesize(TEXT, "flite_slt")
    n = frames_for_samples(len(utt.audio))
    mouth, spans = mouth_track(utt.phones, "arpabet", n)
    ap = lip_aperture(mouth)
    assert len(spans) >= 3  # p(lease), b(ring), m(ap), b(ut), ...
    for a, b in spans:
        assert ap[int(round(0.5 * (a + b) * FPS))] < CLOSED_APERTURE


def test_unknown_voice_is_one_clear_error():
    with pytest.raises(natural.NaturalVoiceError, match="unknown natural voice 'flite_xyz'"):
        natural.synthesize(TEXT, "flite_xyz")


@needs
def test_tiny_corpus_holds_natural_voices_out_by_voice_and_sentence(tmp_path):
    plans = corpus.plan("tiny", 3)
    nat = [c for c in plans if c.kind == "natural"]
    assert nat and {c.split for c in nat} == {"train", "val_sentence", "test_natural"}
    test_voices = {c.voice for c in nat if c.split == "test_natural"}
    assert test_voices <= set(natural.HELD_OUT_VOICES)
    assert not test_voices & {c.voice for c in nat if c.split != "test_natural"}
    assert {c.sentence for c in nat if c.split == "test_natural"} <= set(HELD_OUT_SENTENCES)
    # a natural clip is made like a synthetic one: audio, face and row
    clip = next(c for c in nat if c.split == "test_natural" and c.emotion == "happy")
    row, alignment, _ = corpus.make_clip(clip, Path(tmp_path))
    assert row["kind"] == "natural" and row["voice"] == clip.voice and row["engine"] == "flite"
    assert alignment["alphabet"] == "arpabet" and alignment["bilabial_frames"]
    face = np.load(tmp_path / f"{clip.name}.npy")
    assert face.shape == (row["frames"], 52)
