"""espeak-ng through ctypes: audio plus per-phoneme timings from the C API's phoneme events.

The library (Debian ``libespeak-ng1``) is a process-wide singleton, so this module initialises it
once per process (each multiprocessing worker gets its own). Every call sets voice and parameters
afresh, so results do not depend on what was synthesised before.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
from scipy.signal import resample_poly

from ..engine.constants import SAMPLE_RATE
from ..engine.errors import EmoTalkError

# speak_lib.h constants (the API is stable since espeak 1.48).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002  # phoneme events give IPA names
_INIT_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_CHARS_UTF8, _SSML, _ENDPAUSE = 1, 0x10, 0x1000
_POS_CHARACTER = 1
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
_ESPEAK_RATE = 22_050  # what espeak-ng's own voices produce


class EspeakError(EmoTalkError):
    """espeak-ng is missing or refused a request."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass
class Phone:
    """One phoneme: espeak mnemonic (e.g. ``p``, ``aI``, ``_:`` for a pause) and its span in seconds.
    For stops, ``closure`` is the measured silent (or voice-bar) closure span, see _closures."""
    symbol: str
    start: float
    end: float
    closure: tuple[float, float] | None = None


STOPS = frozenset({"p", "b", "t", "d", "k", "g", "tS", "dZ", "t#", "d#", "t2", "d2"})
_CLOSURE = 0.04  # s: length of the closure window searched for
_SEARCH = (0.08, 0.07)  # s before / after a stop's event in which its closure lies


def _closures(raw: np.ndarray, phones: list[Phone]) -> None:
    """In place: the closure of every stop, found in the audio as the quietest 40 ms near its event.

    espeak's phoneme event for a stop is not at a fixed point of it: for /p t k/ and for stops after
    a pause it marks the release (the closure is the silence before), for voiced stops between
    vowels it marks the closure onset (a quiet voice bar follows). The waveform settles it.
    """
    hop = int(0.005 * _ESPEAK_RATE)
    x = raw.astype(np.float64) / 32768.0
    n = len(x) // hop
    if n < 4:
        return
    energy = np.sqrt(np.mean(x[:n * hop].reshape(n, hop) ** 2, axis=1))
    k = int(round(_CLOSURE / 0.005))
    smooth = np.convolve(energy, np.ones(k) / k, mode="valid")  # smooth[i]: window starting at hop i
    for ph in phones:
        if ph.symbol not in STOPS:
            continue
        lo = max(0, int((ph.start - _SEARCH[0]) / 0.005))
        hi = min(len(smooth) - 1, int((ph.start + min(_SEARCH[1], ph.end - ph.start)) / 0.005) - k)
        if hi < lo:
            continue
        i = lo + int(np.argmin(smooth[lo:hi + 1]))
        ph.closure = (i * 0.005, i * 0.005 + _CLOSURE)


@dataclass
class Utterance:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    phones: list[Phone]

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True)
class Voice:
    """What espeak is asked for. pitch and pitch_range are espeak's 0..100 scales (default 50);
    rate in words per minute (default 175); volume 0..200 (default 100); word_gap adds silence
    between words in 10 ms units; comma_pause_ms inserts an SSML break at each comma/phrase end."""
    name: str = "en-us"
    variant: str = ""
    pitch: int = 50
    pitch_range: int = 50
    rate: int = 175
    volume: int = 100
    word_gap: int = 0
    comma_pause_ms: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.name}+{self.variant}" if self.variant else self.name


class _Engine:
    def __init__(self) -> None:
        path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self.lib = ctypes.CDLL(path)
        except OSError as exc:
            raise EspeakError(f"libespeak-ng not found ({path}): install Debian libespeak-ng1") from exc
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
        if rate != _ESPEAK_RATE:
            raise EspeakError(f"espeak-ng initialised at {rate} Hz, expected {_ESPEAK_RATE}")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, str, int]] = []
        self.ipa = False
        self.libc = ctypes.CDLL(None)  # the process's libc, whose rand() espeak-ng uses
        self.libc.srand.argtypes = [ctypes.c_uint]
        self._callback = _CALLBACK(self._on_synth)  # kept referenced: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def use_ipa(self) -> None:
        """From now on phoneme events name IPA (every language) instead of espeak's mnemonics.

        espeak-ng sets this at initialisation only, so it initialises again: call it in a process of
        its own (the corpus's forked clip child), never where English mnemonics are still wanted.
        """
        if self.ipa:
            return
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                          _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
        if rate != _ESPEAK_RATE:
            raise EspeakError(f"espeak-ng initialised at {rate} Hz, expected {_ESPEAK_RATE}")
        self.lib.espeak_SetSynthCallback(self._callback)
        self.ipa = True

    def _on_synth(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                phoneme = ev.id.string.decode("utf-8" if self.ipa else "ascii", "replace")
                self._events.append((_EVENT_PHONEME, ev.sample, phoneme, ev.text_position))
            i += 1
        return 0

    def synth(self, text: str, voice: Voice, seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int, str, int]]]:
        lib = self.lib
        if lib.espeak_SetVoiceByName(voice.full_name.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice {voice.full_name!r}")
        for param, value in ((_RATE, voice.rate), (_VOLUME, voice.volume), (_PITCH, voice.pitch),
                             (_RANGE, voice.pitch_range), (_WORDGAP, voice.word_gap)):
            lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._events = [], []
        # espeak-ng draws noise and jitter from libc rand(): seed it so a call's output depends
        # on its arguments only, not on what this process synthesised before.
        self.libc.srand(ctypes.c_uint(seed & 0xFFFFFFFF))
        data = text.encode("utf-8") + b"\0"
        flags = _CHARS_UTF8 | _SSML | _ENDPAUSE
        err = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, flags, None, None)
        if err != 0:
            raise EspeakError(f"espeak_Synth failed with code {err} for {text[:60]!r}")
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio, self._events


_ENGINE: _Engine | None = None


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


def to_ssml(sentence: str, voice: Voice) -> str:
    """The sentence as SSML: phrase breaks (commas, clause ends) get an explicit pause."""
    text = escape(sentence)
    if voice.comma_pause_ms > 0:
        text = re.sub(r"([,;:])\s*", rf'\1 <break time="{voice.comma_pause_ms}ms"/> ', text)
    return f"<speak>{text}</speak>"


def synthesize(sentence: str, voice: Voice = Voice(), seed: int = 0, ipa: bool = False) -> Utterance:
    """Speak ``sentence`` with ``voice``: 16 kHz float32 audio and a phoneme timeline.

    Phone spans run from one phoneme event to the next (the last ends at the end of audio);
    espeak's pause phonemes (``_``, ``_:``, ``_!``...) are kept so pauses are visible. ``seed``
    fixes espeak's own randomness (same arguments, same samples).
    """
    engine = _engine()
    if ipa:  # phones in IPA (visemes_ipa.py); only in a process of its own, see _Engine.use_ipa
        engine.use_ipa()
    elif engine.ipa:
        raise EspeakError("this process's espeak-ng gives IPA phoneme events; English mnemonics need another")
    raw, events = engine.synth(to_ssml(sentence, voice), voice, seed)
    if raw.size == 0:
        raise EspeakError(f"espeak-ng produced no audio for {sentence[:60]!r}")
    audio = resample_poly(raw.astype(np.float32) / 32768.0, 320, 441).astype(np.float32)  # 22050 -> 16000
    total = len(raw) / _ESPEAK_RATE
    starts = [(s / _ESPEAK_RATE, sym) for kind, s, sym, _ in events if kind == _EVENT_PHONEME]
    phones = []
    for i, (t, sym) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else total
        if end > t:
            phones.append(Phone(sym, t, min(end, total)))
    _closures(raw, phones)
    return Utterance(audio, phones)
