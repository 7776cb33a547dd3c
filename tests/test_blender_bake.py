"""Headless batch (python -m emotalk_blender bake) and previews, with the real bpy module."""
import json
import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from blender_support import HAS_AUDIO, blender  # noqa: F401
from emotalk_blender.blender import preview, scene_writer
from emotalk_blender.engine import pipeline
from emotalk_blender.engine.arkit import INDEX

ROOT = Path(__file__).resolve().parents[1]


def _probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_type,codec_name,duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def test_bake_cli_writes_blend_and_preview_with_sound(tmp_path, speech_wav, tiny_checkpoint):
    blend, video = tmp_path / "out.blend", tmp_path / "out.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "emotalk_blender", "bake", str(speech_wav), "-o", str(blend),
         "--checkpoint", str(tiny_checkpoint), "--level", "0.4", "--person", "2", "--seed", "3",
         "--preview", str(video), "--resolution", "64"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "100%" in proc.stderr  # the progress bar ran to the end
    take = pipeline.generate(str(speech_wav), pipeline.GenerateSettings(
        level=0.4, person=2, seed=3, checkpoint=str(tiny_checkpoint)))

    streams = _probe(video)
    assert streams["video"]["codec_name"] == "h264"
    assert float(streams["video"]["duration"]) == pytest.approx(len(take) / 30, abs=0.1)
    if HAS_AUDIO:
        assert streams["audio"]["codec_name"] == "aac"

    bpy.ops.wm.open_mainfile(filepath=str(blend))
    try:
        heads = [o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys]
        assert len(heads) == 1
        key = heads[0].data.shape_keys
        assert scene_writer.is_take(key.animation_data.action)
        scene = bpy.context.scene
        assert (scene.frame_start, scene.frame_end) == (1, len(take))
        for k in (0, 15, len(take) - 1):
            scene.frame_set(1 + k)
            kb = key.key_blocks["jawOpen"]
            assert kb.value == pytest.approx(
                np.clip(take[k, INDEX["jawOpen"]], kb.slider_min, kb.slider_max), abs=1e-6)
        if HAS_AUDIO:  # the sound travels inside the file
            assert [s.packed_file is not None for s in bpy.data.sounds] == [True]
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)


def test_bake_several_inputs_to_a_folder_and_bad_input(tmp_path, speech_wav, tiny_checkpoint):
    second = tmp_path / "second.wav"
    second.write_bytes(Path(speech_wav).read_bytes())
    out = tmp_path / "takes"
    cmd = [sys.executable, "-m", "emotalk_blender", "bake", str(speech_wav), str(second),
           "-o", str(out), "--checkpoint", str(tiny_checkpoint)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["second.blend", "speech.blend"]
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    proc = subprocess.run(cmd[:4] + [str(bad), "-o", str(tmp_path / "bad.blend"),
                                     "--checkpoint", str(tiny_checkpoint)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode != 0
    assert "bad.wav" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "bad.blend").exists()


def test_create_head_and_contact_sheet_tiles_the_take(blender, tmp_path):
    assert bpy.ops.emotalk.create_head() == {"FINISHED"}  # the shipped default head
    obj = bpy.context.active_object
    assert len(obj.data.shape_keys.key_blocks) == 53
    weights = np.zeros((31, 52), np.float32)
    weights[:, INDEX["jawOpen"]] = np.linspace(0, 1, 31)
    scene_writer.write_take(obj, weights, start_frame=1)
    out = preview.render_contact_sheet(obj, tmp_path / "sheet.png", frames=[1, 11, 21, 31],
                                       columns=2, resolution=48)
    img = bpy.data.images.load(str(out))
    assert tuple(img.size) == (96, 96)
    px = np.empty(96 * 96 * 4, np.float32)
    img.pixels.foreach_get(px)
    px = px.reshape(96, 96, 4)
    tiles = [px[48:, :48], px[48:, 48:], px[:48, :48], px[:48, 48:]]  # rows run bottom-up
    assert not np.allclose(tiles[0], tiles[3])  # the first and last frames differ
    assert not np.allclose(tiles[0], tiles[0] * 0)  # the head is in the picture
    # The preview set-up is undone: no camera left, render settings back.
    assert bpy.context.scene.camera is None and "EmoTalk preview" not in bpy.data.objects
    assert bpy.context.scene.render.resolution_x != 48


ENABLED_BAKE = r'''
import argparse, importlib, sys
import bpy
import addon_utils  # after bpy: the module comes with it
repo, wav, out, ckpt = sys.argv[-4:]
prefs = bpy.context.preferences
prefs.extensions.repos.new(name="Bake", module="bake_test", custom_directory=repo, source="USER")
mod = "bl_ext.bake_test.emotalk_blender"
addon_utils.enable(mod, default_set=True)
assert mod in prefs.addons
bake = importlib.import_module(mod + ".emotalk_blender.blender.bake")
parser = argparse.ArgumentParser()
bake.add_arguments(parser)
assert bake.run(parser.parse_args([wav, "-o", out, "--checkpoint", ckpt])) == 0
assert mod in prefs.addons, "bake unloaded the extension"
'''


def test_bake_run_inside_a_blender_where_the_extension_is_enabled(tmp_path, speech_wav, tiny_checkpoint):
    """bake.run() from a script in a Blender with the extension on: it must not reset the preferences."""
    ext = tmp_path / "repo" / "emotalk_blender"  # an extension repo holding the source tree, as build.py lays it out
    ext.mkdir(parents=True)
    (ext / "blender_manifest.toml").write_text((ROOT / "blender_manifest.toml").read_text())
    (ext / "__init__.py").write_text("from .emotalk_blender import register, unregister  # noqa: F401\n")
    for name in ("emotalk_blender", "models", "flame_templates"):
        (ext / name).symlink_to(ROOT / name)
    (tmp_path / "bake.py").write_text(ENABLED_BAKE)
    blend = tmp_path / "take.blend"
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "user")}
    proc = subprocess.run([sys.executable, str(tmp_path / "bake.py"), str(ext.parent), str(speech_wav),
                           str(blend), str(tiny_checkpoint)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert blend.stat().st_size > 10_000
