"""A stock Blender (bpy 4.2 LTS and 5.2 LTS alone) with the built zip installed drives a Rigify face:
the shipped poses load from inside the installed extension, Generate (the shipped NumPy model) writes
the take onto the bones, the jaw opens where the take's jawOpen peaks, and delete leaves the rest pose."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import build_zip, espeak

ROOT = Path(__file__).resolve().parents[1]
STOCK = {"4.2": ROOT / ".venv-stock42", "5.2": ROOT / ".venv52"}

SCRIPT = r'''
import json, sys
import bpy
import addon_utils  # noqa: F401  (after bpy)
zip_path, repo_dir, wav, out = sys.argv[-4:]
bpy.ops.wm.read_factory_settings(use_empty=True)
prefs = bpy.context.preferences
prefs.extensions.repos.new(name="Stock", module="stock", custom_directory=repo_dir, source="USER")
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="stock", enable_on_install=True)
pkg = sys.modules["bl_ext.stock.emotalk_blender.emotalk_blender.blender.rigify_face"]
report = {"blender": bpy.app.version_string, "poses_file": str(pkg.poses_path())}
rig = pkg.generate_rig()
bpy.context.view_layer.objects.active = rig
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 30, 1.0
report["load"] = sorted(bpy.ops.emotalk.load_rigify_poses())
report["generate"] = sorted(bpy.ops.emotalk.generate(filepath=wav, seed=1))
action = rig.animation_data.action
report["take"] = bool(action.get("emotalk_take"))
jaw = 'pose.bones["jaw_master"].rotation_quaternion'
slot = action.slots[0] if hasattr(action, "slots") else None
curves = ([fc for layer in action.layers for strip in layer.strips for fc in strip.channelbag(slot).fcurves]
          if slot is not None else list(action.fcurves))
w = [fc for fc in curves if fc.data_path == jaw and fc.array_index == 0][0]
frames = [int(k.co[0]) for k in w.keyframe_points]
widest = min(frames, key=lambda f: w.evaluate(f))  # the smallest w: the jaw turned furthest
scene.frame_set(scene.frame_start)
rest_chin = rig.pose.bones["DEF-chin"].head.z
scene.frame_set(widest)
report["chin_drop"] = rest_chin - rig.pose.bones["DEF-chin"].head.z
report["jaw_angle"] = rig.pose.bones["jaw_master"].rotation_quaternion.angle
report["delete"] = sorted(bpy.ops.emotalk.delete_take(action=action.name))
scene.frame_set(widest)
report["rest_after_delete"] = tuple(rig.pose.bones["jaw_master"].rotation_quaternion) == (1, 0, 0, 0)
with open(out, "w") as fh:
    json.dump(report, fh)
import os  # noqa: E402
os._exit(0)  # the bpy module with Rigify enabled can crash while tearing down; the report is written
'''


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    return build_zip(tmp_path_factory.mktemp("dist"), ROOT)


@pytest.mark.parametrize("version", ["4.2", "5.2"])
def test_stock_blender_drives_a_rigify_face(version, built_zip, tmp_path):
    python = STOCK[version] / "bin" / "python"
    if not (STOCK[version] / ".installed").exists() or not python.exists():
        pytest.skip(f"no stock Blender {version} venv at {STOCK[version].name}")
    wav = espeak("Open wide and say aah, then hum a little.", tmp_path / "line.wav")
    script = tmp_path / "rig.py"
    script.write_text(SCRIPT)
    (tmp_path / "repo").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "user")
    out = tmp_path / "report.json"
    proc = subprocess.run([str(python), str(script), str(built_zip), str(tmp_path / "repo"), str(wav), str(out)],
                          capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0 and out.exists(), proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["blender"].startswith(version)
    assert str(tmp_path / "repo") in report["poses_file"]  # the poses ship inside the extension
    assert report["load"] == ["FINISHED"] and report["generate"] == ["FINISHED"] and report["take"]
    assert report["jaw_angle"] > 0.05 and report["chin_drop"] > 0.001  # the jaw opens on the open vowel
    assert report["delete"] == ["FINISHED"] and report["rest_after_delete"]
