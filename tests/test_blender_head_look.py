"""The default head as a preview shows it (real bpy, Workbench renders): eyes with a visible iris
and pupil, an open mouth that reads dark with teeth."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from blender_support import evaluated_coords

from emotalk_blender.blender import head_materials, portrait
from emotalk_blender.engine.formats import templates

pytest_plugins = ["blender_support"]

SIZE = 128


def _luma(rgb) -> float:
    r, g, b = rgb[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _render(obj, tmp_path, point, lens: float, name: str) -> np.ndarray:
    """A Workbench render (the default preview engine without a GPU) looking level at ``point``."""
    with portrait.portrait_setup(obj, resolution=SIZE, framing="close", engine="workbench") as scene:
        cam = scene.camera
        cam.data.lens, cam.data.shift_x, cam.data.shift_y = lens, 0.0, 0.0
        cam.location.x, cam.location.z = float(point[0]), float(point[2])
        scene.render.filepath = str(tmp_path / name)
        with portrait.quiet():
            bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(str(tmp_path / name))
    try:
        px = np.array(img.pixels[:], np.float32).reshape(SIZE, SIZE, 4)[::-1]  # row 0 = top
    finally:
        bpy.data.images.remove(img)
    return 0.2126 * px[..., 0] + 0.7152 * px[..., 1] + 0.0722 * px[..., 2]


@pytest.fixture()
def head(blender):
    assert bpy.ops.emotalk.create_head() == {"FINISHED"}
    obj = bpy.context.active_object
    return obj, templates.load_template_set(templates.default_template_path())


def test_the_eye_shows_iris_and_pupil_in_workbench(head, tmp_path):
    obj, ts = head
    iris = ts.neutral[ts.region("iris_left")]
    eye = _render(obj, tmp_path, iris.mean(0), 400.0, "eye.png")
    c = SIZE // 2
    row = eye[c]
    pupil = eye[c - 2:c + 3, c - 2:c + 3].mean()
    iris_ring = np.r_[row[c - 16:c - 8], row[c + 8:c + 16]].mean()
    sclera = max(row[c - 32:c - 22].max(), row[c + 22:c + 32].max())
    # sclera clearly lighter than the iris, the pupil darker than the iris
    assert sclera > 1.8 * iris_ring, (sclera, iris_ring)
    assert pupil < 0.8 * iris_ring, (pupil, iris_ring)
    # Workbench draws the cornea shell fully clear, EEVEE nearly so: it cannot veil the iris
    assert obj.data.materials[ts.material_names.index("cornea")].diffuse_color[3] == 0.0


def test_eye_colours_are_natural():
    sclera, iris, pupil = (head_materials.LOOKS[s][0] for s in ("sclera", "iris", "pupil"))
    assert _luma(sclera) > 0.6 and max(sclera[:3]) - min(sclera[:3]) < 0.15  # off-white
    assert _luma(pupil) < 0.01
    assert 0.03 < _luma(iris) < 0.3 * _luma(sclera)


def test_an_open_mouth_reads_dark_with_off_white_teeth(head, tmp_path):
    obj, ts = head
    obj.data.shape_keys.key_blocks["jawOpen"].value = 0.6
    idx = ts.region("lips")
    lips = ts.neutral[idx] + 0.6 * ts.delta("jawOpen")[idx]
    centre = lips.mean(0)  # with the jaw open: between the lips
    img = _render(obj, tmp_path, centre, 200.0, "mouth.png")
    c = SIZE // 2
    inside = img[c - 3:c + 4, c - 6:c + 7].mean()  # the opening between the lips
    skin = np.median(img[4:16, c - 20:c + 20])  # upper lip and philtrum
    assert inside < 0.3 * skin, (inside, skin)
    teeth, mouth, tongue = (head_materials.LOOKS[s][0] for s in ("teeth", "mouth", "gums_tongue"))
    assert 0.3 < _luma(teeth) < 0.8  # off-white, not paper white
    assert _luma(mouth) < 0.01 and _luma(tongue) < 0.05 and tongue[0] > 3 * tongue[1]  # dark reds


def test_head_motion_turns_the_head_on_a_still_neck(head):
    from emotalk_blender.blender import head_motion_writer, scene_writer

    obj, ts = head
    arm, bone = head_motion_writer.head_target(obj)
    assert arm is not obj and bone == "head"  # Create head's own neck rig
    motion = np.zeros((12, 3), np.float32)
    motion[:, 0], motion[:, 1], motion[:, 2] = 8.0, 15.0, 5.0  # pitch, yaw, roll (degrees)
    take = scene_writer.write_take(obj, np.zeros((12, 52), np.float32), head=motion)
    bpy.context.scene.frame_set(take.start + 6)
    co = evaluated_coords(obj, world=True)
    moved = np.linalg.norm(co - ts.neutral, axis=1)
    cut = ts.neutral[:, 2] < ts.neutral[:, 2].min() + 0.005  # the neck's lowest vertices
    assert cut.sum() > 20 and moved[cut].max() < 2e-4  # the neck base stays (under 0.2 mm)
    eyes = ts.region("eyeball_left")
    assert moved[eyes].mean() > 0.02  # the face turns (a 15 degree yaw moves the eyes cm)
    assert co[eyes, 0].mean() > ts.neutral[eyes, 0].mean() + 0.01  # towards the character's left
    assert obj.matrix_world.to_quaternion().angle == 0  # the object itself is not rotated
    assert np.allclose(head_motion_writer.rotation_of(arm, bone), motion[6], atol=1e-3)
    # the neck bends smoothly: halfway up the neck moves, less than the head
    mid = np.abs(ts.neutral[:, 2] - 0.5 * ts.neutral[:, 2].min()) < 0.003
    assert 0 < np.median(moved[mid]) < moved[eyes].mean()
