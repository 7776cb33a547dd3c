"""Headless previews of a take, to an MP4 with the take's sound (Blender's own FFMPEG output,
H.264 + AAC) or a PNG contact sheet.

Two looks: ``portrait`` (the default; ``portrait.py``: a camera at eye height on the face, three-point
light, EEVEE with a GPU, else Workbench in the materials' colours) and ``capture`` (Workbench with
MATCAP lighting and an orthographic front camera, as the EmoTalk authors rendered: the capture
ResNet's training renders use it). Blender's own per-frame log is silenced (``portrait.quiet``).
The scene's render settings are restored afterwards, and the camera and lights removed.
"""
from __future__ import annotations

import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from ..engine.atomic import OutputError, atomic_path, check_writable
from . import compat, portrait
from .rollback import Rollback

MATCAP = "basic_1.exr"  # Blender's default matcap; falls back to any matcap installed


FACE_GROUPS = ("face", "forehead", "eyes", "lips", "jaw")  # region vertex groups of our heads


def _bounds(obj):
    """World bounds of the face (its region vertex groups when present), else of the object."""
    groups = {g.index for g in obj.vertex_groups if g.name in FACE_GROUPS}
    if groups and obj.type == "MESH":
        co = np.empty(len(obj.data.vertices) * 3, np.float32)
        obj.data.vertices.foreach_get("co", co)
        member = [v.index for v in obj.data.vertices if any(g.group in groups for g in v.groups)]
        if member:
            pts = co.reshape(-1, 3)[member]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            pad = (hi - lo) * 0.12
            corners = [Vector(lo - pad), Vector(hi + pad)]
            corners = [obj.matrix_world @ c for c in corners]
            return (Vector([min(c[i] for c in corners) for i in range(3)]),
                    Vector([max(c[i] for c in corners) for i in range(3)]))
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    lo = Vector([min(c[i] for c in corners) for i in range(3)])
    hi = Vector([max(c[i] for c in corners) for i in range(3)])
    return lo, hi


@contextmanager
def preview_setup(obj, scene=None, resolution: int = 512):
    """Workbench + MATCAP, an orthographic front camera framing ``obj``; all undone on exit."""
    scene = scene or bpy.context.scene
    with Rollback(always=True) as restore:
        restore.set(scene.render, engine="BLENDER_WORKBENCH", resolution_x=resolution,
                    resolution_y=resolution, resolution_percentage=100, film_transparent=False)
        shading = scene.display.shading
        restore.set(shading, light="MATCAP", color_type="SINGLE")
        matcaps = [s.name for s in bpy.context.preferences.studio_lights if s.type == "MATCAP"]
        if matcaps:
            restore.set(shading, studio_light=MATCAP if MATCAP in matcaps else matcaps[0])
        # The face looks towards -Y (Blender's front view): the camera stands there, looking +Y.
        lo, hi = _bounds(obj)
        size = max(hi.x - lo.x, hi.z - lo.z) or 1.0
        center = (lo + hi) / 2
        cam_data = restore.new(bpy.data.cameras, "EmoTalk preview")
        cam_data.type = "ORTHO"
        cam_data.ortho_scale = size * 1.15
        cam_data.clip_end = (hi.y - lo.y + size) * 10
        camera_obj = restore.new(bpy.data.objects, "EmoTalk preview", cam_data)
        scene.collection.objects.link(camera_obj)
        camera_obj.location = (center.x, lo.y - size * 2, center.z)
        camera_obj.rotation_euler = (math.pi / 2, 0.0, 0.0)
        restore.set(scene, camera=camera_obj)
        yield scene


def _setup(obj, scene, resolution, look, framing, engine):
    if look == "capture":
        return preview_setup(obj, scene, resolution)
    if look != "portrait":
        raise ValueError(f"look must be 'portrait' or 'capture', got {look!r}")
    return portrait.portrait_setup(obj, scene, resolution, framing=framing, engine=engine)


def render_mp4(obj, out_path, scene=None, resolution: int = 512, frame_range=None, look: str = "portrait",
               framing: str = "close", engine: str = "auto", label: str = "preview") -> Path:
    """Render the scene's frame range (or ``frame_range``) to ``out_path`` (.mp4) with its sound."""
    scene = scene or bpy.context.scene
    out_path = Path(out_path).resolve()
    render = scene.render
    first, last = frame_range or (scene.frame_start, scene.frame_end)
    # Rendered to a temporary .mp4 beside the target, then moved over it: never a half video.
    with (atomic_path(out_path) as tmp, _setup(obj, scene, resolution, look, framing, engine),
          Rollback(always=True) as restore):
        restore.set(scene, frame_start=first, frame_end=last)
        restore.set(render, filepath=str(tmp), use_file_extension=False)
        restore.set(render.image_settings, **compat.image_format("VIDEO", "FFMPEG"))
        restore.set(render.ffmpeg, format="MPEG4", codec="H264", constant_rate_factor="MEDIUM",
                    audio_codec="AAC", audio_bitrate=128)
        with portrait.quiet(label, last - first + 1) as tick:
            def on_frame(*_):
                tick()

            bpy.app.handlers.render_write.append(on_frame)
            try:
                bpy.ops.render.render(animation=True, scene=scene.name)
            finally:
                bpy.app.handlers.render_write.remove(on_frame)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise OutputError(f"{out_path}: Blender did not write the preview video")
    return out_path


def render_contact_sheet(obj, out_path, scene=None, frames=None, columns: int = 4,
                         resolution: int = 256, look: str = "portrait", framing: str = "close",
                         engine: str = "auto", label: str = "") -> Path:
    """Render ``frames`` (default: 12 spread over the take) and tile them into one PNG."""
    scene = scene or bpy.context.scene
    out_path = Path(out_path).resolve()
    check_writable(out_path)  # before the renders
    if frames is None:
        frames = np.linspace(scene.frame_start, scene.frame_end, 12).round().astype(int).tolist()
    tiles = []
    with (_setup(obj, scene, resolution, look, framing, engine), tempfile.TemporaryDirectory() as tmp,
          Rollback(always=True) as restore, portrait.quiet(label, len(frames)) as tick):
        old_frame = scene.frame_current
        restore.on_undo(lambda: scene.frame_set(old_frame))
        restore.set(scene.render.image_settings, **compat.image_format("IMAGE", "PNG", color_mode="RGBA"))
        restore.set(scene.render, filepath=os.path.join(tmp, "f"))
        for frame in frames:
            scene.frame_set(int(frame))
            path = os.path.join(tmp, f"f{int(frame):06d}.png")
            scene.render.filepath = path
            bpy.ops.render.render(write_still=True, scene=scene.name)
            tick()
            img = bpy.data.images.load(path)
            px = np.empty(img.size[0] * img.size[1] * 4, np.float32)
            img.pixels.foreach_get(px)
            tiles.append(px.reshape(img.size[1], img.size[0], 4))
            bpy.data.images.remove(img)
    rows = -(-len(tiles) // columns)
    h, w = tiles[0].shape[:2]
    sheet = np.ones((rows * h, columns * w, 4), np.float32)
    for i, tile in enumerate(tiles):  # Blender's pixel rows run bottom-up
        r, c = divmod(i, columns)
        sheet[(rows - 1 - r) * h:(rows - r) * h, c * w:(c + 1) * w] = tile
    img = bpy.data.images.new("EmoTalk contact sheet", columns * w, rows * h, alpha=True)
    try:
        img.pixels.foreach_set(sheet.ravel())
        with atomic_path(out_path) as tmp:
            img.filepath_raw = str(tmp)
            img.file_format = "PNG"
            img.save()
    finally:
        bpy.data.images.remove(img)
    return out_path
