"""Blendshape template sets: the file format, its loader/saver, and the weighted-sum transform.

A template set is a neutral head V0 (V, 3) plus one target per ARKit blendshape, stored as
OFFSETS from the neutral (D_i = V_i - V0, in the released ARKit order of ``arkit.ARKIT_NAMES``).
For a take of weights B (T, 52) the heads are ``V = V0 + sum_i b_i D_i``, computed for the whole
take as one matrix product ``B @ D.reshape(52, V*3)``.

File: one ``.npz`` per set (see ``flame_templates/README.md`` for the field table). Loading checks
every field and raises ``TemplateError`` naming the file and what is wrong. No pickle is ever
used (``allow_pickle=False``): strings are stored as numpy unicode arrays.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from ..atomic import atomic_open
from ..errors import TemplateError
from ..paths import resource

FORMAT_NAME = "emotalk-template-set"
FORMAT_VERSION = 1
# Blender's convention, the only one stored: +Z up, the face looks towards -Y, the character's
# left is +X. Importers convert other conventions before building a set.
ORIENTATION = "+Z_up -Y_front +X_left"
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}  # unit name -> metres per unit
# Regions every set must name: the LVE metric uses "lips", EVE uses "eyes" + "forehead".
REQUIRED_REGIONS = ("lips", "eyes", "forehead")
METADATA_FIELDS = ("source", "licence", "author", "description")

DEFAULT_TEMPLATE_NAME = "ict_facekit.npz"  # ICT-FaceKit (MIT), scripts/convert_ict_facekit.py
STYLISED_TEMPLATE_NAME = "default_head.npz"  # the project's own generated head (scripts/make_default_head.py)


@dataclass
class TemplateSet:
    """A neutral head and 52 ARKit targets as offsets, with faces, regions and provenance.

    ``neutral`` (V, 3) float32; ``deltas`` (52, V, 3) float32 in ``ARKIT_NAMES`` order;
    faces as a flat index array plus per-face corner counts (3 = triangle, 4 = quad, more =
    n-gon), which carries meshes that mix triangles and quads; ``regions`` maps a name to
    sorted unique vertex indices (int32).
    """

    name: str
    neutral: np.ndarray
    deltas: np.ndarray
    face_sizes: np.ndarray
    face_indices: np.ndarray
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    units: str = "m"
    metadata: dict[str, str] = field(default_factory=dict)
    path: str | None = field(default=None, compare=False)  # the file it came from, for errors
    # Optional: identity components (K, V, 3) offsets per unit weight (weights ~ N(0, 1)), added to
    # the neutral before the targets; per-corner UVs (sum of face_sizes, 2); a material slot per face.
    identity: np.ndarray | None = field(default=None, compare=False)
    uv: np.ndarray | None = field(default=None, compare=False)
    face_materials: np.ndarray | None = field(default=None, compare=False)
    material_names: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        self.neutral = np.ascontiguousarray(self.neutral, dtype=np.float32)
        self.deltas = np.ascontiguousarray(self.deltas, dtype=np.float32)
        self.face_sizes = np.ascontiguousarray(self.face_sizes, dtype=np.int32)
        self.face_indices = np.ascontiguousarray(self.face_indices, dtype=np.int32)
        self.regions = {k: np.unique(np.asarray(v, dtype=np.int64)).astype(np.int32)
                        for k, v in self.regions.items()}
        self.metadata = {k: str(v) for k, v in self.metadata.items()}
        if self.identity is not None:
            self.identity = np.ascontiguousarray(self.identity, dtype=np.float32)
        if self.uv is not None:
            self.uv = np.ascontiguousarray(self.uv, dtype=np.float32)
        if self.face_materials is not None:
            self.face_materials = np.ascontiguousarray(self.face_materials, dtype=np.int32)
        self.material_names = tuple(str(n) for n in self.material_names)
        validate_template_set(self, f"template set {self.path!r}" if self.path
                              else f"template set {self.name!r}")

    @property
    def num_vertices(self) -> int:
        return int(self.neutral.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.face_sizes.shape[0])

    def targets(self) -> np.ndarray:
        """Absolute target positions V_i (52, V, 3)."""
        return self.neutral[None] + self.deltas

    def delta(self, name: str) -> np.ndarray:
        """Offsets (V, 3) of one ARKit target by name."""
        try:
            return self.deltas[ARKIT_NAMES.index(name)]
        except ValueError:
            raise TemplateError(f"template set {self.name!r}: {name!r} is not an ARKit name") from None

    def region(self, name: str) -> np.ndarray:
        """Vertex indices of a named region; TemplateError listing the known names if absent."""
        if name not in self.regions:
            raise TemplateError(f"template set {self.name!r} has no region {name!r} "
                                f"(has: {', '.join(sorted(self.regions))})")
        return self.regions[name]

    def faces(self) -> list[np.ndarray]:
        """Faces as a list of index arrays (for exporters that want per-face lists)."""
        return np.split(self.face_indices, np.cumsum(self.face_sizes)[:-1])

    def identity_neutral(self, weights) -> np.ndarray:
        """The neutral of another face: ``V0 + sum_k a_k I_k`` for identity weights ``a`` (K' <= K;
        missing weights are 0). The targets stay offsets, so a take plays on any identity."""
        a = np.asarray(weights, dtype=np.float32).ravel()
        if self.identity is None or not a.size:
            return self.neutral.copy()
        k = min(a.size, self.identity.shape[0])
        return self.neutral + np.tensordot(a[:k], self.identity[:k], axes=1)

    def vertices(self, weights) -> np.ndarray:
        """Per-frame vertices (T, V, 3) float32 for weights (T, 52) (or (52,) -> (V, 3))."""
        return blend(self.neutral, self.deltas, weights)

    def vertices_torch(self, weights, device=None):
        """Torch version of ``vertices`` (weights (T, 52) tensor or array -> (T, V, 3) tensor)."""
        return blend_torch(self.neutral, self.deltas, weights, device=device)


# --------------------------------------------------------------------------- the transform

def _check_weights(weights, num_targets: int):
    if weights.shape[-1] != num_targets or weights.ndim not in (1, 2):
        raise ValueError(f"weights must be (T, {num_targets}) or ({num_targets},), got {tuple(weights.shape)}")


def blend(neutral: np.ndarray, deltas: np.ndarray, weights) -> np.ndarray:
    """``V = V0 + sum_i b_i (V_i - V0)`` for a whole take: (T, 52) -> (T, V, 3) float32.

    One (T, 52) x (52, V*3) matrix product; the neutral is added in place (no extra copy).
    """
    w = np.asarray(weights, dtype=np.float32)
    _check_weights(w, deltas.shape[0])
    single = w.ndim == 1
    w2 = w[None] if single else w
    n_v = neutral.shape[0]
    out = w2 @ deltas.reshape(deltas.shape[0], n_v * 3).astype(np.float32, copy=False)
    out += neutral.reshape(1, n_v * 3).astype(np.float32, copy=False)
    out = out.reshape(w2.shape[0], n_v, 3)
    return out[0] if single else out


def blend_torch(neutral, deltas, weights, device=None):
    """Torch version of ``blend``: one ``addmm`` (float32), result (T, V, 3) on ``device``."""
    import torch  # torch is a runtime dependency, but only this function needs it

    dev = torch.device(device) if device is not None else (
        weights.device if isinstance(weights, torch.Tensor) else torch.device("cpu"))
    w = torch.as_tensor(weights, dtype=torch.float32, device=dev)
    _check_weights(w, deltas.shape[0])
    single = w.ndim == 1
    w2 = w[None] if single else w
    d = torch.as_tensor(deltas, dtype=torch.float32, device=dev)
    v0 = torch.as_tensor(neutral, dtype=torch.float32, device=dev)
    n_v = v0.shape[0]
    out = torch.addmm(v0.reshape(1, n_v * 3), w2, d.reshape(d.shape[0], n_v * 3))
    out = out.reshape(w2.shape[0], n_v, 3)
    return out[0] if single else out


# --------------------------------------------------------------------------- validation

def validate_template_set(ts: TemplateSet, where: str) -> None:
    """Check a set's arrays for consistency; TemplateError naming ``where`` and the problem."""
    def bad(msg):
        raise TemplateError(f"{where}: {msg}")

    v = ts.neutral
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 3:
        bad(f"neutral must be (V, 3) with V >= 3, got {tuple(v.shape)}")
    n_v = v.shape[0]
    if ts.deltas.shape != (NUM_BLENDSHAPES, n_v, 3):
        bad(f"deltas must be ({NUM_BLENDSHAPES}, {n_v}, 3) to match the neutral, got {tuple(ts.deltas.shape)}")
    if not np.isfinite(v).all():
        bad(f"neutral holds {int((~np.isfinite(v)).any(1).sum())} vertices with NaN/inf")
    finite = np.isfinite(ts.deltas).all(axis=(1, 2))
    if not finite.all():
        bad("deltas hold NaN/inf in targets: " + ", ".join(ARKIT_NAMES[i] for i in np.flatnonzero(~finite)))
    fs, fi = ts.face_sizes, ts.face_indices
    if fs.ndim != 1 or fi.ndim != 1 or fs.size == 0:
        bad("face_sizes and face_indices must be non-empty 1-D integer arrays")
    if (fs < 3).any():
        bad(f"{int((fs < 3).sum())} faces have fewer than 3 corners (first: face {int(np.argmax(fs < 3))})")
    if int(fs.sum()) != fi.size:
        bad(f"face_sizes sum to {int(fs.sum())} corners but face_indices holds {fi.size}")
    if fi.min() < 0 or fi.max() >= n_v:
        bad(f"face_indices out of range 0..{n_v - 1} (min {int(fi.min())}, max {int(fi.max())})")
    if ts.units not in UNITS:
        bad(f"units {ts.units!r} not one of {', '.join(UNITS)}")
    for name in REQUIRED_REGIONS:
        if name not in ts.regions:
            bad(f"missing region {name!r} (required: {', '.join(REQUIRED_REGIONS)})")
    for name, idx in ts.regions.items():
        if not name or not name.isidentifier():
            bad(f"region name {name!r} must be a non-empty identifier")
        if idx.size == 0:
            bad(f"region {name!r} is empty")
        if idx.min() < 0 or idx.max() >= n_v:
            bad(f"region {name!r} has vertex indices out of range 0..{n_v - 1}")
    if ts.identity is not None and (ts.identity.ndim != 3 or ts.identity.shape[1:] != (n_v, 3)
                                    or not np.isfinite(ts.identity).all()):
        bad(f"identity must be finite (K, {n_v}, 3), got {tuple(ts.identity.shape)}")
    if ts.uv is not None and ts.uv.shape != (fi.size, 2):
        bad(f"uv must be ({fi.size}, 2) (one per face corner), got {tuple(ts.uv.shape)}")
    if ts.face_materials is not None:
        fm = ts.face_materials
        if fm.shape != fs.shape or (fm.size and (fm.min() < 0 or fm.max() >= len(ts.material_names))):
            bad(f"face_materials must be ({fs.size},) indices into the {len(ts.material_names)} material_names")


# --------------------------------------------------------------------------- file I/O

def _str(value) -> np.ndarray:
    return np.array(str(value))


def save_template_set(ts: TemplateSet, path, compress: bool = True, delta_dtype=np.float32,
                      identity_dtype=np.float16) -> Path:
    """Write a set to ``path`` (.npz). Offsets that are exactly zero compress to almost nothing;
    ``delta_dtype`` float16 halves the file (the loader reads any float dtype as float32)."""
    path = Path(path)
    names = sorted(ts.regions)
    arrays = {
        "format": _str(FORMAT_NAME),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int32),
        "name": _str(ts.name),
        "units": _str(ts.units),
        "orientation": _str(ORIENTATION),
        "neutral": ts.neutral,
        "target_names": np.array(ARKIT_NAMES),
        "deltas": ts.deltas.astype(delta_dtype),
        "face_sizes": ts.face_sizes,
        "face_indices": ts.face_indices,
        "region_names": np.array(names, dtype=str).reshape(len(names)),
        "region_sizes": np.array([ts.regions[n].size for n in names], dtype=np.int32),
        "region_indices": (np.concatenate([ts.regions[n] for n in names]) if names
                           else np.zeros(0, np.int32)).astype(np.int32),
    }
    for key in METADATA_FIELDS:
        arrays[key] = _str(ts.metadata.get(key, ""))
    if ts.identity is not None:
        arrays["identity"] = ts.identity.astype(identity_dtype)
    if ts.uv is not None:
        arrays["uv"] = ts.uv
    if ts.face_materials is not None:
        arrays["face_materials"] = ts.face_materials
        arrays["material_names"] = np.array(ts.material_names, dtype=str).reshape(len(ts.material_names))
    with atomic_open(path) as fh:  # a file handle stops numpy appending a second ".npz"
        (np.savez_compressed if compress else np.savez)(fh, **arrays)
    return path


_REQUIRED_KEYS = ("format", "format_version", "name", "units", "orientation", "neutral",
                  "target_names", "deltas", "face_sizes", "face_indices", "region_names",
                  "region_sizes", "region_indices")


def load_template_set(path) -> TemplateSet:
    """Read and validate a template set (.npz); TemplateError naming the file and the problem."""
    path = Path(path)
    where = f"template set {str(path)!r}"

    def bad(msg):
        raise TemplateError(f"{where}: {msg}")

    if not path.is_file():
        bad("file not found")
    if not zipfile.is_zipfile(path):
        bad("not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        bad(f"not a readable .npz file ({exc})")
    except ValueError as exc:  # object arrays need pickle, which we refuse
        bad(f"holds arrays that need pickle to load, which is refused ({exc})")
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    if missing:
        bad("missing fields: " + ", ".join(missing))

    def text(key):
        arr = data[key]
        if arr.dtype.kind != "U" or arr.ndim != 0:
            bad(f"field {key!r} must be a text scalar, got dtype {arr.dtype} shape {arr.shape}")
        return str(arr)

    def floats(key):
        arr = data[key]
        if arr.dtype.kind != "f":
            bad(f"field {key!r} must hold floats, got dtype {arr.dtype}")
        return arr.astype(np.float32, copy=False)

    def ints(key):
        arr = data[key]
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            bad(f"field {key!r} must be a 1-D integer array, got dtype {arr.dtype} shape {arr.shape}")
        return arr.astype(np.int64)

    if text("format") != FORMAT_NAME:
        bad(f"format is {text('format')!r}, expected {FORMAT_NAME!r}")
    version = data["format_version"]
    if version.dtype.kind not in "iu" or version.ndim != 0 or int(version) != FORMAT_VERSION:
        bad(f"format_version {version!r} not supported (this reader knows {FORMAT_VERSION})")
    if text("orientation") != ORIENTATION:
        bad(f"orientation {text('orientation')!r} is not Blender's ({ORIENTATION!r}): "
            "convert the vertices before saving")
    names = data["target_names"]
    if names.dtype.kind != "U" or names.ndim != 1:
        bad("target_names must be a 1-D text array")
    names = [str(n) for n in names]
    unknown = [n for n in names if n not in ARKIT_NAMES]
    absent = [n for n in ARKIT_NAMES if n not in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if unknown or absent or dupes:
        parts = []
        if absent:
            parts.append("missing targets: " + ", ".join(absent))
        if unknown:
            parts.append("unknown target names: " + ", ".join(unknown))
        if dupes:
            parts.append("duplicate target names: " + ", ".join(dupes))
        bad("; ".join(parts))
    deltas = floats("deltas")
    if deltas.ndim != 3 or deltas.shape[0] != len(names):
        bad(f"deltas must be (52, V, 3), got {tuple(deltas.shape)}")
    if names != list(ARKIT_NAMES):  # stored in another order: put it in the released order
        deltas = deltas[[names.index(n) for n in ARKIT_NAMES]]

    region_names = data["region_names"]
    if region_names.dtype.kind not in "U" or region_names.ndim != 1:
        if region_names.size:  # an empty list may come back as float64
            bad("region_names must be a 1-D text array")
    sizes, flat = ints("region_sizes"), ints("region_indices")
    if sizes.size != region_names.size or int(sizes.sum()) != flat.size or (sizes < 0).any():
        bad(f"region_sizes ({sizes.size} regions, {int(sizes.sum())} indices) do not match "
            f"region_names ({region_names.size}) and region_indices ({flat.size})")
    regions = {str(n): part for n, part in zip(region_names, np.split(flat, np.cumsum(sizes)[:-1]), strict=True)}
    if len(regions) != region_names.size:
        bad("region_names holds duplicates")
    metadata = {}
    for key in METADATA_FIELDS:
        metadata[key] = text(key) if key in data else ""
    optional = {}
    for key in ("identity", "uv"):
        if key in data:
            optional[key] = floats(key)
    if "face_materials" in data:
        mat_names = data.get("material_names", np.zeros(0, str))
        if mat_names.dtype.kind != "U" or mat_names.ndim != 1:
            bad("material_names must be a 1-D text array")
        optional.update(face_materials=ints("face_materials"), material_names=tuple(mat_names.tolist()))
    return TemplateSet(
        name=text("name"), neutral=floats("neutral"), deltas=deltas,
        face_sizes=ints("face_sizes"), face_indices=ints("face_indices"),
        regions=regions, units=text("units"), metadata=metadata, path=str(path), **optional,
    )


# Which targets move each required region: used to find regions on sets that do not name them
# (a character's shape keys, a folder of OBJ files).
REGION_TARGETS = {
    "lips": ("mouthFunnel", "mouthPucker", "mouthClose", "mouthRollLower", "mouthRollUpper",
             "mouthPressLeft", "mouthPressRight", "mouthSmileLeft", "mouthSmileRight"),
    "eyes": ("eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft", "eyeSquintRight",
             "eyeWideLeft", "eyeWideRight"),
    "forehead": ("browInnerUp", "browDownLeft", "browDownRight", "browOuterUpLeft",
                 "browOuterUpRight"),
}


def derive_regions(neutral: np.ndarray, deltas: np.ndarray, where: str = "template set",
                   rel_threshold: float = 0.1) -> dict[str, np.ndarray]:
    """Regions from motion: vertices a region's targets move by more than ``rel_threshold`` of
    the largest such displacement. TemplateError if a region's targets move nothing."""
    out = {}
    for region, names in REGION_TARGETS.items():
        idx = [ARKIT_NAMES.index(n) for n in names]
        mag = np.linalg.norm(np.asarray(deltas)[idx], axis=-1).max(axis=0)
        if not mag.max() > 0:
            raise TemplateError(f"{where}: cannot find the {region!r} region: its targets "
                                f"({', '.join(names)}) move no vertex")
        out[region] = np.flatnonzero(mag > rel_threshold * mag.max()).astype(np.int32)
    return out


def default_template_path() -> Path:
    """The shipped default head: ICT-FaceKit (converted by ``scripts/convert_ict_facekit.py``)."""
    return resource("flame_templates", DEFAULT_TEMPLATE_NAME)


def stylised_template_path() -> Path:
    """The project's own generated head (``scripts/make_default_head.py``): the capture ResNet's
    training renders and the model card's metrics use it."""
    return resource("flame_templates", STYLISED_TEMPLATE_NAME)


def list_template_sets(directory=None) -> list[Path]:
    """Template-set files in ``directory`` (default: the repo's ``flame_templates/``), sorted."""
    directory = Path(directory) if directory is not None else resource("flame_templates")
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == ".npz" and p.is_file())


def resolve_template(name_or_path) -> Path:
    """A template set path from a name in flame_templates/ (stem or file name), a file path, or ''
    (the shipped default)."""
    if not name_or_path:
        return default_template_path()
    for path in list_template_sets():
        if str(name_or_path) in (path.stem, path.name):
            return path
    return Path(name_or_path)


__all__ = ["TemplateSet", "blend", "blend_torch", "load_template_set", "save_template_set",
           "default_template_path", "stylised_template_path", "list_template_sets", "resolve_template",
           "validate_template_set",
           "derive_regions", "ORIENTATION", "UNITS", "REQUIRED_REGIONS", "FORMAT_NAME", "FORMAT_VERSION",
           "TemplateError"]
