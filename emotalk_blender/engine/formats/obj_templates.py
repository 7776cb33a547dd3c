"""Template sets from a folder of OBJ files: one neutral head plus one per ARKit name.

The usual delivery of a FLAME-template set: ``neutral.obj`` (also ``basis``/``base``/``template``)
and ``browDownLeft.obj`` ... ``tongueOut.obj`` (any naming ``arkit.match_arkit`` folds, e.g.
``brow_down_L.obj``). Every file must have the neutral's vertex count (same order); faces come
from the neutral and must match in any target that has faces. OBJ heads are usually Y-up with
the face towards +Z; they are converted to Blender's axes like Blender's OBJ importer does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import arkit
from ..errors import TemplateError
from .templates import UNITS, TemplateSet, derive_regions

NEUTRAL_NAMES = ("neutral", "basis", "base", "template")
# OBJ axes -> Blender axes: "Y_UP" is (x, y, z) -> (x, -z, y), as Blender's importer does.
AXES = {"Y_UP": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], np.float32),
        "Z_UP": np.eye(3, dtype=np.float32)}


def read_obj(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (V, 3) float32, face sizes and flat face indices (0-based) of an OBJ file."""
    path = Path(path)
    verts, sizes, flat = [], [], []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read ({exc})") from None
    for line_no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            if parts[0] == "v":
                verts.append([float(c) for c in parts[1:4]])
                if len(verts[-1]) != 3:
                    raise ValueError("a vertex needs 3 coordinates")
            elif parts[0] == "f":
                idx = [int(c.split("/")[0]) for c in parts[1:]]
                if len(idx) < 3:
                    raise ValueError("a face needs at least 3 corners")
                n = len(verts)  # negative indices count back from the vertices read so far
                flat.extend(i - 1 if i > 0 else n + i for i in idx)
                sizes.append(len(idx))
        except ValueError as exc:
            raise TemplateError(f"{path}:{line_no}: bad {parts[0]!r} line ({exc})") from None
    if not verts:
        raise TemplateError(f"{path}: no vertices")
    v = np.asarray(verts, np.float32)
    flat_a = np.asarray(flat, np.int64)
    if flat_a.size and (flat_a.min() < 0 or flat_a.max() >= len(v)):
        raise TemplateError(f"{path}: face indices out of range 1..{len(v)}")
    return v, np.asarray(sizes, np.int32), flat_a.astype(np.int32)


def import_obj_folder(folder, name: str | None = None, axes: str = "Y_UP", units: str = "m",
                      licence: str = "", source: str = "") -> TemplateSet:
    """A template set from ``folder``; TemplateError listing every missing or mismatched file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TemplateError(f"{folder}: not a folder")
    if axes not in AXES:
        raise TemplateError(f"{folder}: axes {axes!r} not one of {', '.join(AXES)}")
    if units not in UNITS:
        raise TemplateError(f"{folder}: units {units!r} not one of {', '.join(UNITS)}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".obj" and p.is_file())
    neutral_files = [p for p in files if arkit.normalise(p.stem) in NEUTRAL_NAMES]
    targets: dict[str, Path] = {}
    duplicates = []
    for p in files:
        hit = arkit.match_arkit(p.stem)
        if hit is None:
            continue
        if hit in targets:
            duplicates.append(f"{targets[hit].name} and {p.name} both give {hit}")
        else:
            targets[hit] = p
    problems = []
    if len(neutral_files) != 1:
        problems.append("no neutral OBJ (name it neutral.obj)" if not neutral_files else
                        "several neutral OBJs: " + ", ".join(p.name for p in neutral_files))
    missing = [n for n in arkit.ARKIT_NAMES if n not in targets]
    if missing:
        problems.append(f"missing {len(missing)} ARKit targets: " + ", ".join(missing))
    problems.extend(duplicates)
    if problems:
        raise TemplateError(f"OBJ template folder {str(folder)!r}: " + "; ".join(problems))

    neutral, sizes, flat = read_obj(neutral_files[0])
    if sizes.size == 0:
        raise TemplateError(f"{neutral_files[0]}: the neutral OBJ has no faces")
    deltas = np.empty((arkit.NUM_BLENDSHAPES,) + neutral.shape, np.float32)
    mismatched = []
    for i, arkit_name in enumerate(arkit.ARKIT_NAMES):
        v, s, f = read_obj(targets[arkit_name])
        if v.shape != neutral.shape:
            mismatched.append(f"{targets[arkit_name].name} has {len(v)} vertices, neutral has {len(neutral)}")
            continue
        if s.size and (not np.array_equal(s, sizes) or not np.array_equal(f, flat)):
            mismatched.append(f"{targets[arkit_name].name} has different faces from the neutral")
            continue
        deltas[i] = v - neutral
    if mismatched:
        raise TemplateError(f"OBJ template folder {str(folder)!r}: " + "; ".join(mismatched))
    m = AXES[axes]
    neutral = neutral @ m.T
    deltas = deltas @ m.T
    where = f"OBJ template folder {str(folder)!r}"
    return TemplateSet(
        name=name or folder.name, neutral=neutral, deltas=deltas, face_sizes=sizes,
        face_indices=flat, regions=derive_regions(neutral, deltas, where), units=units,
        metadata={"source": source or f"OBJ folder {folder.name}", "licence": licence,
                  "author": "", "description": f"imported from {len(files)} OBJ files ({axes})"},
        path=str(folder),
    )
