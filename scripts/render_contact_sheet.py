"""Render a template set's 52 ARKit targets at weight 1 into one PNG contact sheet.

Headless, with the bpy module: Blender Workbench, MATCAP lighting (how the EmoTalk authors
rendered previews). Each cell shows one target (the first cell the neutral), labelled, with the
vertices the target moves tinted so a person can judge each shape by eye.

    .venv/bin/python scripts/render_contact_sheet.py            # -> docs/templates_contact_sheet.png
    .venv/bin/python scripts/render_contact_sheet.py --names jawOpen,eyeBlinkLeft --out /tmp/x.png
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bpy  # noqa: E402
from mathutils import Vector  # noqa: E402

from emotalk_blender.blender import head_mesh  # noqa: E402
from emotalk_blender.blender.portrait import quiet  # noqa: E402
from emotalk_blender.engine import arkit  # noqa: E402
from emotalk_blender.engine.formats import templates  # noqa: E402

SKIN = (0.80, 0.66, 0.58)
REGION_COLOURS = {"eyeball_": (0.95, 0.95, 0.93), "iris_": (0.16, 0.10, 0.07),
                  "teeth": (0.95, 0.94, 0.88), "tongue": (0.75, 0.38, 0.38),
                  "mouth_cavity": (0.45, 0.22, 0.22)}  # optional regions, painted when present
TINT = (0.35, 0.55, 0.95)  # where the target moves vertices
# Sets with material slots (the ICT-FaceKit head) are painted by the slots of their faces, in the
# colours of the add-on's materials (blender/head_materials.py); the cornea shell is left out of
# the sheets' mesh (vertex colours cannot be see-through) so the iris and pupil show.
SHEET_SLOTS = ("mouth", "gums_tongue", "teeth", "sclera", "iris", "pupil")
MATERIAL_COLOURS = {"eyelashes": (0.35, 0.27, 0.24)}  # the lash cards: opaque here, kept light


def _setup_scene(cell: int, matcap: str):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x = cell
    scene.render.resolution_y = cell
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    shading = scene.display.shading
    shading.light = "MATCAP"
    shading.studio_light = matcap
    shading.color_type = "VERTEX"
    shading.show_cavity = False
    scene.display.render_aa = "8"
    world = bpy.data.worlds.new("bg")
    world.color = (0.92, 0.92, 0.92)
    scene.world = world
    return scene


FRAME_CENTRE = (0.0, -0.09, 0.04)  # the face, in the default (ICT-FaceKit) head's coordinates
FRAME_SIZE = 0.24  # metres across the frame
# the stylised head (--generate): --centre 0,-0.06,-0.024 --size 0.175


def _camera(scene, yaw_deg: float, pitch_deg: float, centre=FRAME_CENTRE, size=FRAME_SIZE):
    """Orthographic camera framing the face (front, turned by yaw so depth shows)."""
    cam_data = bpy.data.cameras.new("cam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = size
    cam = bpy.data.objects.new("cam", cam_data)
    scene.collection.objects.link(cam)
    target = Vector(centre)
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    direction = Vector((math.sin(yaw) * math.cos(pitch), -math.cos(yaw) * math.cos(pitch), math.sin(pitch)))
    cam.location = target + direction * 1.0
    cam.rotation_euler = (-direction).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    bpy.context.view_layer.update()  # so cam.matrix_world holds the new pose
    return cam


class _Label:
    """The target's name under the head: a text curve converted to a dark mesh (Workbench shows
    vertex colours here, so the label carries its own colour attribute)."""

    def __init__(self, scene, cam):
        self.scene, self.cam = scene, cam
        self.curve = bpy.data.curves.new("label_text", "FONT")
        self.curve.align_x = "CENTER"
        self.curve.size = 0.0115
        self.source = bpy.data.objects.new("label_text", self.curve)  # not linked: only converted
        self.obj = None

    def set(self, text: str):
        if self.obj is not None:
            mesh = self.obj.data
            bpy.data.objects.remove(self.obj)
            bpy.data.meshes.remove(mesh)
        self.curve.body = text
        mesh = bpy.data.meshes.new_from_object(self.source)
        colour = mesh.color_attributes.new("moved", "FLOAT_COLOR", "POINT")
        colour.data.foreach_set("color", np.tile([0.05, 0.05, 0.05, 1.0], len(mesh.vertices)).astype(np.float32))
        self.obj = bpy.data.objects.new("label", mesh)
        self.scene.collection.objects.link(self.obj)
        self.obj.rotation_euler = self.cam.rotation_euler
        down = self.cam.matrix_world.to_3x3() @ Vector((0.0, -1.0, 0.0))
        fwd = self.cam.matrix_world.to_3x3() @ Vector((0.0, 0.0, -1.0))
        size = self.cam.data.ortho_scale
        self.obj.location = Vector(FRAME_CENTRE) + down * (0.455 * size) - fwd * 0.3
        if not hasattr(self, "plate"):  # a light strip behind the text, in front of the head
            me = bpy.data.meshes.new("plate")
            me.from_pydata([(-0.5, -0.5, 0), (0.5, -0.5, 0), (0.5, -0.41, 0), (-0.5, -0.41, 0)], [], [(0, 1, 2, 3)])
            col = me.color_attributes.new("moved", "FLOAT_COLOR", "POINT")
            col.data.foreach_set("color", np.tile([1.0, 1.0, 1.0, 1.0], 4).astype(np.float32))
            self.plate = bpy.data.objects.new("plate", me)
            self.scene.collection.objects.link(self.plate)
            self.plate.rotation_euler = self.cam.rotation_euler
            self.plate.scale = (size, size, size)
            self.plate.location = Vector(FRAME_CENTRE) - fwd * 0.25


def base_colours(ts) -> np.ndarray:
    """Skin everywhere; eyeballs, irises, teeth, tongue and mouth painted if the set names them."""
    rgb = np.tile(np.array(SKIN), (ts.num_vertices, 1))
    if ts.face_materials is not None:
        from emotalk_blender.blender.head_materials import LOOKS

        corner_slot = np.repeat(ts.face_materials, ts.face_sizes)
        colours = {slot: LOOKS[slot][0][:3] for slot in SHEET_SLOTS} | MATERIAL_COLOURS
        for slot, colour in colours.items():
            if slot in ts.material_names:
                rgb[ts.face_indices[corner_slot == ts.material_names.index(slot)]] = colour
        return rgb
    for prefix, colour in REGION_COLOURS.items():
        for name, idx in ts.regions.items():
            if name.startswith(prefix):
                rgb[idx] = colour
    return rgb


def _drop_cornea(mesh) -> None:
    """Delete the faces of the cornea slot (vertices and shape keys kept)."""
    import bmesh

    slot = mesh.materials.find("EmoTalk cornea")
    idx = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("material_index", idx)
    if slot < 0 or not (idx == slot).any():
        return
    bm = bmesh.new()
    bm.from_mesh(mesh)
    bmesh.ops.delete(bm, geom=[f for f in bm.faces if f.material_index == slot], context="FACES_ONLY")
    bm.to_mesh(mesh)
    bm.free()


def _set_colours(obj, base: np.ndarray, moved: np.ndarray):
    """Per-vertex colour: the base colour, tinted by how far the target moves each vertex."""
    mesh = obj.data
    _drop_cornea(mesh)
    attr = mesh.color_attributes.get("moved") or mesh.color_attributes.new("moved", "FLOAT_COLOR", "POINT")
    mesh.color_attributes.active_color = attr
    w = np.clip(moved, 0.0, 1.0)[:, None] ** 0.7
    rgb = (1 - 0.6 * w) * base + 0.6 * w * np.array(TINT)
    attr.data.foreach_set("color", np.hstack([rgb, np.ones((len(w), 1))]).astype(np.float32).ravel())


def _read_png(path: Path) -> np.ndarray:
    img = bpy.data.images.load(str(path))
    px = np.empty(img.size[0] * img.size[1] * 4, np.float32)
    img.pixels.foreach_get(px)
    arr = px.reshape(img.size[1], img.size[0], 4)
    bpy.data.images.remove(img)
    return arr


def _save_png(arr: np.ndarray, path: Path):
    h, w = arr.shape[:2]
    img = bpy.data.images.new("sheet", w, h, alpha=False)
    img.pixels.foreach_set(arr.astype(np.float32).ravel())
    img.filepath_raw = str(path)
    img.file_format = "PNG"
    scene = bpy.context.scene
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.compression = 100
    img.save_render(str(path), scene=scene)
    bpy.data.images.remove(img)


def render_sheet(ts: templates.TemplateSet, out: Path, names=None, cols: int = 9, cell: int = 200,
                 yaw: float = 22.0, pitch: float = 4.0, matcap: str = "clay_studio.exr",
                 centre=FRAME_CENTRE, size=FRAME_SIZE, labels: bool = True) -> Path:
    names = list(names) if names else ["neutral", *arkit.ARKIT_NAMES]
    scene = _setup_scene(cell, matcap if matcap in bpy.context.preferences.studio_lights else "basic_grey.exr")
    obj = head_mesh.build_head_object(ts, name="head")
    cam = _camera(scene, yaw, pitch, centre, size)
    label = _Label(scene, cam) if labels else None
    keys = obj.data.shape_keys.key_blocks
    base = base_colours(ts)
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, name in enumerate(names):
            for kb in keys[1:]:
                kb.value = 0.0
            if name != "neutral":
                keys[name].value = 1.0
                mag = np.linalg.norm(ts.delta(name), axis=1)
                _set_colours(obj, base, mag / max(float(mag.max()), 1e-9))
            else:
                _set_colours(obj, base, np.zeros(ts.num_vertices))
            if label is not None:
                label.set(name)
            scene.render.filepath = str(Path(tmp) / f"{k:02d}.png")
            with quiet():  # no per-frame "Saved" lines, no EGL noise
                bpy.ops.render.render(write_still=True)
            tiles.append(_read_png(Path(scene.render.filepath)))
    rows = math.ceil(len(tiles) / cols)
    sheet = np.ones((rows * cell, min(cols, len(tiles)) * cell, 4), np.float32)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y0 = (rows - 1 - r) * cell  # Blender images start at the bottom row
        sheet[y0:y0 + cell, c * cell:(c + 1) * cell] = tile
    out.parent.mkdir(parents=True, exist_ok=True)
    _save_png(sheet, out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", default=None, help="template set .npz (default: the shipped head)")
    ap.add_argument("--generate", action="store_true", help="build the default head in memory instead")
    ap.add_argument("--out", default=str(REPO / "docs" / "templates_contact_sheet.png"))
    ap.add_argument("--names", default="", help="comma-separated targets (default: neutral + all 52)")
    ap.add_argument("--cols", type=int, default=9)
    ap.add_argument("--cell", type=int, default=200)
    ap.add_argument("--yaw", type=float, default=22.0)
    ap.add_argument("--pitch", type=float, default=4.0)
    ap.add_argument("--centre", default=",".join(map(str, FRAME_CENTRE)), help="x,y,z framed (m)")
    ap.add_argument("--size", type=float, default=FRAME_SIZE, help="frame width (m)")
    args = ap.parse_args(argv)
    if args.generate:
        from emotalk_blender.training.head import make_default_head
        ts = make_default_head()
    else:
        ts = templates.load_template_set(args.template or templates.default_template_path())
    names = [n for n in args.names.split(",") if n] or None
    centre = tuple(float(c) for c in args.centre.split(","))
    path = render_sheet(ts, Path(args.out), names, args.cols, args.cell, args.yaw, args.pitch,
                        centre=centre, size=args.size, labels=args.size == FRAME_SIZE)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
