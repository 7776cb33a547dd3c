"""Issue 13 in real Blender: linked data and library overrides, frame limits, audio paths, the
bake command's outputs (collisions, full disk, read-only folders) and exports.

Linked data is real: a head saved to a library .blend, linked (and overridden) into a new file,
which is saved and opened again.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from blender_support import arkit_mesh, needs_audio, snapshot
from fs_support import listing, tmpfs
from emotalk_blender.blender import scene_writer

pytest_plugins = ["blender_support"]  # the `blender` fixture

ROOT = Path(__file__).resolve().parent.parent
OLD = b"an existing file that must survive"
MAXFRAME = 1_048_574


def generate(audio, checkpoint, **kw):
    return bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(audio), checkpoint=str(checkpoint), **kw)


def bake(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "emotalk_blender", "bake", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, timeout=600)


def one_line_error(proc) -> str:
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-2000:]
    return lines[0].removeprefix("error: ")


# --- linked data and library overrides ------------------------------------------------------------
@pytest.fixture
def library(blender, tmp_path):
    """A saved .blend holding the ARKit head "Face"; the session is then a new, empty file."""
    arkit_mesh(name="Face")
    path = tmp_path / "lib.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    return path


def _link(path):
    with bpy.data.libraries.load(str(path), link=True) as (_, dst):
        dst.objects = ["Face"]
    obj = dst.objects[0]
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _activate(obj):
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)


def test_linked_object_is_refused_before_work(library, tmp_path, speech_wav):
    obj = _link(library)
    _activate(obj)
    before = snapshot()
    # the checkpoint does not exist: refusing before inference means its error never shows
    with pytest.raises(RuntimeError) as err:
        generate(speech_wav, tmp_path / "none.pt")
    assert str(err.value).strip() == (
        f"Error: Object 'Face' is linked from {obj.library.filepath} "
        "and cannot keep a take in this file: make it a library override (Object > Library Override > Make) "
        "and generate again")
    assert snapshot() == before and not [a for a in bpy.data.actions if scene_writer.is_take(a)]


def test_library_override_keeps_its_take_after_save_and_reopen(library, tmp_path, speech_wav, tiny_checkpoint):
    linked = _link(library)
    obj = linked.override_create(remap_local_usages=True)
    _activate(obj)
    assert obj.data.library is not None  # the mesh, and its shape keys, are still linked
    assert generate(speech_wav, tiny_checkpoint) == {"FINISHED"}
    key = obj.data.shape_keys
    action = key.animation_data.action
    assert scene_writer.is_take(action) and key.library is None
    name, written = action.name, scene_writer.read_take(obj)
    shot = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(shot))
    bpy.ops.wm.open_mainfile(filepath=str(shot))
    obj = next(o for o in bpy.data.objects if o.override_library is not None)
    key = obj.data.shape_keys
    assert key.animation_data is not None and key.animation_data.action is not None
    assert key.animation_data.action.name == name
    np.testing.assert_allclose(scene_writer.read_take(obj), written, atol=1e-6)


@needs_audio
def test_a_failed_take_on_an_override_restores_the_linked_mesh(library, speech_wav):
    linked = _link(library)
    obj = linked.override_create(remap_local_usages=True)
    _activate(obj)
    mesh = obj.data
    scene = bpy.context.scene
    editor = scene.sequence_editor_create()
    for channel in range(1, scene_writer.MAX_CHANNELS + 1):  # no room for the sound: fails after the override
        editor.strips.new_effect(name=f"c{channel}", type="COLOR", channel=channel, frame_start=1, length=1)
    with pytest.raises(scene_writer.SequencerFull):
        scene_writer.write_take(obj, np.full((10, 52), 0.5, np.float32), audio_path=str(speech_wav))
    assert obj.data == mesh and obj.data.library is not None
    assert [m for m in bpy.data.meshes if m.override_library is not None] == []


# --- frame limits --------------------------------------------------------------------------------
@pytest.mark.parametrize("start, message", [
    (-50, "Start frame -50 is before frame 0, the earliest a scene's frame range can start: "
          "choose a start frame of 0 or later"),
    (MAXFRAME - 10, None),
])
def test_takes_outside_blenders_frame_range_are_refused(blender, tmp_path, speech_wav, tiny_checkpoint,
                                                        start, message):
    obj = arkit_mesh()
    before = snapshot()
    with pytest.raises(RuntimeError) as err:
        generate(speech_wav, tiny_checkpoint, start_frame=start)
    text = str(err.value).strip()
    if message:
        assert text == f"Error: {message}"
    else:
        assert "past Blender's last frame 1048574: start at frame" in text, text
    assert snapshot() == before and obj.data.shape_keys.animation_data is None


def test_a_take_at_frame_0_and_at_the_last_frame_fits(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    assert generate(speech_wav, tiny_checkpoint, start_frame=0) == {"FINISHED"}
    scene = bpy.context.scene
    frames = scene.frame_end - scene.frame_start + 1
    assert scene.frame_start == 0
    assert generate(speech_wav, tiny_checkpoint, start_frame=MAXFRAME - frames + 1) == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end) == (MAXFRAME - frames + 1, MAXFRAME)
    fcurves_end = max(fc.range()[1] for fc in scene_writer.compat.playing_fcurves(
        obj.data.shape_keys.animation_data)[1])
    assert fcurves_end <= MAXFRAME


# --- audio paths ---------------------------------------------------------------------------------
def test_empty_and_unsaved_relative_audio_paths(blender, tmp_path, speech_wav, tiny_checkpoint):
    arkit_mesh()
    before = snapshot()
    with pytest.raises(RuntimeError) as err:
        generate("", tiny_checkpoint)
    assert str(err.value).strip() == "Error: no audio file chosen"
    os.chdir(Path(speech_wav).parent)  # "//speech.wav" would resolve here if the cwd were used
    try:
        with pytest.raises(RuntimeError) as err:
            generate("//speech.wav", tiny_checkpoint)
    finally:
        os.chdir(ROOT)
    assert str(err.value).strip() == (
        "Error: //speech.wav: a path relative to the .blend file, but this .blend is not saved yet: "
        "save it first or choose the audio file by its full path")
    assert snapshot() == before


def test_relative_audio_path_next_to_a_saved_blend(blender, tmp_path, speech_wav, tiny_checkpoint):
    arkit_mesh()
    (tmp_path / "line.wav").write_bytes(Path(speech_wav).read_bytes())
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    assert generate("//line.wav", tiny_checkpoint) == {"FINISHED"}


# --- exports -------------------------------------------------------------------------------------
def test_export_into_a_read_only_folder(blender, tmp_path, speech_wav, tiny_checkpoint):
    arkit_mesh()
    assert generate(speech_wav, tiny_checkpoint) == {"FINISHED"}
    with tmpfs(tmp_path / "ro", "64k", {"take.csv": OLD}, read_only=True) as ro:
        with pytest.raises(RuntimeError) as err:
            bpy.ops.emotalk.export_motion(filepath=str(ro / "take.csv"))
        assert str(err.value).strip() == f"Error: {ro / 'take.csv'}: cannot write (read-only file system)"
        assert listing(ro) == ["take.csv"] and (ro / "take.csv").read_bytes() == OLD


# --- bake ----------------------------------------------------------------------------------------
def test_bake_refuses_colliding_output_names(tmp_path, speech_wav, tiny_checkpoint):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.wav").write_bytes(Path(speech_wav).read_bytes())
    proc = bake("a/x.wav", "b/x.wav", "-o", "out/", "--checkpoint", tiny_checkpoint, cwd=tmp_path)
    assert one_line_error(proc) == "a/x.wav and b/x.wav would both write out/x.blend; give them different names"
    assert listing(tmp_path) == ["a", "b"]


def test_bake_several_inputs_onto_an_existing_file(tmp_path, speech_wav, tiny_checkpoint):
    out = tmp_path / "take.blend"
    out.write_bytes(OLD)
    proc = bake(speech_wav, speech_wav, "-o", out, "--checkpoint", tiny_checkpoint)
    assert one_line_error(proc) == f"{out}: is a file, but 2 inputs need a folder here (one .blend per input)"
    assert out.read_bytes() == OLD and listing(tmp_path) == ["take.blend"]


def test_bake_into_a_read_only_folder_fails_before_work(tmp_path, speech_wav):
    with tmpfs(tmp_path / "ro", "64k", read_only=True) as ro:
        proc = bake(speech_wav, "-o", ro / "x.blend", "--checkpoint", tmp_path / "none.pt")
        assert one_line_error(proc) == f"{ro / 'x.blend'}: cannot write (read-only file system)"


def test_bake_missing_device(tmp_path, speech_wav):
    torch = pytest.importorskip("torch")
    if torch.cuda.device_count() > 1:
        pytest.skip("this machine has cuda:1")
    from emotalk_blender.engine.network.devices import available_devices

    proc = bake(speech_wav, "-o", tmp_path / "x.blend", "--device", "cuda:1", "--checkpoint", tmp_path / "none.pt")
    assert one_line_error(proc) == ("device 'cuda:1' is not available on this machine; "
                                    f"available here: {', '.join(available_devices())}")
    assert listing(tmp_path) == []


def test_bake_onto_a_full_disk_keeps_the_old_blend(tmp_path, speech_wav, tiny_checkpoint):
    with tmpfs(tmp_path / "disk", "64k", {"x.blend": OLD}) as disk:
        proc = bake(speech_wav, "-o", disk / "x.blend", "--checkpoint", tiny_checkpoint)
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert proc.stderr.strip().splitlines()[-1] == f"error: {disk / 'x.blend'}: cannot write (disk full)"
        assert "Traceback" not in proc.stderr
        assert listing(disk) == ["x.blend"] and (disk / "x.blend").read_bytes() == OLD
