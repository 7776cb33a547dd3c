"""Natural voices: Debian's flite and festival voices, built from recordings of human speakers.

espeak-ng is a formant synthesiser: every espeak voice shares one glottal source and one set of
rules, so a recogniser trained on it alone hears "espeak", not a voice. flite (CMU: awb, kal16, rms,
slt) and festival (kal and ked diphone voices, the slt HTS voice) are concatenative or statistical
voices made from hours of one person's recorded speech. Each call returns the synthesiser's own
phone segments (``flite -psdur``; festival's ``utt.save.segs``), so the faces line up with the audio
without a forced aligner.

Emotions are carried as for espeak (emotions.EMOTION_VOICE, the same deltas): pitch level and range
through each synthesiser's intonation targets, rate through its duration stretch, loudness as a
gain, pauses inserted into the synthesiser's own phrase pauses, and the voice-quality filters
(emotions.colour_voice) applied afterwards by the corpus. Not carried: espeak's word gap (these
synthesisers have no such knob) and pitch range on flite's rms and festival's slt HTS voice: they
ignore intonation targets (the HTS engine's half-tone shift has no effect through festival 2.5), so
their pitch, for speaker variants and emotions alike, comes from resampling (formants move with it).

Held out entirely for evaluation: flite's awb (a Scottish male speaker heard in no other voice) and
festival's ked (American male, likewise); the training voices are flite kal16, rms, slt and
festival kal, slt-hts.
"""
from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from ..engine.constants import NUM_PERSONS, SAMPLE_RATE
from ..engine.errors import EmoTalkError
from .emotions import EMOTION_VOICE, intensity
from .espeak import Phone, Utterance

# for the install hint; `make deps` installs the same list (Makefile DEB_PACKAGES)
DEBIAN_PACKAGES = ("flite", "festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts")
# How the espeak deltas (espeak's 0..100 pitch scales) read as factors on a voice's own pitch
# level and range: +25 points (surprise) -> 1.3 x the pitch, -16 (sad) -> 0.81 x.
PITCH_PER_POINT = 0.012
RANGE_PER_POINT = 0.012
MIN_RANGE = 0.3


class NaturalVoiceError(EmoTalkError):
    """flite or festival (or one of their voices) is missing or failed."""


@dataclass(frozen=True)
class NaturalVoice:
    """One synthesiser voice. ``f0``/``f0_std``: the intonation targets it uses by default (Hz;
    festival's from its voice file, flite's measured as the median of one sentence), which the
    pitch factors scale. ``pitch``: whether the synthesiser follows intonation targets at all."""
    engine: str  # "flite" or "festival"
    name: str  # flite -voice NAME, or the festival voice function without "voice_"
    f0: float
    f0_std: float
    pitch: bool = True
    hts: bool = False  # festival HTS voice: rate by the engine's speed (its half-tone shift has no effect here)


VOICES: dict[str, NaturalVoice] = {
    "flite_kal16": NaturalVoice("flite", "kal16", 89.0, 12.0),
    "flite_rms": NaturalVoice("flite", "rms", 100.0, 25.0, pitch=False),
    "flite_slt": NaturalVoice("flite", "slt", 167.0, 25.0),
    "flite_awb": NaturalVoice("flite", "awb", 126.0, 25.0),
    "festival_kal": NaturalVoice("festival", "kal_diphone", 105.0, 14.0),
    "festival_slt_hts": NaturalVoice("festival", "cmu_us_slt_arctic_hts", 167.0, 25.0, pitch=False, hts=True),
    "festival_ked": NaturalVoice("festival", "ked_diphone", 105.0, 15.0),
}
HELD_OUT_VOICES = ("flite_awb", "festival_ked")
TRAIN_VOICES = tuple(v for v in VOICES if v not in HELD_OUT_VOICES)


@dataclass(frozen=True)
class Request:
    """What one synthesis asks for: factors on the voice's own pitch level, pitch range and speaking
    rate, a gain, silence added at each phrase pause (ms) and a resampling factor (> 1: audio played
    faster, pitch and formants up; the rate is compensated so ``rate`` still holds)."""
    pitch: float = 1.0
    pitch_range: float = 1.0
    rate: float = 1.0
    gain: float = 1.0
    pause_ms: float = 0.0
    resample: float = 1.0


@dataclass(frozen=True)
class NaturalSpeaker:
    """A voice with its own pitch/rate/loudness offsets (a further speaker) and a face style."""
    voice: str  # key of VOICES
    pitch: float
    rate: float
    gain: float
    person: int
    held_out: bool


FIRST_ID = 40  # natural speakers' ids in the manifest (espeak speakers are 0..27, the real prompts 28)
_VARIANTS = ((1.0, 1.0, 1.0), (0.88, 0.93, 0.8), (1.13, 1.08, 1.2))  # pitch, rate, gain


def _speakers() -> tuple[NaturalSpeaker, ...]:
    out = []
    for v in TRAIN_VOICES + HELD_OUT_VOICES:
        for k, (pitch, rate, gain) in enumerate(_VARIANTS[:3 if v in TRAIN_VOICES else 2]):
            person = (7 * len(out) + 5) % NUM_PERSONS  # a spread of trained face styles
            out.append(NaturalSpeaker(v, pitch, rate, gain, person, v in HELD_OUT_VOICES))
    return tuple(out)


NATURAL_SPEAKERS: tuple[NaturalSpeaker, ...] = _speakers()


def speaker_id(index: int) -> int:
    return FIRST_ID + index


def speaker_of(speaker_id_: int) -> NaturalSpeaker:
    return NATURAL_SPEAKERS[speaker_id_ - FIRST_ID]


def request(speaker: NaturalSpeaker, emotion: str, level: int) -> Request:
    """The synthesis request for ``speaker`` speaking with ``emotion`` at ``level`` (espeak's deltas)."""
    d, k = EMOTION_VOICE[emotion], intensity(level, voice=True)
    pause = d.comma_pause_ms if emotion == "neutral" else k * d.comma_pause_ms
    pitch = speaker.pitch * (1 + k * PITCH_PER_POINT * d.pitch)
    # A voice that ignores intonation targets takes its pitch by resampling (formants move with it).
    follows = VOICES[speaker.voice].pitch
    return Request(
        pitch=pitch if follows else 1.0,
        pitch_range=max(MIN_RANGE, 1 + k * RANGE_PER_POINT * d.pitch_range),
        rate=speaker.rate * (1 + k * (d.rate - 1)),
        gain=speaker.gain * (1 + k * (d.volume - 1)),
        pause_ms=pause, resample=1.0 if follows else pitch,
    )


def available() -> list[str]:
    """The voices this machine can speak (flite's voice list, festival's voice directories)."""
    out = []
    if shutil.which("flite"):
        listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
        out += [k for k, v in VOICES.items() if v.engine == "flite" and v.name in listed]
    if shutil.which("festival"):
        roots = [Path("/usr/share/festival/voices")]
        have = {p.name for r in roots if r.is_dir() for p in r.glob("*/*")}
        out += [k for k, v in VOICES.items() if v.engine == "festival" and v.name in have]
    return out


def _parse_flite(stdout: str) -> list[tuple[str, float]]:
    """flite -psdur: ``pau:0.254 hh:0.296 ...`` (phone and its end time in seconds)."""
    out = []
    for token in stdout.split():
        sym, sep, end = token.rpartition(":")
        if sep and sym:
            try:
                out.append((sym, float(end)))
            except ValueError:
                continue
    return out


def _parse_segs(text: str) -> list[tuple[str, float]]:
    """festival utt.save.segs: a header, ``#``, then ``END 100 PHONE`` lines."""
    body = text.split("#", 1)[1] if "#" in text else text
    out = []
    for line in body.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[2], float(parts[0])))
    return out


def _flite(voice: NaturalVoice, text: str, req: Request, rate: float, wav: Path) -> list[tuple[str, float]]:
    args = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={1 / rate:.4f}"]
    if voice.pitch:
        args += ["--setf", f"int_f0_target_mean={voice.f0 * req.pitch:.2f}",
                 "--setf", f"int_f0_target_stddev={voice.f0_std * req.pitch * req.pitch_range:.2f}"]
    res = subprocess.run(args + ["-t", text, "-o", str(wav), "-psdur"], capture_output=True, text=True)
    if res.returncode != 0 or not wav.exists():
        raise NaturalVoiceError(f"flite -voice {voice.name} failed: {res.stderr.strip()[:200]}")
    return _parse_flite(res.stdout)


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival(voice: NaturalVoice, text: str, req: Request, rate: float, wav: Path) -> list[tuple[str, float]]:
    segs = wav.with_suffix(".segs")
    lines = [f"(voice_{voice.name})"]
    if voice.hts:
        lines.append(f"(set! hts_engine_params (append hts_engine_params (list '(\"-r\" {rate:.4f}))))")
    else:
        lines.append(f"(Parameter.set 'Duration_Stretch {1 / rate:.4f})")
        lines.append(f"(set! int_lr_params '((target_f0_mean {voice.f0 * req.pitch:.2f}) "
                     f"(target_f0_std {voice.f0_std * req.pitch * req.pitch_range:.2f}) "
                     "(model_f0_mean 170) (model_f0_std 34)))")
    lines += [f"(set! utt (SynthText {_scheme_string(text)}))",
              f"(utt.save.wave utt {_scheme_string(str(wav))} 'riff)",
              f"(utt.save.segs utt {_scheme_string(str(segs))})"]
    script = wav.with_suffix(".scm")
    script.write_text("\n".join(lines) + "\n")
    res = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True)
    if res.returncode != 0 or not wav.exists() or not segs.exists():
        raise NaturalVoiceError(f"festival voice_{voice.name} failed: {(res.stderr or res.stdout).strip()[:200]}")
    return _parse_segs(segs.read_text())


def _insert_pauses(audio: np.ndarray, phones: list[Phone], pause_ms: float) -> tuple[np.ndarray, list[Phone]]:
    """``pause_ms`` of silence in the middle of every phrase pause between words (not at the ends)."""
    n = int(round(pause_ms / 1000 * SAMPLE_RATE))
    interior = [i for i, p in enumerate(phones) if p.symbol == "pau" and 0 < i < len(phones) - 1]
    if n <= 0 or not interior:
        return audio, phones
    pieces, shift, cursor, out = [], 0.0, 0, []
    for i, p in enumerate(phones):
        if i in interior:
            mid = 0.5 * (p.start + p.end)
            cut = int(round(mid * SAMPLE_RATE))
            pieces += [audio[cursor:cut], np.zeros(n, np.float32)]
            cursor = cut
            out.append(Phone(p.symbol, p.start + shift, p.end + shift + n / SAMPLE_RATE))
            shift += n / SAMPLE_RATE
        else:
            out.append(Phone(p.symbol, p.start + shift, p.end + shift))
    pieces.append(audio[cursor:])
    return np.concatenate(pieces).astype(np.float32), out


def synthesize(text: str, voice_key: str, req: Request = Request()) -> Utterance:
    """Speak ``text`` with a natural voice: 16 kHz float32 audio and its phone timeline (CMU phones,
    lower case, ``pau`` for pauses; the ``arpabet`` alphabet of visemes.py)."""
    if voice_key not in VOICES:
        raise NaturalVoiceError(f"unknown natural voice {voice_key!r}; expected one of {sorted(VOICES)}")
    voice = VOICES[voice_key]
    tool = "flite" if voice.engine == "flite" else "festival"
    if shutil.which(tool) is None:
        raise NaturalVoiceError(f"{tool} is not installed (Debian: apt-get install {' '.join(DEBIAN_PACKAGES)})")
    rate = req.rate / req.resample  # resampling by r speeds speech up r times: ask for it r times slower
    with tempfile.TemporaryDirectory(prefix="emotalk_natural_") as tmp:
        wav = Path(tmp) / "out.wav"
        ends = (_flite if voice.engine == "flite" else _festival)(voice, text, req, rate, wav)
        raw, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    raw = raw.mean(axis=1)
    if raw.size == 0 or not ends:
        raise NaturalVoiceError(f"{tool} voice {voice.name} produced no speech for {text[:60]!r}")
    # sr * resample Hz read as SAMPLE_RATE: played resample times faster
    src = int(round(sr * req.resample))
    g = math.gcd(SAMPLE_RATE, src)
    audio = resample_poly(raw, SAMPLE_RATE // g, src // g).astype(np.float32) if src != SAMPLE_RATE else raw
    total = len(audio) / SAMPLE_RATE
    phones, start = [], 0.0
    for sym, end in ends:
        end = min(end / req.resample, total)
        if end > start:
            phones.append(Phone(sym, start, end))
            start = end
    if phones and phones[-1].end < total:
        phones[-1] = Phone(phones[-1].symbol, phones[-1].start, total)
    audio, phones = _insert_pauses(audio, phones, req.pause_ms)
    audio = audio * req.gain
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.99:  # louder, but never clipped
        audio = audio * (0.99 / peak)
    return Utterance(audio.astype(np.float32), phones)
