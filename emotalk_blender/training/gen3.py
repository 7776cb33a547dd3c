"""The third-generation corpus's own sources, planned and made beside corpus.py's espeak, natural and
asterisk clips (``corpus build --size gen3``):

- ``video``: GRID speaker s1 (CC BY 4.0), real faces captured by MediaPipe (training/grid.py),
  mapped to the rig's range (training/calibrate.py); held out by sentence (split ``test_grid``).
- ``ljspeech``: LJSpeech 1.1 subset (public domain), real read speech aligned by pocketsphinx as
  real.py does, rule targets; 10 % held out (``test_ljspeech``).
- ``emodb``: EmoDB (CC0 via audEERING), real acted emotional German speech. The label is the 6th
  letter of the file name; boredom (L) has no class in the model and is left out. The copy was
  padded with zeros to 2.0 s: the zero tail is stripped. Lips: espeak-ng German says the known
  sentence and its IPA phone timeline is stretched onto the clip's speech span (the voice from
  first to last loud frame): rough, the clips are there for the voice's emotion. Every training
  clip twice, with independent hard augmentation (pitch and tempo from the trainer's voice
  perturbation, room, microphone, codecs). Speakers 03 (m) and 08 (f) held out (``test_emodb``).
- ``language``: espeak-ng voices of 17 languages besides English through the IPA viseme table
  (visemes_ipa.py), each sentence in every emotion as the English espeak speakers; Italian, Czech
  and Turkish held out entirely (``test_language``).

Sources are read from folders given to the builder (``--sources DIR`` with ``grid_s1/`` (the grid.py
output), ``LJSpeech-1.1/`` and ``emodb/``), never from the network; a missing source is left out with
a warning, so ``tiny`` and ``full`` are unchanged.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from ..engine.constants import EMOTIONS, SAMPLE_RATE, frames_for_samples
from . import augment_real, calibrate, real
from .emotions import SPEAKERS, colour_voice, compose, speaker_voice
from .espeak import Phone, Voice, synthesize
from .visemes import mouth_track, seal_frames

LJ_SPEAKER, GRID_SPEAKER = 30, 31  # manifest speaker ids (espeak 0..27, asterisk 28, natural 40+)
EMODB_SPEAKER0, LANGUAGE_SPEAKER0 = 200, 100
PERSON = 0  # face style of the real voices' rule targets (as the asterisk prompts)
LJ_MAX_SECONDS = 10.5

# language code (espeak-ng voice) -> five everyday sentences. Families: Romance, Germanic, Slavic,
# Sino-Tibetan, Japonic, Indo-Aryan, Koreanic, Uralic, Bantu, Turkic.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "fr": ("Bonjour, comment allez-vous aujourd'hui ?", "Le petit chat boit du lait dans la cuisine.",
           "Nous partirons demain matin pour la montagne.", "Pourquoi est-ce que tu ne m'as pas appelé ?",
           "Il fait beau et les enfants jouent au parc."),
    "es": ("Buenos días, ¿cómo estás hoy?", "El perro marrón corre por la playa.",
           "Mañana vamos a visitar a mi abuela.", "No puedo creer lo que me has dicho.",
           "La comida está muy buena en este lugar."),
    "pt": ("Bom dia, como você está?", "O barco azul chegou ao porto ontem.", "Eu gosto muito de música brasileira.",
           "Por favor, feche a porta quando sair.", "Amanhã vamos passear pela cidade."),
    "de": ("Guten Morgen, wie geht es dir heute?", "Der Bäcker backt jeden Morgen frisches Brot.",
           "Wir fahren am Wochenende an die Ostsee.", "Warum hast du mir das nicht früher gesagt?",
           "Meine Mutter wohnt in einem kleinen Dorf."),
    "nl": ("Goedemorgen, hoe gaat het met je?", "De fiets staat naast het huis.", "Morgen gaan we naar de markt.",
           "Ik begrijp niet wat je bedoelt.", "Het water in de rivier is erg koud."),
    "sv": ("God morgon, hur mår du idag?", "Båten seglar långsamt över sjön.", "Vi ska äta middag hos mormor.",
           "Jag förstår inte vad du menar.", "Det snöar mycket i norra Sverige."),
    "ru": ("Доброе утро, как у тебя дела?", "Мама мыла раму утром.", "Завтра мы поедем в большой город.",
           "Почему ты мне не позвонил вчера?", "Книга лежит на столе у окна."),
    "pl": ("Dzień dobry, jak się masz?", "Mój brat pracuje w dużym biurze.", "Jutro pojedziemy nad morze.",
           "Nie wiem, gdzie są moje klucze.", "Pies biegnie po zielonej łące."),
    "cmn-latn-pinyin": ("ni3 hao3, ni3 jin1 tian1 hao3 ma5?", "wo3 men5 ming2 tian1 qu4 bei3 jing1.",
                        "zhe4 ben3 shu1 fei1 chang2 you3 yi4 si1.", "ta1 mai3 le5 yi1 bei1 re4 cha2.",
                        "bu2 yao4 wang4 ji4 guan1 men2."),
    "ja": ("おはよう ございます、 げんき ですか。", "わたしは まいにち ほんを よみます。",
           "あしたは ともだちと うみに いきます。",
           "この みせの ぱんは とても おいしい です。", "どうして でんわ してくれなかったの。"),
    "hi": ("नमस्ते, आप कैसे हैं?", "मेरा भाई बाज़ार गया है।", "कल हम पहाड़ों पर जाएंगे।", "यह किताब बहुत अच्छी है।",
           "मुझे चाय पीना पसंद है।"),
    "ko": ("안녕하세요, 오늘 기분이 어때요?", "우리는 내일 바다에 갑니다.", "이 빵은 정말 맛있어요.",
           "왜 나한테 전화 안 했어?", "고양이가 창문 옆에서 잡니다."),
    "fi": ("Hyvää huomenta, mitä kuuluu?", "Poika juoksee nopeasti metsään.", "Huomenna menemme mökille.",
           "En ymmärrä mitä tarkoitat.", "Kahvi on liian kuumaa juotavaksi."),
    "sw": ("Habari za asubuhi, rafiki yangu.", "Mama anapika chakula kitamu jikoni.", "Kesho tutakwenda sokoni mapema.",
           "Sielewi unachosema, tafadhali rudia.", "Watoto wanacheza mpira uwanjani."),
    "it": ("Buongiorno, come stai oggi?", "Il ragazzo mangia una mela rossa.", "Domani andiamo al mare con gli amici.",
           "Perché non mi hai chiamato ieri sera?", "La pizza di mia madre è la migliore."),
    "cs": ("Dobré ráno, jak se máš?", "Můj otec pracuje v nemocnici.", "Zítra pojedeme na hory.",
           "Nevím, kde jsou moje brýle.", "Pes běží po zelené louce."),
    "tr": ("Günaydın, bugün nasılsın?", "Küçük kedi süt içiyor.", "Yarın denize gideceğiz.", "Neden beni aramadın?",
           "Bu kitap çok güzel."),
}
HELD_OUT_LANGUAGES = ("it", "cs", "tr")

# EmoDB: the 6th letter of the file name; L (boredom) has no class in the model.
EMODB_LABELS = {"W": "angry", "E": "disgust", "A": "fear", "F": "happy", "T": "sad", "N": "neutral"}
EMODB_LEFT_OUT = {"L": "boredom"}
EMODB_HELD_OUT_SPEAKERS = ("03", "08")  # a man and a woman
EMODB_COPIES = 2
# The ten EmoDB sentences (Burkhardt et al. 2005), by the text code of characters 3-5.
EMODB_TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
KINDS = ("video", "ljspeech", "emodb", "language")
TEST_SPLITS = ("test_grid", "test_ljspeech", "test_emodb", "test_language")


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def _seed(seed: int, name: str) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def plan(sources, seed: int, clip_plan) -> list:
    """Clip plans (corpus.ClipPlan, passed in to avoid an import cycle) of every source found."""
    root = Path(sources) if sources else None
    out = []
    out += _plan_languages(seed, clip_plan)
    if root is None:
        _warn("no --sources folder: GRID, LJSpeech and EmoDB left out of this corpus")
        return out
    out += _plan_grid(root / "grid_s1", seed, clip_plan)
    out += _plan_ljspeech(root / "LJSpeech-1.1", seed, clip_plan)
    out += _plan_emodb(root / "emodb", seed, clip_plan)
    return out


def _plan_languages(seed: int, clip_plan) -> list:
    from .corpus import EMOTION_LEVELS

    out = []
    for li, (lang, sentences) in enumerate(LANGUAGES.items()):
        base = li % len(SPEAKERS[:24])  # a training espeak speaker's variant, pitch and face style
        split = "test_language" if lang in HELD_OUT_LANGUAGES else "train"
        for si, text in enumerate(sentences):
            for emotion, level in EMOTION_LEVELS:
                name = f"L{lang.split('-')[0]}_c{si}_{emotion}_l{level}"
                out.append(clip_plan(name, "language", split, LANGUAGE_SPEAKER0 + li, SPEAKERS[base].person, emotion,
                                     level, si, text, str(base), _seed(seed, name), lang))
    return out


def _plan_grid(folder: Path, seed: int, clip_plan) -> list:
    manifest = folder / "corpus" / "manifest.json"
    if not manifest.exists():
        _warn(f"{manifest}: no GRID capture (python -m emotalk_blender.training.grid capture): left out")
        return []
    rows = json.loads(manifest.read_text())["clips"]
    return [clip_plan(f"grid_{r['name']}", "video", "test_grid" if r["split"] != "train" else "train_real",
                      GRID_SPEAKER, PERSON, "neutral", 0, -1, r["text"], str(folder / "corpus" / r["name"]),
                      _seed(seed, r["name"])) for r in rows]


def ljspeech_transcripts(folder: Path) -> dict[str, str]:
    """LJSpeech id -> normalised text (the transcript's third column, its numbers spelt out)."""
    out = {}
    with open(folder / "transcript.csv", encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE):
            if len(row) >= 3:
                out[row[0]] = row[2]
    return out


def _plan_ljspeech(folder: Path, seed: int, clip_plan) -> list:
    if not (folder / "transcript.csv").exists():
        _warn(f"{folder}: no LJSpeech transcript.csv: left out")
        return []
    dec = real.decoder()
    texts = ljspeech_transcripts(folder)
    usable = []
    for lj, text in sorted(texts.items()):
        wav = folder / "wavs" / f"{lj}.wav"
        words = real.normalise_text(text)
        if not wav.exists() or not words or any(dec.lookup_word(w) is None for w in words):
            continue
        info = sf.info(str(wav))
        if info.frames / info.samplerate <= LJ_MAX_SECONDS:
            usable.append((lj, " ".join(words), wav))
    order = np.random.default_rng([seed, 3]).permutation(len(usable))
    n_test = max(1, len(usable) // 10)
    out = []
    for k, i in enumerate(order):
        lj, words, wav = usable[int(i)]
        out.append(clip_plan(f"lj_{lj}", "ljspeech", "test_ljspeech" if k < n_test else "train_real", LJ_SPEAKER,
                             PERSON, "neutral", 0, -1, words, str(wav), _seed(seed, lj)))
    return out


def emodb_label(stem: str) -> tuple[str, str, str | None]:
    """(speaker, text code, emotion or None for boredom) of an EmoDB file stem such as 03a01Fa."""
    if len(stem) < 6 or stem[5] not in EMODB_LABELS and stem[5] not in EMODB_LEFT_OUT:
        raise ValueError(f"{stem}: not an EmoDB file name (speaker 2, text 3, emotion letter, version)")
    return stem[:2], stem[2:5], EMODB_LABELS.get(stem[5])


def _plan_emodb(folder: Path, seed: int, clip_plan) -> list:
    files = sorted(folder.glob("*.wav"))
    if not files:
        _warn(f"{folder}: no EmoDB wav files: left out")
        return []
    speakers = sorted({f.stem[:2] for f in files})
    texts = sorted(EMODB_TEXTS)
    out = []
    for f in files:
        spk, code, emotion = emodb_label(f.stem)
        if emotion is None or code not in EMODB_TEXTS:
            continue
        held = spk in EMODB_HELD_OUT_SPEAKERS
        level = 0 if emotion == "neutral" else 1
        for copy in range(1 if held else EMODB_COPIES):
            name = f"emodb_{f.stem}_a{copy}"
            out.append(clip_plan(name, "emodb", "test_emodb" if held else "train",
                                 EMODB_SPEAKER0 + 100 * copy + speakers.index(spk), PERSON, emotion, level,
                                 texts.index(code), EMODB_TEXTS[code], str(f), _seed(seed, name)))
    return out


def strip_zero_tail(x: np.ndarray) -> np.ndarray:
    """The clip without its trailing run of exact zeros (the copy's padding to 2.0 s)."""
    nz = np.flatnonzero(x != 0)
    return x[: nz[-1] + 1] if len(nz) else x[:0]


def speech_span(x: np.ndarray, floor_db: float = -35.0) -> tuple[float, float]:
    """First and last 10 ms frame (seconds) within ``floor_db`` of the loudest one."""
    hop = SAMPLE_RATE // 100
    n = max(1, len(x) // hop)
    rms = np.sqrt(np.mean(np.asarray(x[: n * hop], np.float64).reshape(n, hop) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > floor_db)
    return (loud[0] * 0.01, (loud[-1] + 1) * 0.01) if len(loud) else (0.0, len(x) / SAMPLE_RATE)


def warped_phones(phones: list[Phone], src: tuple[float, float], dst: tuple[float, float]) -> list[Phone]:
    """Phones whose times are mapped linearly from span ``src`` onto span ``dst`` (outside: clipped)."""
    scale = (dst[1] - dst[0]) / max(1e-6, src[1] - src[0])

    def t(v: float) -> float:
        return dst[0] + (min(max(v, src[0]), src[1]) - src[0]) * scale

    return [Phone(p.symbol, t(p.start), t(p.end)) for p in phones if t(p.end) > t(p.start)]


def _load(path: str) -> np.ndarray:
    return real.load_audio(Path(path))


def load_emodb(path: str) -> np.ndarray:
    """An EmoDB clip as 16 kHz float32, its zero padding stripped before resampling."""
    from math import gcd

    from scipy.signal import resample_poly

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = strip_zero_tail(x.mean(axis=1))
    g = gcd(int(sr), SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, int(sr) // g).astype(np.float32) if sr != SAMPLE_RATE else x


def make_clip(clip, out_dir: Path) -> tuple[dict, dict, dict | None]:
    """Make one clip of a gen3 kind (same contract as corpus.make_clip)."""
    from .corpus import _frames_of

    rng = np.random.default_rng(clip.seed)
    test = clip.split in TEST_SPLITS
    aug: dict = {}
    if clip.kind == "video":
        src = Path(clip.source)
        audio, _ = sf.read(str(src) + ".wav", dtype="float32")
        face = calibrate.apply(np.load(str(src) + ".npy"), calibrate.load_table())
        phones, spans, alphabet = [], [], "none"
        aug = {} if test else augment_real.draw(rng, 0.5)
    else:
        if clip.kind == "language":
            base = int(clip.source)
            from dataclasses import replace

            voice = replace(speaker_voice(base, clip.emotion, clip.level), name=clip.voice)
            utt = synthesize(clip.text, voice, clip.seed, ipa=True)
            audio = colour_voice(utt.audio, clip.emotion, clip.level, np.random.default_rng([clip.seed, 2]))
            phones, alphabet = utt.phones, "ipa"
            aug = {} if test else augment_real.draw(rng, 0.5)
        elif clip.kind == "emodb":
            audio = load_emodb(clip.source)
            utt = synthesize(clip.text, Voice(name="de"), clip.seed, ipa=True)
            spoken = [p for p in utt.phones if p.symbol and not p.symbol.startswith("(")]
            src_span = (spoken[0].start, spoken[-1].end) if spoken else (0.0, utt.duration)
            phones, alphabet = warped_phones(utt.phones, src_span, speech_span(audio)), "ipa"
            aug = {} if test else augment_real.draw(rng, 0.9)  # few real emotional voices: augment hard
        else:  # ljspeech
            audio = _load(clip.source)
            phones, alphabet = real.align(audio, clip.text.split()), "arpabet"
            aug = {} if test else augment_real.draw(rng, 0.5)
        n_frames = frames_for_samples(len(audio))
        mouth, spans = mouth_track(phones, alphabet, n_frames)
        face = compose(mouth, clip.emotion, clip.level, clip.person, rng, seal=lambda y: seal_frames(y, spans))
    n_frames = frames_for_samples(len(audio))
    if len(face) != n_frames:  # a capture's frames follow its own audio: they agree, but never trust it
        face = np.pad(face, ((0, max(0, n_frames - len(face))), (0, 0)), mode="edge")[:n_frames]
    audio = augment_real.apply(audio, aug, rng)
    from ..engine.atomic import atomic_path, save_npy

    with atomic_path(out_dir / f"{clip.name}.wav") as tmp:
        sf.write(str(tmp), audio, SAMPLE_RATE, subtype="PCM_16")
    save_npy(out_dir / f"{clip.name}.npy", face.astype(np.float32))
    row = {k: getattr(clip, k) for k in ("name", "kind", "split", "speaker", "person", "emotion", "level",
                                          "sentence", "text")}
    if clip.kind == "language":
        row["language"] = clip.voice
    if clip.kind == "video":  # the raw capture, for the evaluation's r with it
        row["source_path"] = clip.source + ".npy"
    row.update(duration=round(len(audio) / SAMPLE_RATE, 4), frames=n_frames, augmentation=aug,
               source=os.path.basename(clip.source))
    bilabial = _frames_of(spans, n_frames)
    alignment = {"alphabet": alphabet, "phones": [[p.symbol, round(p.start, 4), round(p.end, 4)] for p in phones],
                 "bilabial_seconds": [[round(a, 4), round(b, 4)] for a, b in spans], "bilabial_frames": bilabial}
    ref = None
    if test and clip.kind in ("ljspeech", "language"):
        from ..engine.arkit import INDEX

        ref = {"bilabial_frames": bilabial, "jaw_open": [round(float(v), 4) for v in mouth[:, INDEX["jawOpen"]]],
               "text": clip.text}
    return row, alignment, ref


def append(corpus_dir, sources, kinds=("video",), seed: int = 0, workers: int = 1, log=print,
           only_test: bool = False) -> dict:
    """Add the gen3 clips of ``kinds`` (default: the GRID faces, whose capture may finish after the
    rest of the corpus was built) to a built corpus: its manifest, CSV and alignments updated.
    Clips already in the manifest are replaced. ``only_test``: the held-out clips alone (an
    evaluation corpus; a folder without a manifest gets an empty one first)."""
    import time

    from ..engine.atomic import write_text
    from ..engine.constants import FPS, SAMPLE_RATE
    from .corpus import ClipPlan, _counts, load_manifest, render
    from .corpus_layout import FORMAT_VERSION, write_index

    out = Path(corpus_dir)
    if not (out / "manifest.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "manifest.json", json.dumps({
            "format_version": FORMAT_VERSION, "size": "gen3-append", "seed": seed, "sample_rate": SAMPLE_RATE,
            "fps": FPS, "emotions": list(EMOTIONS), "build_seconds": 0, "skipped": {}, "counts": {}, "clips": []}))
        write_text(out / "alignments.json", "{}")
        write_text(out / "real_reference.json", "{}")
    manifest = load_manifest(out)
    manifest.pop("root", None)
    t0 = time.perf_counter()
    root = Path(sources)
    planners = {"video": lambda: _plan_grid(root / "grid_s1", seed, ClipPlan),
                "ljspeech": lambda: _plan_ljspeech(root / "LJSpeech-1.1", seed, ClipPlan),
                "emodb": lambda: _plan_emodb(root / "emodb", seed, ClipPlan),
                "language": lambda: _plan_languages(seed, ClipPlan)}
    clips = [c for k in kinds for c in planners[k]() if not only_test or c.split in TEST_SPLITS]
    alignments = json.loads((out / "alignments.json").read_text())
    refs = json.loads((out / "real_reference.json").read_text())
    new_rows, skipped = {}, dict(manifest.get("skipped", {}))
    for name, res, err in render(clips, out, workers):
        if res is None:
            skipped[name] = err
            continue
        row, alignment, ref = res
        new_rows[name] = row
        alignments[name] = alignment
        if ref is not None:
            refs[name] = ref
    rows = [r for r in manifest["clips"] if r["name"] not in new_rows] + list(new_rows.values())
    manifest.update(clips=rows, counts=_counts(rows), skipped=skipped)
    manifest.setdefault("appended", []).append({"kinds": list(kinds), "clips": len(new_rows),
                                                "seconds": round(time.perf_counter() - t0, 1)})
    write_index(out, manifest, alignments, refs, rows)
    if log:
        log(f"{len(new_rows)} {'/'.join(kinds)} clips added to {out} in {time.perf_counter() - t0:.0f} s")
    return manifest


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.gen3",
                                 description="add gen3 sources to a built corpus")
    ap.add_argument("corpus")
    ap.add_argument("--sources", required=True, help="folder with grid_s1/, LJSpeech-1.1/, emodb/")
    ap.add_argument("--kinds", default="video", help=f"comma-separated of {', '.join(KINDS)}")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--only-test", action="store_true", help="the held-out clips alone (an evaluation corpus)")
    args = ap.parse_args(argv)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        print(f"error: --kinds {bad[0]!r}: expected {', '.join(KINDS)}", file=sys.stderr)
        return 2
    m = append(args.corpus, args.sources, kinds, workers=args.workers, only_test=args.only_test)
    print(json.dumps(m["counts"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
