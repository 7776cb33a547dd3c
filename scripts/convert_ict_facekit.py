"""Convert the ICT-FaceKit face model (USC ICT Vision and Graphics Lab, MIT licence) to a template set.

    .venv/bin/python scripts/convert_ict_facekit.py /path/to/ICT-FaceKit/FaceXModel
        -> flame_templates/ict_facekit.npz (the default head)

Re-runnable and deterministic: the same ICT folder gives the same file. The OBJs are not part of
this repository (fetch ``ICT-VGL/ICT-FaceKit``); only the converted set is committed.

What it does (see flame_templates/README.md, "The ICT-FaceKit head"):
- centimetres, Y up, face towards +Z  ->  metres, Blender's +Z up, face towards -Y (x, -z, y);
- parts kept: face, head and neck, mouth socket, eye sockets, gums and tongue, teeth, eyeballs,
  eyelashes; dropped: lacrimal fluid, eye blend and eye occlusion (screen-space helpers of
  Unreal's eye shader that render as grey shells elsewhere);
- the 52 ARKit targets: ``foo_L``/``foo_R`` -> ``fooLeft``/``fooRight`` (ICT's _L is the
  character's left, +X, as ARKit's Left); ``browInnerUp`` and ``cheekPuff`` are the sum of ICT's
  two halves; ``tongueOut`` is authored here on the tongue; ``eyeLook*`` add a rotation of the
  eyeball about its fitted centre to ICT's lid motion; ICT's extras ``cheekRaiser_*`` and
  ``PupilDilate_*`` are dropped (the format holds the 52 ARKit targets only);
- deltas below 0.01 mm are set to zero, then stored as float16 where that keeps every target's
  error under 0.05 mm (else float32);
- the first K identity components (ICT's PCA modes, weights ~ N(0, 1)) as float16 offsets;
- per-corner UVs and per-face material slots (skin, sclera, cornea, iris, pupil, teeth,
  gums/tongue, mouth, eyelashes) for Create head's procedural materials.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emotalk_blender.engine.formats import templates  # noqa: E402
from emotalk_blender.engine.arkit import ARKIT_NAMES  # noqa: E402

OUT = REPO / "flame_templates" / "ict_facekit.npz"
CM = 0.01
ZERO_BELOW = 1e-5  # m: offsets under 0.01 mm are noise of the scan registration; zeros compress
MAX_FP16_ERROR = 5e-5  # m: 0.05 mm
DEFAULT_K = 20  # components 20..99 move the face by under 0.3 mm rms each

# ICT-FaceKit README: vertex ranges of the parts (inclusive).
PARTS = {
    "face": (0, 9408), "head_neck": (9409, 11247), "mouth_socket": (11248, 13293),
    "eye_socket_left": (13294, 13677), "eye_socket_right": (13678, 14061),
    "gums_tongue": (14062, 17038), "teeth": (17039, 21450),
    "eyeball_left": (21451, 23020), "eyeball_right": (23021, 24590),
    "lacrimal_left": (24591, 24794), "lacrimal_right": (24795, 24998),
    "eye_blend_left": (24999, 25022), "eye_blend_right": (25023, 25046),
    "eye_occlusion_left": (25047, 25198), "eye_occlusion_right": (25199, 25350),
    "eyelashes_left": (25351, 26034), "eyelashes_right": (26035, 26718),
}
DROPPED = ("lacrimal_left", "lacrimal_right", "eye_blend_left", "eye_blend_right",
           "eye_occlusion_left", "eye_occlusion_right")
SCLERA = {"left": (21451, 22220), "right": (23021, 23790)}
IRIS = {"left": (22221, 23020), "right": (23791, 24590)}
UPPER_TEETH, LOWER_TEETH = (17039, 19246), (19247, 21450)
NARROW_FACE = (0, 6705)

MATERIALS = ("skin", "mouth", "gums_tongue", "teeth", "sclera", "cornea", "iris", "pupil", "eyelashes")
PUPIL_DEG, LIMBUS_DEG = 7.0, 25.0  # angles from the eye's axis (fitted to the iris disc)

# eyeLook*: eyeball rotation (degrees) added to ICT's lid motion; ARKit's In is towards the nose.
LOOK_DEG = {"Up": 25.0, "Down": 25.0, "In": 30.0, "Out": 30.0}
# tongueOut (cm in ICT space): the tongue's front slides forward and up, its root stays.
TONGUE_FORWARD, TONGUE_UP = 2.0, 0.9


# --------------------------------------------------------------------------- OBJ reading

def read_obj(path: Path, full: bool = False):
    """Vertices (V, 3) float64; with ``full`` also UVs, faces (vertex and UV indices) and materials."""
    vs, vts, fv, fuv, sizes, mats = [], [], [], [], [], []
    material = ""
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                vs.append(line[2:])
            elif not full:
                continue
            elif line.startswith("vt "):
                vts.append(line[3:])
            elif line.startswith("f "):
                corners = [c.split("/") for c in line.split()[1:]]
                fv.extend(int(c[0]) - 1 for c in corners)
                fuv.extend(int(c[1]) - 1 for c in corners)
                sizes.append(len(corners))
                mats.append(material)
            elif line.startswith("usemtl"):
                material = line.split()[1]
    v = np.array(" ".join(vs).split(), np.float64).reshape(-1, 3)
    if not full:
        return v
    uv = np.array(" ".join(vts).split(), np.float64).reshape(-1, 2)[:, :2]
    return v, uv, np.array(fv), np.array(fuv), np.array(sizes), np.array(mats)


def to_blender(v_cm: np.ndarray) -> np.ndarray:
    """ICT (cm, +Y up, face +Z) -> metres, +Z up, face -Y, character's left +X."""
    return np.stack([v_cm[..., 0], -v_cm[..., 2], v_cm[..., 1]], axis=-1) * CM


def part_range(name):
    a, b = PARTS[name]
    return np.arange(a, b + 1)


# --------------------------------------------------------------------------- authored targets

def fit_sphere(points: np.ndarray):
    """Least-squares sphere (centre, radius)."""
    a = np.c_[2 * points, np.ones(len(points))]
    sol = np.linalg.lstsq(a, (points ** 2).sum(1), rcond=None)[0]
    centre = sol[:3]
    return centre, float(np.sqrt(sol[3] + centre @ centre))


def eye_axis(neutral, side):
    """Eye centre (sclera sphere) and gaze axis (towards the iris disc's centre), ICT space."""
    centre, _ = fit_sphere(neutral[SCLERA[side][0]:SCLERA[side][1] + 1])
    iris = neutral[IRIS[side][0]:IRIS[side][1] + 1] - centre
    dirs = iris / np.linalg.norm(iris, axis=1, keepdims=True)
    axis = np.array([0.0, 0.0, 1.0])
    for _ in range(3):  # the disc is the iris vertices near the axis
        near = dirs @ axis > np.cos(np.radians(LIMBUS_DEG))
        axis = dirs[near].mean(0)
        axis /= np.linalg.norm(axis)
    return centre, axis


def rotation(axis, deg):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    x, y, z = axis
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + s * k + (1 - c) * k @ k


def eyeball_rotation_delta(neutral, side, direction):
    """Offsets (V, 3) in ICT space turning one eyeball about its centre: Up/Down/In/Out."""
    centre, _ = eye_axis(neutral, side)
    sign_x = 1.0 if side == "left" else -1.0  # left eye at +X; "Out" is away from the nose
    # Right-handed rotations in ICT space (+X character's left, +Y up, +Z front).
    axis, deg = {
        "Up": ((1.0, 0, 0), -LOOK_DEG["Up"]),      # front (+Z) turns to +Y
        "Down": ((1.0, 0, 0), LOOK_DEG["Down"]),
        "Out": ((0, 1.0, 0), sign_x * LOOK_DEG["Out"]),   # +Z turns to +X for the left eye
        "In": ((0, 1.0, 0), -sign_x * LOOK_DEG["In"]),
    }[direction]
    rot = rotation(axis, deg)
    idx = part_range(f"eyeball_{side}")
    delta = np.zeros_like(neutral)
    p = neutral[idx] - centre
    delta[idx] = p @ rot.T - p
    return delta


def tongue_weights(neutral, jaw_open_delta):
    """Per-vertex weight (0..1) of the tongue inside the gums-and-tongue part: the lower part
    (carried by jawOpen) away from the teeth (the gums hug the teeth)."""
    from scipy.spatial import cKDTree  # converter only (not the runtime)

    idx = part_range("gums_tongue")
    move = np.linalg.norm(jaw_open_delta[idx], axis=1)
    lower = move > 0.5 * np.linalg.norm(jaw_open_delta, axis=1).max()
    teeth = neutral[part_range("teeth")]
    dist, _ = cKDTree(teeth).query(neutral[idx])
    w = np.clip((dist - 0.15) / 0.35, 0, 1) * lower
    w = w * w * (3 - 2 * w)
    out = np.zeros(len(neutral))
    out[idx] = w
    return out


def tongue_out_delta(neutral, weights):
    """tongueOut (ICT space): the tongue's front slides forward past the teeth and rises a little;
    the motion grows from the root (back) to the tip."""
    idx = np.flatnonzero(weights > 0)
    z = neutral[idx, 2]
    z0, z1 = np.percentile(z, 2), z.max()
    ramp = np.clip((z - z0) / (z1 - z0), 0, 1) ** 1.5
    delta = np.zeros_like(neutral)
    delta[idx, 2] = TONGUE_FORWARD * ramp * weights[idx]
    delta[idx, 1] = TONGUE_UP * ramp * weights[idx]
    return delta


def neck_pivot(neutral_cm):
    """The head's origin (metres, Blender axes): a neck pivot near the atlas joint, on the midline
    at the height of the lower teeth's roots and at the middle of the neck's depth (behind and
    below the jaw), so rotating the object nods and turns the head about the neck."""
    neck = neutral_cm[part_range("head_neck")]
    y = neutral_cm[LOWER_TEETH[0]:LOWER_TEETH[1] + 1, 1].min()
    ring = neck[np.abs(neck[:, 1] - (y - 4.0)) < 1.0]  # the neck's cross-section 4 cm lower
    z = 0.5 * (ring[:, 2].min() + ring[:, 2].max())
    return to_blender(np.array([0.0, y, z]))


# --------------------------------------------------------------------------- conversion

def ict_name(arkit_name: str) -> list[str]:
    """ICT file stems whose sum is an ARKit target ([] = authored here)."""
    if arkit_name == "tongueOut":
        return []
    if arkit_name in ("browInnerUp", "cheekPuff"):
        return [arkit_name + "_L", arkit_name + "_R"]
    if arkit_name in ("jawLeft", "jawRight", "mouthLeft", "mouthRight"):  # directions, not sides
        return [arkit_name]
    for side, suffix in (("Left", "_L"), ("Right", "_R")):
        if arkit_name.endswith(side):
            return [arkit_name[: -len(side)] + suffix]
    return [arkit_name]


def face_materials(neutral, fv, sizes, ict_mats):
    """Material slot index per face."""
    face_of_corner = np.repeat(np.arange(len(sizes)), sizes)
    centroid = np.zeros((len(sizes), 3))
    np.add.at(centroid, face_of_corner, neutral[fv])
    centroid /= sizes[:, None]
    first = fv[np.cumsum(sizes) - sizes]
    slot = np.full(len(sizes), MATERIALS.index("skin"))
    by_ict = {"M_Teeth": "teeth", "M_GumsTongue": "gums_tongue", "M_EyeLashes": "eyelashes"}
    for ict, ours in by_ict.items():
        slot[ict_mats == ict] = MATERIALS.index(ours)
    for part in ("mouth_socket",):
        a, b = PARTS[part]
        slot[(first >= a) & (first <= b)] = MATERIALS.index("mouth")
    for side in ("left", "right"):
        centre, axis = eye_axis(neutral, side)
        rel = centroid - centre
        ang = np.degrees(np.arccos(np.clip(rel @ axis / np.linalg.norm(rel, axis=1), -1, 1)))
        sclera = (first >= SCLERA[side][0]) & (first <= SCLERA[side][1])
        iris = (first >= IRIS[side][0]) & (first <= IRIS[side][1])
        slot[sclera] = MATERIALS.index("sclera")
        slot[sclera & (ang < LIMBUS_DEG + 2)] = MATERIALS.index("cornea")
        slot[iris] = MATERIALS.index("iris")
        slot[iris & (ang < PUPIL_DEG)] = MATERIALS.index("pupil")
        # the inner ball's back and the shell's inside show through the pupil's opening: dark,
        # as in an eye
        slot[iris & (ang > 40)] = MATERIALS.index("pupil")
        slot[sclera & (ang > 100)] = MATERIALS.index("pupil")
    return slot


def quantise(deltas: np.ndarray, label: str, report: list):
    """Zero sub-0.01 mm offsets; float16 when every offset stays within 0.05 mm, else float32."""
    d = np.where(np.linalg.norm(deltas, axis=-1, keepdims=True) < ZERO_BELOW, 0.0, deltas)
    half = d.astype(np.float16)
    err = float(np.abs(half.astype(np.float64) - deltas).max())
    if err < MAX_FP16_ERROR:
        report.append(f"{label}: float16, max error {err * 1e3:.4f} mm")
        return half
    report.append(f"{label}: float32 (float16 error {err * 1e3:.4f} mm)")
    return d.astype(np.float32)


def convert(folder: Path, k: int = DEFAULT_K, verbose: bool = True):
    """Returns (TemplateSet, report lines)."""
    folder = Path(folder)
    if (folder / "FaceXModel").is_dir():
        folder = folder / "FaceXModel"
    if not (folder / "generic_neutral_mesh.obj").is_file():
        raise SystemExit(f"{folder}: not an ICT-FaceKit FaceXModel folder (no generic_neutral_mesh.obj)")
    neutral, uv, fv, fuv, sizes, ict_mats = read_obj(folder / "generic_neutral_mesh.obj", full=True)
    n_all = len(neutral)

    def shape(stem):
        v = read_obj(folder / f"{stem}.obj")
        if v.shape != neutral.shape:
            raise SystemExit(f"{folder / stem}.obj: {len(v)} vertices, the neutral has {n_all}")
        return v - neutral

    deltas = np.zeros((len(ARKIT_NAMES), n_all, 3))
    for i, name in enumerate(ARKIT_NAMES):
        for stem in ict_name(name):
            deltas[i] += shape(stem)
    jaw = deltas[ARKIT_NAMES.index("jawOpen")]
    tongue_w = tongue_weights(neutral, jaw)
    deltas[ARKIT_NAMES.index("tongueOut")] = tongue_out_delta(neutral, tongue_w)
    for side, suffix in (("left", "Left"), ("right", "Right")):
        for direction in LOOK_DEG:
            deltas[ARKIT_NAMES.index(f"eyeLook{direction}{suffix}")] += \
                eyeball_rotation_delta(neutral, side, direction)
    with open(folder / "vertex_indices.json") as fh:
        json.load(fh)  # present in every FaceXModel folder; not needed beyond the README ranges
    identities = [shape(f"identity{j:03d}") for j in range(k)]

    # Keep the parts we render; remap faces.
    keep = np.ones(n_all, bool)
    for part in DROPPED:
        keep[part_range(part)] = False
    face_of_corner = np.repeat(np.arange(len(sizes)), sizes)
    face_keep = np.ones(len(sizes), bool)
    face_keep[face_of_corner[~keep[fv]]] = False
    corner_keep = face_keep[face_of_corner]
    slots = face_materials(neutral, fv, sizes, ict_mats)[face_keep]
    new_index = np.cumsum(keep) - 1
    face_indices = new_index[fv[corner_keep]]
    face_uv = uv[fuv[corner_keep]].astype(np.float32)
    sizes = sizes[face_keep]

    def kept(a):
        return to_blender(a[..., keep, :])

    v0 = kept(neutral) - neck_pivot(neutral)
    report: list[str] = []
    d_out = quantise(kept(deltas), "expression deltas", report)
    id_out = quantise(np.stack([kept(x) for x in identities]) if k else np.zeros((0, len(v0), 3)),
                      f"identity components (K={k})", report)

    regions = {}
    for part in ("face", "head_neck", "mouth_socket", "gums_tongue", "teeth", "eyeball_left",
                 "eyeball_right", "eyelashes_left", "eyelashes_right"):
        regions[part] = new_index[part_range(part)]
    for side in ("left", "right"):
        regions[f"eye_socket_{side}"] = new_index[part_range(f"eye_socket_{side}")]
        regions[f"iris_{side}"] = new_index[np.arange(IRIS[side][0], IRIS[side][1] + 1)]
    regions["teeth_upper"] = new_index[np.arange(UPPER_TEETH[0], UPPER_TEETH[1] + 1)]
    regions["teeth_lower"] = new_index[np.arange(LOWER_TEETH[0], LOWER_TEETH[1] + 1)]
    regions["tongue"] = new_index[np.flatnonzero(tongue_w > 0.5)]
    narrow = np.zeros(n_all, bool)
    narrow[NARROW_FACE[0]:NARROW_FACE[1] + 1] = True
    # lips / eyes / forehead (the metrics' regions) from motion, on the skin of the face only
    face_deltas = np.asarray(d_out, np.float32).copy()
    face_deltas[:, ~narrow[keep]] = 0
    regions.update(templates.derive_regions(v0, face_deltas, "ICT-FaceKit"))
    jaw_move = np.linalg.norm(np.asarray(d_out[ARKIT_NAMES.index("jawOpen")], np.float32), axis=1)
    regions["jaw"] = np.flatnonzero((jaw_move > 0.3 * jaw_move.max()) & narrow[keep]).astype(np.int32)

    ts = templates.TemplateSet(
        name="ICT-FaceKit head", neutral=v0.astype(np.float32), deltas=np.asarray(d_out, np.float32),
        face_sizes=sizes, face_indices=face_indices, regions=regions, units="m",
        metadata={"source": "ICT-FaceKit FaceXModel (github.com/ICT-VGL/ICT-FaceKit), converted by "
                            "scripts/convert_ict_facekit.py",
                  "licence": "MIT (Copyright (c) 2020 USC Institute for Creative Technologies)",
                  "author": "USC ICT Vision and Graphics Lab",
                  "description": "light-stage face model: face, head and neck, mouth, gums and tongue, "
                                 "teeth, eyeballs, eyelashes; 52 ARKit targets (tongueOut and the "
                                 "eyeballs' turn authored by the converter); identity components"},
        identity=np.asarray(id_out, np.float32), uv=face_uv,
        face_materials=slots.astype(np.int32), material_names=MATERIALS)
    dtypes = {"deltas": d_out.dtype, "identity": id_out.dtype}
    return ts, report, dtypes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="ICT-FaceKit checkout or its FaceXModel folder")
    ap.add_argument("-o", "--out", default=str(OUT))
    ap.add_argument("-k", "--identities", type=int, default=DEFAULT_K,
                    help=f"identity components kept (default {DEFAULT_K})")
    args = ap.parse_args(argv)
    ts, report, dtypes = convert(Path(args.folder), args.identities)
    templates.save_template_set(ts, args.out, delta_dtype=dtypes["deltas"],
                                identity_dtype=dtypes["identity"])
    for line in report:
        print(line)
    size = Path(args.out).stat().st_size
    print(f"{args.out}: {ts.num_vertices} vertices, {ts.num_faces} faces, "
          f"{0 if ts.identity is None else len(ts.identity)} identity components, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
