"""Build the synthetic emotional talking-face corpus (3D-ETF layout) and sample training pairs.

    python -m emotalk_blender.training.corpus build OUT_DIR --size {tiny,small,full} --seed S

OUT_DIR gets NAME.wav (16 kHz) + NAME.npy ((T, 52) float32, T = frames_for_samples(len(audio)))
per clip, and:
- manifest.json / manifest.csv: per clip name, sentence id and text, speaker, person, emotion,
  level, split, duration, frames, augmentation;
- alignments.json: per clip the phone timeline and bilabial closure spans (seconds);
- real_reference.json: for the held-out real prompts, the alignment-derived references
  (bilabial closure frame spans and a style-free jawOpen curve) that the evaluation compares with.

Speakers: espeak-ng voices (``synthetic``, emotions.SPEAKERS) and natural voices (``natural``:
Debian's flite and festival voices, made from recordings of human speakers, with pitch, rate and
loudness variants as further speakers; natural.NATURAL_SPEAKERS). Every speaker says each of its
sentences in every emotion (neutral at level 0 only, as RAVDESS; the others at levels 0 and 1),
which is what cross-reconstruction pairs need. Splits: ``train``; ``val_sentence`` (training
speakers, held-out sentences); ``test_speaker`` (held-out espeak voices 24..27 on held-out
sentences); ``test_natural`` (the held-out natural voices, flite awb and festival ked, on held-out
sentences); ``train_real`` and ``test_real`` (asterisk prompts).
Everything is a function of the seed: clip plans, per-clip randomness (blinks, gaze, augmentation)
and the real-prompt split; the worker count does not change any output.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pickle
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from ..engine.arkit import INDEX, NUM_BLENDSHAPES
from ..engine.atomic import atomic_path, save_npy
from ..engine.constants import FPS, SAMPLE_RATE, frames_for_samples
from ..engine.errors import EmoTalkError
from . import augment, espeak, gen3, natural, real
from .corpus_layout import FORMAT_VERSION, write_index
from .emotions import EMOTIONS, HELD_OUT_SPEAKERS, SPEAKERS, TRAIN_SPEAKERS, colour_voice, compose, speaker_voice
from .espeak import synthesize
from .sentences import HELD_OUT_SENTENCES, SENTENCES, TRAIN_SENTENCES
from .visemes import mouth_track, seal_frames

REAL_SPEAKER = len(SPEAKERS)  # speaker id of the asterisk voice
REAL_PERSON = 0  # face style used for the real speaker's targets
AUG_PROBABILITY = 0.5


@dataclass(frozen=True)
class Size:
    speakers: tuple[int, ...]
    sentences_per_speaker: int  # for a training speaker: all but one from the training sentences
    real_prompts: int | None  # None = every usable prompt
    workers: int
    natural_speakers: tuple[int, ...] = ()  # indices into natural.NATURAL_SPEAKERS
    natural_sentences: int = 0  # per natural speaker, as sentences_per_speaker
    gen3: bool = False  # plus gen3.py's sources: GRID faces, LJSpeech, EmoDB, 17 languages


_ALL_NATURAL = tuple(range(len(natural.NATURAL_SPEAKERS)))
# one flite training voice and one held-out voice (flite is fast; festival's diphone voices take a second a clip)
_TINY_NATURAL = tuple(next(i for i, s in enumerate(natural.NATURAL_SPEAKERS) if s.voice == v)
                      for v in ("flite_slt", "flite_awb"))
SIZES = {
    "tiny": Size((0, 1, HELD_OUT_SPEAKERS[0]), 3, 4, 1, _TINY_NATURAL, 3),
    "small": Size(TRAIN_SPEAKERS + HELD_OUT_SPEAKERS, 3, 40, 2, _ALL_NATURAL, 2),
    "full": Size(TRAIN_SPEAKERS + HELD_OUT_SPEAKERS, 14, None, 2, _ALL_NATURAL, 8),
    "gen3": Size(TRAIN_SPEAKERS + HELD_OUT_SPEAKERS, 14, None, 2, _ALL_NATURAL, 8, gen3=True),
}
EMOTION_LEVELS = tuple((e, lv) for e in EMOTIONS for lv in ((0,) if e == "neutral" else (0, 1)))


class CorpusError(EmoTalkError):
    """A corpus directory or manifest is missing or inconsistent."""


@dataclass(frozen=True)
class ClipPlan:
    name: str
    kind: str  # "synthetic" or "real"
    split: str
    speaker: int
    person: int
    emotion: str
    level: int
    sentence: int  # index into SENTENCES; -1 for real prompts
    text: str
    source: str  # real: the prompt's wav path
    seed: int
    voice: str = ""  # natural: the key of natural.VOICES


def _clip_seed(seed: int, name: str) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def plan(size: str, seed: int, sources=None) -> list[ClipPlan]:
    """Every clip of a build, in a fixed order, from the size, the seed (and gen3's source folder)."""
    if size not in SIZES:
        raise CorpusError(f"unknown size {size!r}; expected one of {sorted(SIZES)}")
    cfg = SIZES[size]
    rng = np.random.default_rng(seed)
    train_pool = list(rng.permutation(TRAIN_SENTENCES))
    held_pool = list(rng.permutation(HELD_OUT_SENTENCES))
    ti = hi = 0
    clips: list[ClipPlan] = []
    for spk in cfg.speakers:
        held_out_voice = spk in HELD_OUT_SPEAKERS
        n = cfg.sentences_per_speaker
        sents: list[tuple[int, str]] = []
        if held_out_voice:
            for _ in range(n):
                sents.append((int(held_pool[hi % len(held_pool)]), "test_speaker"))
                hi += 1
        else:
            for _ in range(n - 1):
                sents.append((int(train_pool[ti % len(train_pool)]), "train"))
                ti += 1
            sents.append((int(held_pool[hi % len(held_pool)]), "val_sentence"))
            hi += 1
        for sid, split in sents:
            for emotion, level in EMOTION_LEVELS:
                name = f"s{spk:02d}_c{sid:03d}_{emotion}_l{level}"
                clips.append(ClipPlan(name, "synthetic", split, spk, SPEAKERS[spk].person, emotion, level,
                                      sid, SENTENCES[sid], "", _clip_seed(seed, name)))
    clips.extend(_plan_natural(cfg, seed, held_pool, hi))
    clips.extend(_plan_real(cfg, seed))
    if cfg.gen3:
        clips.extend(gen3.plan(sources, seed, ClipPlan))
    return clips


def _plan_natural(cfg: Size, seed: int, held_pool: list, hi: int) -> list[ClipPlan]:
    """Natural-voice speakers: training voices say training sentences (one held out, as espeak
    speakers do), held-out voices (split ``test_natural``) say held-out sentences only."""
    if not cfg.natural_speakers:
        return []
    have = set(natural.available())
    missing = sorted({natural.NATURAL_SPEAKERS[i].voice for i in cfg.natural_speakers} - have)
    if missing:
        print(f"warning: natural voices missing, left out of this corpus: {', '.join(missing)} "
              f"(Debian: apt-get install {' '.join(natural.DEBIAN_PACKAGES)})", file=sys.stderr)
    rng = np.random.default_rng([seed, 2])
    train_pool = list(rng.permutation(TRAIN_SENTENCES))
    ti, out = 0, []
    for i in cfg.natural_speakers:
        spk = natural.NATURAL_SPEAKERS[i]
        if spk.voice not in have:
            continue
        n = cfg.natural_sentences
        if spk.held_out:
            sents = [(int(held_pool[(hi + k) % len(held_pool)]), "test_natural") for k in range(n)]
            hi += n
        else:
            sents = [(int(train_pool[(ti + k) % len(train_pool)]), "train") for k in range(n - 1)]
            sents.append((int(held_pool[hi % len(held_pool)]), "val_sentence"))
            ti, hi = ti + n - 1, hi + 1
        sid_ = natural.speaker_id(i)
        for sid, split in sents:
            for emotion, level in EMOTION_LEVELS:
                name = f"n{sid_:02d}_c{sid:03d}_{emotion}_l{level}"
                out.append(ClipPlan(name, "natural", split, sid_, spk.person, emotion, level, sid, SENTENCES[sid],
                                    "", _clip_seed(seed, name), spk.voice))
    return out


def _plan_real(cfg: Size, seed: int) -> list[ClipPlan]:
    if cfg.real_prompts == 0:
        return []
    try:
        prompts = real.load_prompts()
    except real.RealSpeechError as exc:
        print(f"warning: no real speech in this corpus: {exc}", file=sys.stderr)
        return []
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(len(prompts))
    if cfg.real_prompts is not None:
        order = order[:cfg.real_prompts]
    n_test = max(1, len(order) // 10) if len(order) > 1 else 0
    out = []
    for k, i in enumerate(order):
        p = prompts[int(i)]
        split = "test_real" if k < n_test else "train_real"
        name = "real_" + p.name.replace("/", "_")
        out.append(ClipPlan(name, "real", split, REAL_SPEAKER, REAL_PERSON, "neutral", 0, -1,
                            " ".join(p.words), str(p.path), _clip_seed(seed, name)))
    return out


def _frames_of(spans: list[tuple[float, float]], n_frames: int) -> list[list[int]]:
    """Second spans -> inclusive frame spans [a, b] (frame i at t = i / FPS), clipped to the clip."""
    out = []
    for a, b in spans:
        fa, fb = max(0, int(np.ceil(a * FPS - 1e-9))), min(n_frames - 1, int(np.floor(b * FPS + 1e-9)))
        if fb < fa:  # a span between frame instants: its nearest frame
            fa = fb = min(n_frames - 1, max(0, int(round(0.5 * (a + b) * FPS))))
        out.append([fa, fb])
    return out


def make_clip(clip: ClipPlan, out_dir: Path) -> tuple[dict, dict, dict | None]:
    """Synthesise/align, animate, augment and write one clip. Returns (manifest row, alignment,
    real reference or None)."""
    if clip.kind in gen3.KINDS:
        return gen3.make_clip(clip, out_dir)
    rng = np.random.default_rng(clip.seed)
    if clip.kind == "synthetic":
        utt = synthesize(clip.text, speaker_voice(clip.speaker, clip.emotion, clip.level), clip.seed)
        audio = colour_voice(utt.audio, clip.emotion, clip.level, np.random.default_rng([clip.seed, 2]))
        phones, alphabet = utt.phones, "espeak"
    elif clip.kind == "natural":
        spk = natural.speaker_of(clip.speaker)
        utt = natural.synthesize(clip.text, clip.voice, natural.request(spk, clip.emotion, clip.level))
        audio = colour_voice(utt.audio, clip.emotion, clip.level, np.random.default_rng([clip.seed, 2]))
        phones, alphabet = utt.phones, "arpabet"
    else:
        audio = real.load_audio(Path(clip.source))
        phones, alphabet = real.align(audio, clip.text.split()), "arpabet"
    n_frames = frames_for_samples(len(audio))
    mouth, spans = mouth_track(phones, alphabet, n_frames)
    face = compose(mouth, clip.emotion, clip.level, clip.person, rng, seal=lambda y: seal_frames(y, spans))
    aug = {} if clip.split == "test_real" else augment.draw(rng, AUG_PROBABILITY)
    audio = augment.apply(audio, aug, rng)
    assert face.shape == (n_frames, NUM_BLENDSHAPES)
    with atomic_path(out_dir / f"{clip.name}.wav") as tmp:
        sf.write(str(tmp), audio, SAMPLE_RATE, subtype="PCM_16")
    save_npy(out_dir / f"{clip.name}.npy", face)
    row = {k: v for k, v in asdict(clip).items() if k not in ("seed", "source", "voice")}
    if clip.kind == "natural":
        row.update(engine=natural.VOICES[clip.voice].engine, voice=clip.voice)
    row.update(duration=round(len(audio) / SAMPLE_RATE, 4), frames=n_frames, augmentation=aug)
    bilabial = _frames_of(spans, n_frames)
    alignment = {"alphabet": alphabet, "phones": [[p.symbol, round(p.start, 4), round(p.end, 4)] for p in phones],
                 "bilabial_seconds": [[round(a, 4), round(b, 4)] for a, b in spans], "bilabial_frames": bilabial}
    ref = None
    if clip.split == "test_real":
        # Style-free reference: the viseme table's own jawOpen, no gain, no emotion, no smoothing.
        ref = {"bilabial_frames": bilabial, "jaw_open": [round(float(v), 4) for v in mouth[:, INDEX["jawOpen"]]],
               "text": clip.text}
    return row, alignment, ref


def _work(args):
    clip, out_dir = args
    try:
        if clip.kind in ("synthetic", "language", "emodb"):  # espeak-ng speaks: a fresh child each
            return clip.name, _in_child(make_clip, clip, Path(out_dir)), None
        return clip.name, make_clip(clip, Path(out_dir)), None
    except (real.RealSpeechError, espeak.EspeakError) as exc:  # an unalignable prompt is skipped, not fatal
        return clip.name, None, str(exc)


def _in_child(fn, *args):
    """fn(*args) in a forked child of this (clean) worker, so that espeak-ng starts from the same
    state for every clip."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into the pool machinery
        code = 0
        try:
            data = pickle.dumps((True, fn(*args)))
        except BaseException as exc:  # handed to the parent as is
            data, code = pickle.dumps((False, exc)), 1
        with os.fdopen(w, "wb") as fh:
            fh.write(data)
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    if not data:
        raise CorpusError(f"clip worker died without a result for {args[0]}")
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def _init_worker():
    espeak._engine()  # initialised once, before any speech: the state every clip child starts from


def render(clips: list[ClipPlan], out_dir: str | os.PathLike, workers: int = 1) -> Iterator[tuple]:
    """Make ``clips`` in worker processes; yields (name, (row, alignment, ref) or None, error).

    espeak-ng keeps internal state across utterances (its output depends on what the process spoke
    before), so workers come from a clean fork server and every synthetic clip is spoken by a child
    forked from a worker that has initialised espeak but never spoken: a clip's bytes depend on
    its plan only, whatever the worker count, the order or the caller's own use of espeak.
    pocketsphinx (batch CMN) has no such memory and aligns in the worker itself.
    """
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["emotalk_blender.training.corpus"])
    jobs = [(c, str(out_dir)) for c in clips]
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap(_work, jobs, chunksize=4)


def build(out_dir: str | os.PathLike, size: str = "tiny", seed: int = 0, workers: int | None = None,
          log=print, sources=None) -> dict:
    """Build the corpus into ``out_dir`` and return the manifest (also written as manifest.json)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    clips = plan(size, seed, sources)
    workers = SIZES[size].workers if workers is None else max(1, int(workers))
    rows, alignments, refs, skipped = [], {}, {}, {}
    for k, (name, res, err) in enumerate(render(clips, out, workers)):
        if res is None:
            skipped[name] = err
            continue
        row, alignment, ref = res
        rows.append(row)
        alignments[name] = alignment
        if ref is not None:
            refs[name] = ref
        if log and (k + 1) % 500 == 0:
            log(f"{k + 1}/{len(clips)} clips, {time.perf_counter() - t0:.0f} s")
    seconds = time.perf_counter() - t0
    manifest = {
        "format_version": FORMAT_VERSION, "size": size, "seed": seed, "sample_rate": SAMPLE_RATE, "fps": FPS,
        "emotions": list(EMOTIONS), "build_seconds": round(seconds, 2), "skipped": skipped,
        "counts": _counts(rows), "clips": rows,
    }
    write_index(out, manifest, alignments, refs, rows)
    return manifest


def _counts(rows: list[dict]) -> dict:
    by_split: dict[str, int] = defaultdict(int)
    secs: dict[str, float] = defaultdict(float)
    for r in rows:
        by_split[r["split"]] += 1
        secs[r["split"]] += r["duration"]
    return {"clips": len(rows), "by_split": dict(by_split),
            "seconds_by_split": {k: round(v, 1) for k, v in secs.items()},
            "augmented": sum(1 for r in rows if r["augmentation"])}


def load_manifest(corpus_dir: str | os.PathLike) -> dict:
    """The manifest of a built corpus, with ``root`` set to the corpus directory."""
    path = Path(corpus_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CorpusError(
            f"{path}: no corpus manifest (build one with: python -m emotalk_blender.training.corpus build)"
        ) from exc
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}: manifest is not valid JSON ({exc})") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorpusError(f"{path}: format_version {manifest.get('format_version')!r}, expected {FORMAT_VERSION}")
    manifest["root"] = str(Path(corpus_dir))
    return manifest


# ---------------------------------------------------------------------------- training pairs

@dataclass(frozen=True)
class Pair:
    """One cross-reconstruction example of the paper, all from one speaker:
    input12 = A(c1, e2), input21 = A(c2, e1) (wav paths); target11 = B(c1, e1),
    target12 = B(c1, e2) (npy paths). For a single-emotion clip (real speech) all four are the
    same clip (self-reconstruction only)."""
    input12: Path
    input21: Path
    target11: Path
    target12: Path
    level: int
    person: int
    emotion1: int  # index into EMOTIONS: the emotion of target11 and input21
    emotion2: int  # the emotion of input12 and target12
    speaker: int


def _index(manifest: dict, splits: tuple[str, ...]):
    """(speaker, level) -> sentence -> emotion -> clip name; neutral belongs to both levels."""
    idx: dict = defaultdict(lambda: defaultdict(dict))
    singles = []
    for r in manifest["clips"]:
        if r["split"] not in splits:
            continue
        if r["kind"] == "real":
            singles.append(r)
            continue
        if r.get("sentence", -1) < 0:  # a clip with no known sentence (from video) has no pair partner
            singles.append(r)
            continue
        levels = (0, 1) if r["emotion"] == "neutral" else (r["level"],)
        for lv in levels:
            idx[(r["speaker"], lv)][r["sentence"]][r["emotion"]] = r
    return idx, singles


def epoch_pairs(manifest: dict, split: str | tuple[str, ...] = "train", seed: int = 0,
                include_real: bool = True, real_repeat: int = 1) -> list[Pair]:
    """One pair per target clip B(c1, e1) of ``split`` (per level for neutral), shuffled by seed.

    c2 is another sentence of the same speaker and e2 another emotion, both drawn at random among
    those with every needed clip present. Real clips (split ``train_real`` when split is "train")
    give self-reconstruction pairs, each ``real_repeat`` times (real voices are what users bring,
    and they are a minority of the corpus).
    """
    splits = (split,) if isinstance(split, str) else tuple(split)
    if include_real and "train" in splits:
        splits += ("train_real",)
    root = Path(manifest["root"])
    rng = np.random.default_rng(seed)
    idx, singles = _index(manifest, splits)
    pairs: list[Pair] = []
    for (spk, lv) in sorted(idx):
        by_sent = idx[(spk, lv)]
        sents = sorted(by_sent)
        for c1 in sents:
            for e1 in sorted(by_sent[c1]):
                options = [(c2, e2) for c2 in sents if c2 != c1 for e2 in sorted(by_sent[c1])
                           if e2 != e1 and e1 in by_sent[c2]]
                if not options:  # no other sentence or emotion to pair with: self-reconstruction
                    if by_sent[c1][e1] not in singles:  # neutral sits at both levels: once
                        singles.append(by_sent[c1][e1])
                    continue
                c2, e2 = options[int(rng.integers(len(options)))]
                t11, t12, i21 = by_sent[c1][e1], by_sent[c1][e2], by_sent[c2][e1]
                pairs.append(Pair(root / f"{t12['name']}.wav", root / f"{i21['name']}.wav",
                                  root / f"{t11['name']}.npy", root / f"{t12['name']}.npy",
                                  lv, t11["person"], EMOTIONS.index(e1), EMOTIONS.index(e2), spk))
    for r in singles:
        wav, npy = root / f"{r['name']}.wav", root / f"{r['name']}.npy"
        e = EMOTIONS.index(r["emotion"])
        pairs.extend([Pair(wav, wav, npy, npy, r["level"], r["person"], e, e, r["speaker"])] * real_repeat)
    order = rng.permutation(len(pairs))
    return [pairs[i] for i in order]


# ---------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.corpus", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a corpus")
    b.add_argument("out_dir")
    b.add_argument("--size", choices=sorted(SIZES), default="tiny")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, default=None, help="processes (default: 1 for tiny, 2 otherwise)")
    b.add_argument("--sources", help="gen3: folder with grid_s1/ (training/grid.py), LJSpeech-1.1/ and emodb/")
    from . import from_video

    from_video.add_parser(sub)
    args = ap.parse_args(argv)
    # Run as "-m", this module is re-run by name in the fork server, which runpy warns about
    # (harmless: it is already imported there). Keep the workers' stderr for real problems.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::RuntimeWarning")
    try:
        if args.command == "from-video":
            m = from_video.run(args)
            print(json.dumps(m["counts"], indent=1))
            return 0
        m = build(args.out_dir, args.size, args.seed, args.workers, sources=args.sources)
    except (EmoTalkError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"build_seconds": m["build_seconds"], **m["counts"], "skipped": len(m["skipped"])}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
