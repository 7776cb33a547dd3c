"""Fuzzing harness (issue 24): property-based tests with ``hypothesis`` over every input a user or a file can give.

Any input either works or raises the project's one-line error type (EmoTalkError and its kinds); never another
exception. Covered: every CLI command's flags (generate, capture, presets, bake), the emotion-track grammar and
the other directing texts, the Live Link Face reader and writer, the presets reader and where presets are
written, the stored take settings reader, and the capture crop.

Profiles (EMOTALK_FUZZ_PROFILE): ``ci`` (default; the whole file in well under a minute on 2 cores) and
``long`` for local runs (thousands of examples per property, e.g. before a release):

    EMOTALK_FUZZ_PROFILE=long .venv/bin/python -m pytest -q tests/test_fuzz_inputs.py

A failure prints the smallest input found (hypothesis shrinks it); add it as an ``@example`` when fixed.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import string
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emotalk_blender.engine.direction import emotion as ec
from emotalk_blender.engine.direction import emotion_parsing as ep
from emotalk_blender.engine.direction import presets_file as pf
from emotalk_blender.engine.formats import livelinkface
from emotalk_blender.engine.direction import presets_store
from emotalk_blender.engine import stored_settings
from emotalk_blender.engine.capture.base import CropError, clamp_crop, fit_crop, parse_crop
from emotalk_blender.engine.cli.main import build_parser
from emotalk_blender.engine.errors import EmoTalkError
from emotalk_blender.engine.settings import parse_person

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False, database=None)
settings.register_profile("ci", max_examples=60, **_COMMON)
settings.register_profile("long", max_examples=3000, **_COMMON)
FUZZ = settings.get_profile(os.environ.get("EMOTALK_FUZZ_PROFILE", "ci"))
pytestmark = pytest.mark.filterwarnings("error")  # a numpy RuntimeWarning on the way is a finding too

# --- building blocks ------------------------------------------------------------------------------
NUMBER_TEXT = st.one_of(
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e308", "1e-320", "-0", "0x10", "1_000", "", " ", "\u0663", "1e999",
                     "0.5", "2", "-1", "30", "31", "4.0001"]),
)
TEXT = st.text(max_size=40)
ANY_TEXT = st.one_of(TEXT, NUMBER_TEXT, st.text(alphabet=string.printable, max_size=60))
LABELS = st.sampled_from([*ep.LABELS, "joy", "Happy", " sad ", ""])


def track_texts():
    """Emotion tracks: mostly near the grammar (SECONDS:EMOTION[:STRENGTH], commas), some anything."""
    entry = st.tuples(NUMBER_TEXT, LABELS, st.one_of(st.none(), NUMBER_TEXT)).map(
        lambda t: f"{t[0]}:{t[1]}" + ("" if t[2] is None else f":{t[2]}"))
    return st.one_of(st.lists(entry, min_size=1, max_size=6).map(",".join), ANY_TEXT)


def project_error_or_ok(call):
    """Run ``call``; an EmoTalkError must be one line; any other exception fails the test."""
    try:
        return call()
    except EmoTalkError as exc:
        text = str(exc)
        assert text and "\n" not in text.strip(), repr(text)
        return exc


# --- every CLI flag parser -------------------------------------------------------------------------
GENERATE_FLAGS = ["--level", "--person", "--seed", "--device", "--precision", "--backend", "--checkpoint",
                  "--emotion", "--emotion-ref", "--emotion-track", "--crossfade", "--upper-face", "--lower-face",
                  "--lip-open", "--eyelid", "--blink-strength", "--blink-rate", "--upper-smooth", "--lower-smooth",
                  "--gaze", "--gaze-seed"]
BAKE_FLAGS = [f for f in GENERATE_FLAGS] + ["--start-frame", "--resolution", "--template", "--object",
                                            "--preview"]
CAPTURE_FLAGS = ["--backend", "--capture-model", "--face-model", "--crop"]
PRESETS_FLAGS = ["--checkpoint", "--backend", "--device"]


def flag_values(flags):
    """``--flag=value`` pairs (the = keeps values that start with a dash values)."""
    pair = st.tuples(st.sampled_from(flags), st.one_of(ANY_TEXT, track_texts()))
    return st.lists(pair, max_size=5).map(lambda ps: [f"{f}={v}" for f, v in ps])


def run_command(argv):
    """Parse and run a command whose input file is missing: every flag check happens before the missing file
    stops it, so this is the whole check path without inference. Usage errors are argparse's exit 2."""
    from emotalk_blender.blender.bake import add_command as add_bake

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            args = build_parser([add_bake]).parse_args(argv)
        except SystemExit as exc:
            assert exc.code == 2, (argv, exc.code)  # argparse: usage error
            return None
        try:
            result = project_error_or_ok(lambda: args.func(args))
        except SystemExit as exc:  # bake's "--object needs --target-blend"
            assert isinstance(exc.code, str) and exc.code.startswith("error: "), exc.code
            return None
    assert isinstance(result, EmoTalkError), (argv, result)  # the input is missing: never success
    return result


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(flags=flag_values(GENERATE_FLAGS))
@example(flags=["--emotion-track=0:happy,1e308:angry"])
@example(flags=["--seed=-5"])
@example(flags=["--emotion-ref=clip.wav:nan"])
def test_generate_flags(scratch, flags):
    run_command(["generate", str(scratch / "missing.wav"), "-o", str(scratch / "out" / "t.npy"), *flags])
    assert not (scratch / "out").exists()


@FUZZ
@given(flags=flag_values(BAKE_FLAGS))
@example(flags=["--seed=-5"])
def test_bake_flags(scratch, flags):
    pytest.importorskip("bpy")
    run_command(["bake", str(scratch / "missing.wav"), "-o", str(scratch / "out" / "t.blend"), *flags])
    assert not (scratch / "out").exists()


@FUZZ
@given(flags=flag_values(CAPTURE_FLAGS), out=st.sampled_from(["t.npy", "t.csv", "t.txt", "folder/", "t"]))
@example(flags=["--crop=1000,1000,10,10"], out="t.npy")
def test_capture_flags(scratch, flags, out):
    run_command(["capture", str(scratch / "missing.mp4"), "-o", str(scratch / "out" / out), *flags])
    assert not (scratch / "out").exists()


@FUZZ
@given(pairs=st.lists(st.tuples(LABELS, ANY_TEXT).map(lambda t: f"{t[0]}={t[1]}"), min_size=1, max_size=3)
       | st.lists(ANY_TEXT, min_size=1, max_size=3),
       flags=flag_values(PRESETS_FLAGS))
def test_presets_flags(scratch, pairs, flags):
    pairs = [p if p.strip() else "x" for p in pairs]
    pairs = [p if not p.startswith("-") else "x" + p for p in pairs]  # a leading dash is a flag to argparse
    pairs = [p.replace("=", f"={scratch / 'missing'}", 1) if "=" in p else p for p in pairs]  # no real clip
    run_command(["presets", *pairs, "-o", str(scratch / "out" / "p.presets.npz"), *flags])
    assert not (scratch / "out").exists()


# --- directing texts --------------------------------------------------------------------------------
@FUZZ
@given(text=track_texts(), frames=st.integers(1, 400), crossfade=st.integers(-5, 400))
@example(text="0:happy,1e308:angry", frames=10, crossfade=10)
def test_emotion_track_grammar(text, frames, crossfade):
    entries = project_error_or_ok(lambda: ep.parse_track(text))
    if isinstance(entries, EmoTalkError):
        return
    assert all(e.frame >= 0 and e.label in ep.LABELS and 0 <= e.strength <= 1 for e in entries)
    fade = project_error_or_ok(lambda: ep.check_crossfade(crossfade))
    if not isinstance(fade, EmoTalkError):
        w = ec.track_weights(entries, frames, fade)
        assert w.shape == (frames, len(ec.COLUMNS)) and np.isfinite(w).all()


@FUZZ
@given(text=st.one_of(ANY_TEXT, st.tuples(ANY_TEXT, NUMBER_TEXT).map(":".join)))
@example(text="clip.wav:nan")
def test_emotion_name_reference_person_and_marker_texts(text):
    for parse in (ep.parse_emotion_arg, ep.parse_reference_arg, parse_person, ep.parse_marker):
        project_error_or_ok(lambda: parse(text))


# --- Live Link Face reader and writer ----------------------------------------------------------------------
CELL = st.one_of(NUMBER_TEXT, st.floats(-2, 2).map(lambda v: f"{v:.4f}"), TEXT)
TIMECODE = st.one_of(
    st.tuples(st.integers(0, 30), st.integers(0, 70), st.integers(0, 70), st.integers(0, 120),
              st.integers(0, 999)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}:{t[2]:02d}:{t[3]:02d}.{t[4]:03d}"),
    ANY_TEXT)


@st.composite
def csv_texts(draw):
    header = list(livelinkface.HEADER)
    if draw(st.booleans()):
        header = draw(st.permutations(header))[: draw(st.integers(1, len(header)))]
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    rows = [sep.join(header)]
    for _ in range(draw(st.integers(0, 5))):
        cells = [draw(TIMECODE), "61", *[draw(CELL) if draw(st.integers(0, 20)) == 0 else "0.25"
                                          for _ in range(len(header) - 2)]]
        rows.append(sep.join(cells[: draw(st.integers(len(cells) - 1, len(cells)))]))
    return "\n".join(rows) + draw(st.sampled_from(["\n", "", "\n\n,,,\n"]))


@FUZZ
@given(text=st.one_of(csv_texts(), ANY_TEXT), rate=st.one_of(st.none(), st.integers(-5, 120), st.just(0)))
def test_livelinkface_reader(scratch, text, rate):
    path = scratch / "take.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    out = project_error_or_ok(lambda: livelinkface.read_csv(path, timecode_fps=rate))
    if not isinstance(out, EmoTalkError):
        assert out.ndim == 2 and out.shape[1] == 52 and np.isfinite(out).all()


ARRAYS = st.one_of(
    st.integers(0, 6).flatmap(lambda t: st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32),
                                                min_size=t * 52, max_size=t * 52)
                              .map(lambda v, t=t: np.array(v, np.float32).reshape(t, 52))),
    st.sampled_from([np.zeros((3, 51)), np.zeros(52), np.array([["a"] * 52]), np.zeros((2, 52), complex), []]),
)


@FUZZ
@given(weights=ARRAYS, rate=st.one_of(st.integers(-60, 240), st.sampled_from([30.0, True, "60", None])),
       start=st.one_of(st.integers(-10, 10**6), st.sampled_from([1.5, None, "0"])))
@example(weights=np.zeros((4, 52), np.float32), rate=0, start=0)
def test_livelinkface_writer_round_trips_or_refuses(scratch, weights, rate, start):
    path = scratch / "written.csv"
    path.unlink(missing_ok=True)
    out = project_error_or_ok(lambda: livelinkface.write_csv(path, weights, timecode_fps=rate, start_seconds=start))
    if isinstance(out, EmoTalkError):
        assert not path.exists()  # nothing half-written
        return
    back = livelinkface.read_csv(path)
    assert back.shape == (len(weights), 52)
    np.testing.assert_allclose(back, np.clip(weights, 0, 1), atol=1e-6)


# --- presets reader and writer's destination --------------------------------------------------------------
@st.composite
def presets_files(draw):
    """Bytes of a presets-like file: an .npz of random members, a plain .npy, a broken zip, random bytes."""
    kind = draw(st.sampled_from(["npz", "npz", "npz", "npy", "zip", "bytes"]))
    buf = io.BytesIO()
    if kind == "npz":
        members = {}
        for key in draw(st.lists(st.sampled_from(["emotions", "features", "meta", "other"]), unique=True)):
            members[key] = draw(st.sampled_from([
                np.array(draw(st.lists(LABELS, max_size=4))),
                np.array(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=8))),
                np.zeros((draw(st.integers(0, 3)), draw(st.integers(0, 3))), np.float32),
                np.array(draw(st.sampled_from(['{"format": 1}', "[]", "5", "{", "null"]))),
                np.array([1 + 2j]), np.array(["neutral", "happy"]),
            ]))
        np.savez(buf, **members)
    elif kind == "npy":
        np.save(buf, np.zeros((7, 4), np.float32))
    elif kind == "zip":
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("features.npy", draw(st.binary(max_size=64)))
    else:
        buf.write(draw(st.binary(max_size=200)))
    return buf.getvalue()


@FUZZ
@given(data=presets_files())
def test_presets_reader(scratch, data):
    path = scratch / "fuzz.presets.npz"
    path.write_bytes(data)
    out = project_error_or_ok(lambda: pf.load_presets(path))
    if not isinstance(out, EmoTalkError):
        assert isinstance(out.meta, dict)
        assert all(n in ec.EMOTIONS and np.isfinite(v).all() for n, v in out.features.items())


def test_presets_reader_reads_what_it_writes(scratch):
    path = scratch / "round.presets.npz"
    pf.save_presets(path, pf.Presets({"happy": np.arange(4, dtype=np.float32)}, {"format": 1}))
    np.testing.assert_array_equal(pf.load_presets(path).features["happy"], np.arange(4))


@FUZZ
@given(output=st.one_of(st.none(), ANY_TEXT))
@example(output="a\x00.presets.npz")
def test_presets_destination_is_never_inside_the_extension(output):
    from emotalk_blender.engine import paths

    out = project_error_or_ok(lambda: presets_store.write_path(paths.default_checkpoint(), output or None))
    if not isinstance(out, EmoTalkError):
        assert not presets_store.is_shipped(out) and out.name.endswith(".npz")


# --- stored take settings -------------------------------------------------------------------------
SPECS = {"level": stored_settings.Spec("float", 0.0, 1.0), "person": stored_settings.Spec("int", 0, 23),
         "smooth": stored_settings.Spec("bool"), "filepath": stored_settings.Spec("str"),
         "emotion": stored_settings.Spec("enum", items=ec.EMOTIONS),
         "blink_rate": stored_settings.Spec("float", 0.10000000149011612, 4.0)}
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=8)


@FUZZ
@given(stored=st.one_of(st.dictionaries(st.sampled_from([*SPECS, "version", "x"]), JSON, max_size=6).map(json.dumps),
                        JSON.map(json.dumps), ANY_TEXT))
@example(stored='{"level": "abc"}')
@example(stored="[]")
@example(stored='{"filepath": 5}')
@example(stored="[" * 5000)
@example(stored='{"blink_rate": 0.1}')
def test_stored_settings_reader(stored):
    out = project_error_or_ok(lambda: stored_settings.read(stored, SPECS, "Take 'x'"))
    if isinstance(out, EmoTalkError):
        assert str(out).startswith("Take 'x': stored settings")
        return
    for name, value in out.items():
        spec = SPECS[name]
        kind = {"bool": bool, "int": int, "float": float, "str": str, "enum": str}[spec.kind]
        assert type(value) is kind, (name, value)
        if spec.kind in ("int", "float"):
            assert spec.low <= value <= spec.high and math.isfinite(value)
        if spec.kind == "enum":
            assert value in spec.items


# --- capture crop ------------------------------------------------------------------------------
@FUZZ
@given(text=st.one_of(ANY_TEXT, st.lists(NUMBER_TEXT, min_size=3, max_size=5).map(",".join)),
       width=st.integers(1, 5000), height=st.integers(1, 5000))
@example(text="1000,1000,10,10", width=360, height=288)
@example(text="0,0,100000,100000", width=360, height=288)
@example(text="\u0663,0,5,5", width=360, height=288)
def test_capture_crop(text, width, height):
    crop = project_error_or_ok(lambda: parse_crop(text))
    if crop is None or isinstance(crop, EmoTalkError):
        return
    fitted = project_error_or_ok(lambda: fit_crop(crop, width, height, "clip.mp4"))
    if isinstance(fitted, CropError):
        assert clamp_crop(crop, width, height) is None
        return
    x, y, w, h = fitted
    assert 0 <= x < width and 0 <= y < height and 1 <= w <= width - x and 1 <= h <= height - y
