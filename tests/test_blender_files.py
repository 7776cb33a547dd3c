"""Import and export of takes in Blender: released .npy and Live Link Face CSV."""
from pathlib import Path

import bpy
import numpy as np
import pytest

from blender_support import arkit_mesh, expected_value, mesh_with_keys
from emotalk_blender.blender import scene_writer
from emotalk_blender.engine.formats import livelinkface, motion_io
from emotalk_blender.engine.arkit import ARKIT_NAMES, INDEX

pytest_plugins = ["blender_support"]  # the `blender` fixture

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "livelinkface" / "alex_rom_3.csv"
if not FIXTURE.exists():
    FIXTURE = Path("/work/shared/data/livelinkface/alex_rom_3.csv")


def test_csv_import_makes_a_take_like_a_generated_one(blender):
    obj = arkit_mesh()
    assert bpy.ops.emotalk.import_motion(filepath=str(FIXTURE), start_frame=5) == {"FINISHED"}
    want = livelinkface.read_csv(FIXTURE)
    key = obj.data.shape_keys
    action = key.animation_data.action
    assert scene_writer.is_take(action) and action.name.startswith("EmoTalk_alex_rom_3")
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (5, 5 + len(want) - 1)
    for k in (0, 600, 2000, len(want) - 1):
        scene.frame_set(5 + k)
        for name in ("eyeBlinkLeft", "jawOpen", "browInnerUp"):
            assert key.key_blocks[name].value == pytest.approx(
                expected_value(obj, name, want[k, INDEX[name]]), abs=1e-6)
    assert "Last" not in scene.emotalk.last_take and "alex_rom_3" in scene.emotalk.last_take


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_export_round_trip_through_a_retargeted_rig(blender, tmp_path, suffix):
    # Another naming and a gain: export reads what plays, undoes the gain, released order out.
    obj = mesh_with_keys([f"AK_{i:02d}_{n[0].upper()}{n[1:]}" for i, n in enumerate(ARKIT_NAMES)])
    bpy.ops.emotalk.auto_map()
    obj.emotalk.channels[INDEX["jawOpen"]].gain = 0.5
    weights = np.random.default_rng(1).random((40, 52), dtype=np.float32) * 0.5
    src = motion_io.save_motion_npy(tmp_path / "in.npy", weights)
    assert bpy.ops.emotalk.import_motion(filepath=str(src)) == {"FINISHED"}
    out = tmp_path / f"out{suffix}"
    assert bpy.ops.emotalk.export_motion(filepath=str(out)) == {"FINISHED"}
    back = motion_io.load_motion_npy(out) if suffix == ".npy" else livelinkface.read_csv(out)
    assert back.shape == weights.shape
    np.testing.assert_allclose(back, weights, atol=1e-6)


def test_import_of_a_bad_file_is_a_report(blender, tmp_path):
    arkit_mesh()
    bad = tmp_path / "wrong.npy"
    np.save(bad, np.zeros((4, 3), np.float32))
    with pytest.raises(RuntimeError, match=r"wrong\.npy.*\(T, 52\)") as err:
        bpy.ops.emotalk.import_motion(filepath=str(bad))
    assert "Traceback" not in str(err.value)
    assert not bpy.data.actions
