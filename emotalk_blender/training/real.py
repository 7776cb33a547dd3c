"""Real human speech: Debian asterisk-core-sounds-en prompts, phone-aligned by pocketsphinx.

The prompts (one speaker, 8 kHz telephone recordings, CC-BY-SA-3.0) come from
``asterisk-core-sounds-en-wav``; their transcripts from ``core-sounds-en.txt.gz`` in the
``asterisk-core-sounds-en`` documentation. pocketsphinx (PyPI 5.x, which carries the en-us acoustic
model and CMU dictionary) force-aligns each transcript to phones (ARPAbet, 10 ms frames), which
then go through the same viseme table as synthetic speech.
"""
from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from ..engine.constants import SAMPLE_RATE
from ..engine.errors import AudioError, EmoTalkError
from .espeak import Phone
from .visemes import arpabet_visemes

SOUNDS_DIRS = (Path("/usr/share/asterisk/sounds/en_US_f_Allison"), Path("/usr/share/asterisk/sounds/en"))
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
MAX_SECONDS = 8.0  # longer prompts are skipped: training clips stay short
MIN_SECONDS = 0.6
_PAD = 0.3  # s of silence around a prompt for alignment


class RealSpeechError(EmoTalkError):
    """The real-speech sources (asterisk prompts, pocketsphinx) are missing or unusable."""


@dataclass(frozen=True)
class Prompt:
    name: str  # e.g. "agent-pass" or "digits/5" -> file name stem with "/" kept
    path: Path
    text: str
    words: tuple[str, ...]  # normalised, all in the pocketsphinx dictionary


_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
        "sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SYMBOLS = {"*": " star ", "#": " pound ", "&": " and ", "%": " percent "}


def _number(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _number(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def normalise_text(text: str) -> list[str]:
    """Transcript -> lower-case dictionary words (digits spelt out, punctuation dropped)."""
    for sym, word in _SYMBOLS.items():
        text = text.replace(sym, word)
    text = re.sub(r"\d+", lambda m: f" {_number(int(m.group()))} ", text)
    text = re.sub(r"[-/]", " ", text.lower())
    text = re.sub(r"[^a-z' ]", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def sounds_dir() -> Path:
    for d in SOUNDS_DIRS:
        if d.is_dir():
            return d
    raise RealSpeechError(
        f"asterisk prompts not found in {SOUNDS_DIRS[0]}: apt-get install asterisk-core-sounds-en-wav")


def _decoder():
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:
        raise RealSpeechError("pocketsphinx is not installed: pip install -r requirements-train.txt") from exc
    # Batch CMN: each prompt normalised on its own, so an alignment does not depend on the prompts
    # aligned before it (live CMN would carry over).
    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", cmn="batch")


_DECODER = None


def decoder():
    """One pocketsphinx decoder per process (0.3 s to build)."""
    global _DECODER
    if _DECODER is None:
        _DECODER = _decoder()
    return _DECODER


def load_prompts() -> list[Prompt]:
    """Usable prompts sorted by name: transcript present, speech (not [tones]), every word in the
    dictionary, MIN..MAX_SECONDS long."""
    base = sounds_dir()
    if not TRANSCRIPTS.exists():
        raise RealSpeechError(f"transcripts not found at {TRANSCRIPTS}: apt-get install asterisk-core-sounds-en")
    dec = decoder()
    out = []
    with gzip.open(TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = (x.strip() for x in line.split(":", 1))
            path = base / f"{name}.wav"
            if not text or "[" in text or not path.exists():
                continue
            words = normalise_text(text)
            if not words or any(dec.lookup_word(w) is None for w in words):
                continue
            info = sf.info(str(path))
            if not MIN_SECONDS <= info.frames / info.samplerate <= MAX_SECONDS:
                continue
            out.append(Prompt(name, path, text, tuple(words)))
    return sorted(out, key=lambda p: p.name)


def load_audio(path: Path) -> np.ndarray:
    """A prompt as 16 kHz float32 mono (the recordings are 8 kHz: upsampled by 2)."""
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for bad files
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        from math import gcd
        g = gcd(int(sr), SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, int(sr) // g)
    return x.astype(np.float32)


def align(audio: np.ndarray, words: tuple[str, ...] | list[str]) -> list[Phone]:
    """Forced phone alignment (ARPAbet symbols, seconds) of 16 kHz audio against ``words``."""
    dec = decoder()
    # Silence padding with a faint fixed dither: prompts start and end abruptly, and without a
    # silent lead-in the aligner's search fails on some of them.
    pad = np.zeros(int(_PAD * SAMPLE_RATE), np.float32)
    x = np.concatenate([pad, np.asarray(audio, np.float32), pad])
    x = x + np.random.default_rng(0).normal(0.0, 1e-4, len(x)).astype(np.float32)
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes()
    try:
        dec.set_align_text(" ".join(words))
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        dec.set_alignment()
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        alignment = dec.get_alignment()
    except RuntimeError as exc:
        global _DECODER
        _DECODER = None  # a failed utterance can leave the decoder mid-search: start afresh
        raise RealSpeechError(f"pocketsphinx could not align {' '.join(words)[:60]!r}: {exc}") from exc
    if alignment is None:
        raise RealSpeechError(f"pocketsphinx found no alignment for {' '.join(words)[:60]!r}")
    step = 0.01  # pocketsphinx frames are 10 ms
    dur = len(audio) / SAMPLE_RATE
    phones = []
    for w in alignment:
        for p in w:
            start = min(max(p.start * step - _PAD, 0.0), dur)
            end = min(max((p.start + p.duration) * step - _PAD, 0.0), dur)
            if end > start:
                phones.append(Phone(p.name, start, end))
    speech = [p for p in phones if arpabet_visemes(p.symbol) != ("sil",)]
    if len(speech) < len(words):  # speech placed in the padding: not a usable alignment
        raise RealSpeechError(f"pocketsphinx put {' '.join(words)[:60]!r} outside the recording")
    return phones
