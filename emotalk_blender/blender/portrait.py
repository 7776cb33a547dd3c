"""A portrait set-up for previews: a camera at eye height framing the face (close-up) or the head
and neck, three-point lighting, a neutral background; EEVEE where the machine has a GPU, else
Workbench (studio light, the materials' viewport colours). Everything is undone on exit.

Quiet rendering: Blender writes a line per frame (and, without a display, EGL errors) straight to
the process's stdout/stderr; ``quiet()`` sends both file descriptors to a log file for the
duration and prints our own one-line progress instead (the log's tail is shown on failure).
"""
from __future__ import annotations

import glob
import math
import os
import sys
import tempfile
from contextlib import contextmanager

import bpy
import numpy as np
from mathutils import Vector

from .rollback import Rollback

LENS_MM = 85.0  # a portrait lens: little perspective distortion of the face
SENSOR_MM = 36.0
BACKGROUND = (0.18, 0.19, 0.2)  # a neutral mid grey (linear)
STUDIO_LIGHT = "basic.sl"  # soft key and fill; studio.sl casts a hard nose shadow across the cheek
FRAMINGS = ("close", "head")
ENGINES = ("auto", "eevee", "workbench")


def has_gpu() -> bool:
    """A real GPU device node (NVIDIA or a DRM render node); a software renderer does not count."""
    return bool(glob.glob("/dev/nvidia[0-9]*") or glob.glob("/dev/dri/renderD*")) or sys.platform in (
        "darwin", "win32")


def eevee_id() -> str:
    """EEVEE's engine name (``BLENDER_EEVEE_NEXT`` in 4.2-4.4, ``BLENDER_EEVEE`` since)."""
    ids = {e.identifier for e in bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items}
    return "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in ids else "BLENDER_EEVEE"


def pick_engine(engine: str = "auto") -> str:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        engine = "eevee" if has_gpu() else "workbench"
    return eevee_id() if engine == "eevee" else "BLENDER_WORKBENCH"


def _group_points(obj, names) -> np.ndarray | None:
    """World positions of the vertices in the named vertex groups (None if there are none)."""
    groups = {g.index for g in obj.vertex_groups if g.name in names}
    if not groups or obj.type != "MESH":
        return None
    n = len(obj.data.vertices)
    co = np.empty(n * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    member = np.zeros(n, bool)
    for v in obj.data.vertices:  # Python loop over memberships; heads have ~25k vertices: ~10 ms
        if any(g.group in groups for g in v.groups):
            member[v.index] = True
    if not member.any():
        return None
    mw = np.array(obj.matrix_world, np.float64)
    pts = co.reshape(-1, 3)[member].astype(np.float64)
    return pts @ mw[:3, :3].T + mw[:3, 3]


def framing_box(obj, framing: str = "close"):
    """(eye height, (zlo, zhi), (xlo, xhi), front y) of the picture for ``framing``."""
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}, got {framing!r}")
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    lo, hi = corners.min(0), corners.max(0)
    eyes = _group_points(obj, ("eyeball_left", "eyeball_right"))
    if eyes is None:
        eyes = _group_points(obj, ("eyes",))
    eye_z = float(eyes[:, 2].mean()) if eyes is not None else lo[2] + 0.62 * (hi[2] - lo[2])
    if framing == "head":
        zlo, zhi = lo[2], hi[2]
        xlo, xhi = lo[0], hi[0]
    else:  # brow to chin, from the eyes and the mouth (the same proportions on any face)
        lips = _group_points(obj, ("lips",))
        mouth_z = float(lips[:, 2].mean()) if lips is not None else lo[2] + 0.35 * (hi[2] - lo[2])
        span = max(eye_z - mouth_z, 1e-3)
        zlo, zhi = mouth_z - 0.85 * span, eye_z + 0.8 * span  # chin and hairline, about
        centre_x = 0.5 * (lo[0] + hi[0])
        xlo, xhi = centre_x - 0.5 * (zhi - zlo), centre_x + 0.5 * (zhi - zlo)
    return eye_z, (float(zlo), float(zhi)), (float(xlo), float(xhi)), float(lo[1])


@contextmanager
def portrait_setup(obj, scene=None, resolution: int = 512, framing: str = "close",
                   engine: str = "auto", samples: int = 16):
    """Camera, lights, background and engine for a portrait of ``obj``; all undone on exit."""
    scene = scene or bpy.context.scene
    eye_z, (zlo, zhi), (xlo, xhi), front_y = framing_box(obj, framing)
    pad = 1.1 if framing == "close" else 1.08
    height = max(zhi - zlo, (xhi - xlo)) * pad
    centre_z = 0.5 * (zlo + zhi)
    half = math.atan(SENSOR_MM / 2 / LENS_MM)
    distance = height / 2 / math.tan(half)
    centre_x = 0.5 * (xlo + xhi)
    with Rollback(always=True) as restore:
        engine_id = pick_engine(engine)
        restore.set(scene.render, engine=engine_id, resolution_x=resolution, resolution_y=resolution,
                    resolution_percentage=100, film_transparent=False)
        if scene.world is None:
            restore.set(scene, world=restore.new(bpy.data.worlds, "EmoTalk preview"))
        world = scene.world
        restore.set(world, color=BACKGROUND)
        if engine_id == "BLENDER_WORKBENCH":
            shading = scene.display.shading
            restore.set(shading, light="STUDIO", color_type="MATERIAL", show_specular_highlight=True)
            restore.set(scene.display, render_aa="5")  # 8 samples cost twice as much for no visible gain
            studios = [s.name for s in bpy.context.preferences.studio_lights if s.type == "STUDIO"]
            if STUDIO_LIGHT in studios:
                restore.set(shading, studio_light=STUDIO_LIGHT)
        else:
            restore.set(scene.eevee, taa_render_samples=samples)
            restore.set(scene.view_settings, view_transform="Standard", look="None")  # colours as made
            if world.node_tree is not None:  # the world's shader sets EEVEE's background
                bg = next((n for n in world.node_tree.nodes if n.type == "BACKGROUND"), None)
                if bg is not None:
                    old = tuple(bg.inputs[0].default_value)
                    # darker than Workbench's: in EEVEE the world also lights the face, and the
                    # three lights should model it
                    bg.inputs[0].default_value = (*(c * 0.35 for c in BACKGROUND), 1.0)
                    restore.on_undo(lambda: setattr(bg.inputs[0], "default_value", old))
            target = Vector((centre_x, front_y, eye_z))
            for name, (az, el, power, size) in {
                "key": (-40.0, 30.0, 16.0, 0.6), "fill": (50.0, 10.0, 4.0, 1.0),
                "rim": (160.0, 40.0, 14.0, 0.4),
            }.items():
                light = restore.new(bpy.data.lights, f"EmoTalk {name}", "AREA")
                light.energy, light.size = power, size
                lobj = restore.new(bpy.data.objects, f"EmoTalk {name}", light)
                scene.collection.objects.link(lobj)
                a, e = math.radians(az), math.radians(el)
                # azimuth 0 is the camera side (-y), positive towards the character's left (+x)
                offset = Vector((math.sin(a) * math.cos(e), -math.cos(a) * math.cos(e), math.sin(e))) * 1.2
                lobj.location = target + offset
                lobj.rotation_euler = (-offset).to_track_quat("-Z", "Y").to_euler()
        cam_data = restore.new(bpy.data.cameras, "EmoTalk preview")
        cam_data.lens, cam_data.sensor_width, cam_data.sensor_fit = LENS_MM, SENSOR_MM, "AUTO"
        cam_data.clip_start, cam_data.clip_end = 0.01, distance * 4 + 1
        cam_data.shift_y = (centre_z - eye_z) / height  # level camera at eye height, face centred
        cam_data.shift_x = 0.0
        camera = restore.new(bpy.data.objects, "EmoTalk preview", cam_data)
        scene.collection.objects.link(camera)
        camera.location = (centre_x, front_y - distance, eye_z)
        camera.rotation_euler = (math.pi / 2, 0.0, 0.0)  # looking +Y, level
        restore.set(scene, camera=camera)
        yield scene


@contextmanager
def quiet(label: str = "", total: int = 0):
    """Silence Blender's C-level output (per-frame render log, EGL errors) while rendering; yields
    ``tick()`` that advances our own progress line. On an error the log's last lines are shown."""
    for s in (sys.stdout, sys.stderr):
        if s is not None:
            s.flush()
    try:
        saved = {fd: os.dup(fd) for fd in (1, 2)}
    except OSError:  # no standard streams (a GUI Blender without a console): nothing to silence
        yield lambda: None
        return
    log = tempfile.TemporaryFile(mode="w+b")
    out = os.fdopen(os.dup(saved[2]), "w")
    count = [0]

    def tick():
        count[0] += 1
        if label:
            out.write(f"\r{label}: {count[0]}/{total}" if total else f"\r{label}: {count[0]}")
            out.flush()

    try:
        for fd in (1, 2):
            os.dup2(log.fileno(), fd)
        try:
            yield tick
        except BaseException:
            log.seek(0)
            tail = log.read().decode(errors="replace").splitlines()[-15:]
            for fd, dup in saved.items():
                os.dup2(dup, fd)
            if tail:
                out.write("\n" + "\n".join(tail) + "\n")
            raise
    finally:
        for fd, dup in saved.items():
            os.dup2(dup, fd)
            os.close(dup)
        if label and count[0]:
            out.write("\n")
        out.close()
        log.close()
