"""The built extension zip: contents, Blender's validator, install/enable/use/uninstall as a user."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import build  # noqa: E402

# Runs in a fresh Blender (its own process, its own user folders), the way a user installs:
# a user extension repository, Install from Disk with enable, then Uninstall.
INSTALL_SCRIPT = r'''
import json, os, sys
import bpy, addon_utils
zip_path, repo_dir, checkpoint, audio, out = sys.argv[-5:]
report = {}
bpy.ops.wm.read_factory_settings(use_empty=True)
prefs = bpy.context.preferences
repo = prefs.extensions.repos.new(name="EmoTalk test", module="emotalk_test",
                                  custom_directory=repo_dir, source="USER")
repo_index = list(prefs.extensions.repos).index(repo)
handler_lists = [n for n in dir(bpy.app.handlers) if isinstance(getattr(bpy.app.handlers, n), list)]
handlers_before = {n: len(getattr(bpy.app.handlers, n)) for n in handler_lists}
types_before = set(dir(bpy.types))
report["install"] = sorted(bpy.ops.extensions.package_install_files(
    filepath=zip_path, repo="emotalk_test", enable_on_install=True))
mod = "bl_ext.emotalk_test.emotalk_blender"
report["enabled"] = mod in prefs.addons
report["module_file"] = sys.modules[mod].__file__
report["new_types"] = sorted(set(dir(bpy.types)) - types_before)
report["generate_op"] = hasattr(bpy.ops.emotalk, "generate")

# Use it: preferences pick the checkpoint, the sidebar operator animates a mesh.
prefs.addons[mod].preferences.checkpoint = checkpoint
bpy.ops.emotalk.check_model()
report["status"] = sys.modules[mod + ".emotalk_blender.blender.prefs"].status_line()
from bl_ext.emotalk_test.emotalk_blender.emotalk_blender.engine.arkit import ARKIT_NAMES
scene = bpy.context.scene
scene.render.fps = 30
me = bpy.data.meshes.new("m")
me.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
obj = bpy.data.objects.new("Face", me)
scene.collection.objects.link(obj)
obj.shape_key_add(name="Basis", from_mix=False)
for n in ARKIT_NAMES:
    obj.shape_key_add(name=n, from_mix=False).value = 0.0
bpy.context.view_layer.objects.active = obj
report["generate"] = sorted(bpy.ops.emotalk.generate(filepath=audio))
report["take"] = obj.data.shape_keys.animation_data.action.name
report["ckpt_used"] = obj.data.shape_keys.animation_data.action["emotalk"]["checkpoint"]
try:
    report["head"] = sorted(bpy.ops.emotalk.create_head())
    report["head_keys"] = len(bpy.context.active_object.data.shape_keys.key_blocks)
except RuntimeError as exc:  # no default head shipped yet: must be a clear report
    report["head"] = str(exc)

report["uninstall"] = sorted(bpy.ops.extensions.package_uninstall(
    repo_index=repo_index, pkg_id="emotalk_blender"))
report["left_files"] = sorted(os.listdir(repo_dir))
report["left_types"] = sorted(set(dir(bpy.types)) - types_before)
report["left_props"] = [p for p in ("Scene", "Object", "WindowManager")
                        if hasattr(getattr(bpy.types, p), "emotalk")
                        or hasattr(getattr(bpy.types, p), "emotalk_job")]
report["left_handlers"] = {n: len(getattr(bpy.app.handlers, n)) - handlers_before[n]
                           for n in handler_lists
                           if len(getattr(bpy.app.handlers, n)) != handlers_before[n]}
report["still_enabled"] = mod in prefs.addons
try:
    bpy.ops.emotalk.generate.get_rna_type()
    report["left_ops"] = True
except KeyError:  # the operator type is gone
    report["left_ops"] = False
json.dump(report, open(out, "w"))
'''


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(ROOT / "build.py"), "--out-dir", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "validated" in proc.stdout
    return out / f"emotalk_blender-{build.version()}.zip"


def test_zip_holds_the_addon_and_no_dev_files(built_zip):
    names = zipfile.ZipFile(built_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    for needed in ("emotalk_blender/blender/operators.py", "emotalk_blender/engine/pipeline.py",
                   "emotalk_blender/engine/arkit.py", "models/emotalk_default.presets.npz"):
        assert needed in names
    bad = [n for n in names if n.startswith(("tests/", "bench/", "scripts/", ".", "dist/"))
           or "__pycache__" in n or n.endswith((".pyc", ".orig"))
           or n.startswith("emotalk_blender/training/") or n in ("build.py", "Makefile")]
    assert bad == []
    # The engine finds shipped files the same way in the zip as in the repo: same layout.
    for folder in ("models", "flame_templates"):
        shipped = sorted(p.relative_to(build.ROOT).as_posix() for p in (build.ROOT / folder).glob("*")
                         if p.is_file() and any(p.match(g) for g in build.SHIPPED[folder]))
        assert sorted(n for n in names if n.startswith(folder + "/")) == shipped


def test_blenders_validator_accepts_the_zip(built_zip):
    proc = subprocess.run(build.validator_command() + ["validate", str(built_zip)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "error" not in (proc.stdout + proc.stderr).lower()


def test_manifest_version_is_the_package_version():
    import emotalk_blender

    assert build.version() == emotalk_blender.__version__


def test_install_enable_use_uninstall_like_a_user(built_zip, tmp_path, tiny_checkpoint,
                                                  speech_wav):
    repo = tmp_path / "repo"
    repo.mkdir()
    out = tmp_path / "report.json"
    script = tmp_path / "install.py"
    script.write_text(INSTALL_SCRIPT)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = subprocess.run([sys.executable, str(script), str(built_zip), str(repo),
                           str(tiny_checkpoint), str(speech_wav), str(out)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["install"] == ["FINISHED"] and report["enabled"]
    assert report["module_file"].startswith(str(repo))  # the installed copy runs, not the repo's
    assert "EMOTALK_PT_main" in report["new_types"] and report["generate_op"]
    assert report["generate"] == ["FINISHED"] and report["take"].startswith("EmoTalk_")
    assert report["ckpt_used"] == str(tiny_checkpoint)
    assert report["status"].startswith("tiny random test model") and "on cpu" in report["status"]
    if (build.ROOT / "flame_templates" / "default_head.npz").exists():
        assert report["head"] == ["FINISHED"] and report["head_keys"] == 53
    else:
        assert "default_head.npz" in report["head"] and "Traceback" not in report["head"]
    assert report["uninstall"] == ["FINISHED"]
    assert report["left_files"] == [".blender_ext"]
    assert report["left_types"] == [] and report["left_props"] == []
    assert report["left_handlers"] == {} and not report["still_enabled"]
    assert not report["left_ops"]
