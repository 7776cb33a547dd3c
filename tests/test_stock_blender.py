"""A stock Blender (4.2 LTS and 5.2 LTS: bpy alone, no torch/scipy/soundfile) runs the built zip.

Each stock venv (``make setup-stock42``, ``make setup52``) is driven as a subprocess from the main
venv: the zip is installed and enabled the way a user does it, Create head makes the default head,
Generate runs on spoken 16-bit WAVs at 16 kHz and 22.05 kHz, and the take read back frame by frame
equals the torch CLI's output (this venv) for the same settings and seed within 1e-4 after the
shape keys' slider clamping. A released checkpoint configured without torch gives a one-line
message pointing to Install PyTorch; bake and its preview MP4 run there too (the installed command line).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import build_zip, espeak

ROOT = Path(__file__).resolve().parents[1]
STOCK = {"4.2": ROOT / ".venv-stock42", "5.2": ROOT / ".venv52"}
SETUP = {"4.2": "make setup-stock42", "5.2": "make setup52"}
LEVEL, PERSON, SEED = 0.7, 3, 5

STOCK_SCRIPT = r'''
import json, os, sys, importlib.util
import bpy
import addon_utils  # after bpy: the module comes with it
zip_path, repo_dir, wav16, wav22, fake_pth, level, person, seed, out_dir = sys.argv[-9:]
level, person, seed = float(level), int(person), int(seed)
report = {"blender": bpy.app.version_string,
          "missing": [m for m in ("torch", "scipy", "soundfile") if importlib.util.find_spec(m) is None],
          "aud": bool(bpy.app.build_options.audaspace)}
bpy.ops.wm.read_factory_settings(use_empty=True)
prefs = bpy.context.preferences
prefs.extensions.repos.new(name="Stock", module="stock", custom_directory=repo_dir, source="USER")
report["install"] = sorted(bpy.ops.extensions.package_install_files(filepath=zip_path, repo="stock",
                                                                    enable_on_install=True))
mod = "bl_ext.stock.emotalk_blender"
report["enabled"] = mod in prefs.addons
pkg = mod + ".emotalk_blender"
ap = prefs.addons[mod].preferences
prefs_mod = sys.modules[pkg + ".blender.prefs"]
from importlib import import_module
report["names"] = list(import_module(pkg + ".engine.arkit").ARKIT_NAMES)
bpy.ops.emotalk.check_model()
report["status"] = prefs_mod.status_line()

scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 30, 1.0
report["head"] = sorted(bpy.ops.emotalk.create_head())
obj = bpy.context.active_object
key = obj.data.shape_keys
report["sliders"] = {kb.name: [kb.slider_min, kb.slider_max] for kb in key.key_blocks}

def take(wav, start):
    result = sorted(bpy.ops.emotalk.generate(filepath=wav, level=level, person=person, seed=seed,
                                             start_frame=start))
    action = key.animation_data.action
    frames = int(round(max(kp.co[0] for fc in _fcurves(action) for kp in fc.keyframe_points)))
    rows = []
    for f in range(start, frames + 1):
        scene.frame_set(f)
        rows.append([key.key_blocks[n].value for n in report["names"]])
    return result, rows, action["emotalk"]["backend"] if "backend" in action["emotalk"] else None

def _fcurves(action):
    if hasattr(action, "layers"):  # slotted actions (4.4+)
        return [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags
                for fc in bag.fcurves]
    return list(action.fcurves)

import numpy as np
for tag, wav in (("16k", wav16), ("22k", wav22)):
    result, rows, backend = take(wav, 1)
    report["generate_" + tag] = result
    report["backend_" + tag] = backend
    np.save(os.path.join(out_dir, f"take_{tag}.npy"), np.asarray(rows, dtype=np.float64))
editor = scene.sequence_editor
strips = [] if editor is None else list(editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all)
report["sound_strips"] = [s.type for s in strips]

# A released checkpoint configured in a Blender without torch: a message, never a traceback.
ap.checkpoint = fake_pth
report["pth_status"] = prefs_mod.status_line()
try:
    bpy.ops.emotalk.generate(filepath=wav16)
    report["pth_generate"] = "FINISHED"
except RuntimeError as exc:
    report["pth_generate"] = str(exc)
ap.checkpoint = ""

json.dump(report, open(os.path.join(out_dir, "report.json"), "w"))
'''


def _stock_python(version: str) -> Path:
    venv = STOCK[version]
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists() or not python.exists():
        pytest.skip(f"no stock Blender {version} venv at {venv.name} (run `{SETUP[version]}`; CI does)")
    return python


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    return build_zip(tmp_path_factory.mktemp("dist"), ROOT)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict:
    """A spoken utterance as 16-bit PCM WAV at 22.05 kHz (espeak-ng's rate) and at 16 kHz (ffmpeg)."""
    d = tmp_path_factory.mktemp("stock_speech")
    wav22 = espeak("Maybe we should bring the purple umbrella to the market.", d / "line_22k.wav")
    wav16 = d / "line_16k.wav"
    subprocess.run([shutil.which("ffmpeg") or "ffmpeg", "-v", "error", "-y", "-i", str(wav22), "-ar", "16000",
                    "-ac", "1", "-c:a", "pcm_s16le", str(wav16)], check=True)
    return {"16k": wav16, "22k": wav22}


@pytest.fixture(scope="module")
def torch_takes(speech, tmp_path_factory) -> dict:
    """The torch CLI's takes (this venv) for the same audio, settings and seed."""
    pytest.importorskip("torch")
    d = tmp_path_factory.mktemp("torch_takes")
    cli = [sys.executable, "-m", "emotalk_blender", "generate"]
    usage = subprocess.run(cli + ["--help"], capture_output=True, text=True, cwd=ROOT).stdout
    fp32 = ["--precision", "fp32"] if "--precision" in usage else []  # the stock side computes in fp32
    takes = {}
    for tag, wav in speech.items():
        out = d / f"{tag}.npy"
        proc = subprocess.run(cli + [str(wav), "-o", str(out), "--level", str(LEVEL), "--person", str(PERSON),
                                     "--seed", str(SEED), "--backend", "torch", "--device", "cpu", *fp32],
                              capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        takes[tag] = np.load(out)
    return takes


@pytest.mark.parametrize("version", ["4.2", "5.2"])
def test_stock_blender_runs_the_built_zip(version, built_zip, speech, torch_takes, tmp_path, record_property):
    python = _stock_python(version)
    script = tmp_path / "stock.py"
    script.write_text(STOCK_SCRIPT)
    repo = tmp_path / "repo"
    repo.mkdir()
    fake_pth = tmp_path / "EmoTalk.pth"
    fake_pth.write_bytes(b"not opened: torch is missing")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "user")
    proc = subprocess.run([str(python), str(script), str(built_zip), str(repo), str(speech["16k"]),
                           str(speech["22k"]), str(fake_pth), str(LEVEL), str(PERSON), str(SEED), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())

    assert report["blender"].startswith(version)
    assert report["missing"] == ["torch", "scipy", "soundfile"]  # a stock Blender's Python
    assert report["aud"] == (version != "4.2")  # the bpy 4.2 wheel decodes with the stdlib's wave
    assert report["install"] == ["FINISHED"] and report["enabled"]
    assert "numpy" in report["status"].lower() and "Traceback" not in report["status"]
    assert report["head"] == ["FINISHED"]
    lo, hi = np.array([report["sliders"][n] for n in report["names"]]).T
    for tag in ("16k", "22k"):
        assert report[f"generate_{tag}"] == ["FINISHED"]
        take = np.load(tmp_path / f"take_{tag}.npy")
        expected = np.clip(torch_takes[tag], lo, hi)  # what a shape key shows of the torch take
        assert take.shape == expected.shape
        diff = float(np.abs(take - expected).max())
        record_property(f"max_diff_{tag}", diff)  # in --junitxml reports
        assert diff <= 1e-4, f"{version} {tag}: max |stock - torch| = {diff:.2e}"
        assert float(take.std()) > 0.01  # a real take, not a flat line
    if report["aud"]:
        assert "SOUND" in report["sound_strips"]

    for text in (report["pth_status"], report["pth_generate"]):
        assert "EmoTalk.pth" in text and "Install PyTorch" in text, text
        assert "Traceback" not in text and "\n" not in text.strip()

    # Bake and its preview, headless, as a TD runs them: the installed extension's own command line.
    blend, mp4 = tmp_path / "bake.blend", tmp_path / "bake.mp4"
    proc = subprocess.run([str(python), "-m", "emotalk_blender", "bake", str(speech["16k"]), "-o", str(blend),
                           "--preview", str(mp4), "--resolution", "96", "--level", str(LEVEL),
                           "--person", str(PERSON), "--seed", str(SEED)],
                          capture_output=True, text=True, env=env, timeout=900, cwd=repo / "emotalk_blender")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert blend.stat().st_size > 10_000 and mp4.stat().st_size > 1000
