"""The command line: generate one or many files, one-line errors, subcommands from the package entry point."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.cli.main import build_parser
from emotalk_blender.engine.constants import frames_for_samples
from emotalk_blender.engine.network.inference import predict
from emotalk_blender.engine.pipeline import GenerateSettings, generate, load_model

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emotalk_blender", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def test_cli_generate_one_and_many(tmp_path, tiny_checkpoint, speech_wav, long_speech_wav):
    out = tmp_path / "one.npy"
    r = run_cli("generate", speech_wav, "-o", out, "--checkpoint", tiny_checkpoint, "--seed", 3, "--level", 0.5,
                "--person", 2)
    assert r.returncode == 0, r.stderr
    y = np.load(out)
    assert y.dtype == np.float32 and y.shape == (frames_for_samples(len(load_audio(speech_wav))), 52)
    want = generate(speech_wav, GenerateSettings(level=0.5, person=2, seed=3, checkpoint=str(tiny_checkpoint)))
    assert np.array_equal(y, want)
    folder = tmp_path / "many"
    r = run_cli("generate", speech_wav, long_speech_wav, "-o", folder, "--checkpoint", tiny_checkpoint, "--raw",
                "--precision", "fp32")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["long.npy", "speech.npy"]
    raw = np.load(folder / "speech.npy")
    assert np.array_equal(raw, predict(load_model(tiny_checkpoint), load_audio(speech_wav)))


def test_cli_bad_input_one_line_error(tmp_path, tiny_checkpoint):
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    r = run_cli("generate", bad, "-o", tmp_path / "x.npy", "--checkpoint", tiny_checkpoint)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and str(bad) in r.stderr and "not a readable audio file" in r.stderr
    assert not (tmp_path / "x.npy").exists()
    r = run_cli("generate", bad, "-o", tmp_path / "x.npy", "--checkpoint", tmp_path / "none.pth", "--level", "2")
    assert r.returncode == 1 and "--level" in r.stderr


def test_cli_bad_style_is_one_line_before_any_work(tmp_path):
    missing = tmp_path / "missing.wav"
    for person, message in (("30:1", "error: --person 30:1: style index 30 is out of range 0..23"),
                            ("-1", "error: --person -1: style index -1 is out of range 0..23")):
        r = run_cli("generate", missing, "-o", tmp_path / "x.npy", "--person", person)
        assert r.returncode == 1 and r.stderr.strip() == message


def test_engine_parser_has_no_blender_command_and_the_package_adds_bake():
    engine_only = build_parser()
    commands = {"generate", "capture", "presets", "emotion"}
    assert set(engine_only._subparsers._group_actions[0].choices) == commands  # no bpy in any
    r = run_cli("bake", "--help")
    assert r.returncode == 0 and "--target-blend" in r.stdout and "--person" in r.stdout
