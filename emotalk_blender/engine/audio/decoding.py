"""Audio in: a file -> mono 16 kHz float32, with soundfile, the standard library or Blender's ``aud``.

Decoders, in the order tried: soundfile (libsndfile: WAV, FLAC, OGG, MP3, ...) when it is installed;
the standard library's ``wave`` for PCM WAV (8, 16, 24, 32-bit), which reads the same samples as
libsndfile; Blender's own ``aud`` (anything Blender plays, the sound of video files too; present
inside Blender, absent from the bpy 4.2 wheel). ``aud`` scales 16-bit samples by 1/32767 where the
others use 1/32768; the per-utterance normalisation cancels that constant factor, so a take is the
same with any decoder. Resampling is ours (``resample.py``) on every path.

Errors name the file and the problem; silence is valid input.
"""
from __future__ import annotations

import os
import wave
from math import gcd

import numpy as np

from ..constants import FPS, SAMPLE_RATE
from ..errors import AudioError
from .resample import Resampler, resample_poly

DECODERS = ("soundfile", "wave", "aud")  # the order "auto" tries them in


def to_mono_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """(N,) or (N, channels) samples at ``rate`` -> (M,) float32 at 16 kHz (polyphase resampling)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = gcd(int(rate), SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, int(rate) // g)
    return np.ascontiguousarray(x, dtype=np.float32)


def _read_soundfile(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(path, dtype="float32", always_2d=True)
    return data, int(rate)


def _wave_samples(raw: bytes, width: int, channels: int) -> np.ndarray:
    """PCM bytes -> (N, channels) float32, scaled as libsndfile does (1 / 2^(bits - 1))."""
    if width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:  # 24-bit: into the top three bytes of an int32
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)).astype(np.float32) / np.float32(2.0 ** 31)
    elif width in (2, 4):
        x = np.frombuffer(raw, f"<i{width}").astype(np.float32) / np.float32(2.0 ** (8 * width - 1))
    else:
        raise wave.Error(f"{8 * width}-bit samples are not supported")
    return x.reshape(-1, channels)


def _read_wave(path: str) -> tuple[np.ndarray, int]:
    """PCM WAV with the standard library."""
    with wave.open(path, "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        return _wave_samples(w.readframes(w.getnframes()), width, channels), int(rate)


def _read_aud(path: str) -> tuple[np.ndarray, int]:
    import aud  # Blender's audio module: in Blender (and the bpy module once bpy is imported)

    sound = aud.Sound(path)
    rate, channels = sound.specs
    return np.asarray(sound.data(), dtype=np.float32).reshape(-1, int(channels)), int(rate)


_READERS = {"soundfile": _read_soundfile, "wave": _read_wave, "aud": _read_aud}

# Long files are read in blocks: decoding costs memory for one block, not for the file (1 h of
# 48 kHz stereo is 1.4 GB as float32); only the 16 kHz mono result grows with the length.
BLOCK_FRAMES = 1 << 16


def _blocks_soundfile(path: str):
    import soundfile as sf

    f = sf.SoundFile(path)
    rate = int(f.samplerate)

    def blocks():
        with f:
            yield from f.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True)
    return rate, blocks()


def _blocks_wave(path: str):
    w = wave.open(path, "rb")
    width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
    if width not in (1, 2, 3, 4):
        w.close()
        raise wave.Error(f"{8 * width}-bit samples are not supported")

    def blocks():
        with w:
            while raw := w.readframes(BLOCK_FRAMES):
                yield _wave_samples(raw, width, channels)
    return int(rate), blocks()


def _blocks_aud(path: str):
    data, rate = _read_aud(path)  # aud decodes whole files; mixing and resampling still go by blocks
    return rate, (data[i:i + BLOCK_FRAMES] for i in range(0, len(data), BLOCK_FRAMES))


_BLOCK_READERS = {"soundfile": _blocks_soundfile, "wave": _blocks_wave, "aud": _blocks_aud}


def available_decoders() -> list[str]:
    """The decoders this Python can use, in the order ``auto`` tries them."""
    out = []
    for name, module in (("soundfile", "soundfile"), ("wave", "wave"), ("aud", "aud")):
        try:
            __import__(module)
        except (ImportError, OSError):  # soundfile raises OSError when libsndfile is missing
            continue
        out.append(name)
    return out


def _first_that_reads(path: str, decoder: str, read):
    """``read(name)`` with the named decoder, or with each available one in turn until one reads ``path``."""
    if decoder != "auto" and decoder not in _READERS:
        raise ValueError(f"decoder must be 'auto' or one of {', '.join(DECODERS)}, got {decoder!r}")
    errors = {}
    for name in available_decoders() if decoder == "auto" else [decoder]:
        try:
            return read(name)
        except AudioError:  # the file was read and is bad (NaN, too short): no other decoder helps
            raise
        except ImportError as exc:
            errors[name] = f"{name} is not available ({exc})"
        except Exception as exc:
            errors[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # The most general decoder's reason: "not RIFF" from wave says little about an MP3.
    reason = next((errors[n] for n in ("soundfile", "aud", "wave") if n in errors), "no audio decoder available")
    raise AudioError(f"{path}: not a readable audio file ({reason})")


def decode(path: str, decoder: str = "auto") -> tuple[np.ndarray, int]:
    """(samples (N, channels) float32, rate) of ``path`` with one decoder, or the first that reads it."""
    return _first_that_reads(path, decoder, lambda name: _READERS[name](path))


def check_audio_path(path) -> str:
    """``path`` as a string when it names a file; AudioError otherwise (cheap: made before any work)."""
    path = os.fspath(path)
    if not path.strip():
        raise AudioError("no audio file chosen")
    if not os.path.exists(path):
        raise AudioError(f"{path}: no such audio file")
    if os.path.isdir(path):
        raise AudioError(f"{path}: is a folder, not an audio file")
    return path


def _stream_16k(path: str, rate: int, blocks) -> np.ndarray:
    """Mix each block to mono and resample it as it comes (equal to ``to_mono_16k`` of the whole)."""
    resampler = None
    if rate != SAMPLE_RATE:
        g = gcd(int(rate), SAMPLE_RATE)
        resampler = Resampler(SAMPLE_RATE // g, int(rate) // g)
    pieces, frames = [], 0
    for block in blocks:
        if not np.isfinite(block).all():
            raise AudioError(f"{path}: the audio holds NaN or infinite samples")
        frames += block.shape[0]
        mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
        pieces.append(resampler.feed(mono) if resampler is not None else np.array(mono, np.float32))
    if frames == 0:
        raise AudioError(f"{path}: the audio has zero length")
    if frames / rate < 1.0 / FPS:
        raise AudioError(f"{path}: {frames / rate * 1000:.1f} ms of audio is shorter than one frame (1/{FPS} s)")
    if resampler is not None:
        pieces.append(resampler.finish())
    return np.ascontiguousarray(np.concatenate(pieces), dtype=np.float32)


def load_audio(path, decoder: str = "auto") -> np.ndarray:
    """Read ``path`` (WAV, FLAC, OGG, MP3, ...; see the decoders above) as mono 16 kHz float32, in blocks."""
    path = check_audio_path(path)
    return _first_that_reads(path, decoder, lambda name: _stream_16k(path, *_BLOCK_READERS[name](path)))
