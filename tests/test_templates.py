"""Template-set format: the weighted-sum transform, save/load round trip, loader errors, the
OBJ-folder importer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from emotalk_blender.engine.formats import templates
from emotalk_blender.engine.arkit import ARKIT_NAMES
from emotalk_blender.engine.errors import TemplateError
from emotalk_blender.engine.formats.obj_templates import import_obj_folder

RNG = np.random.default_rng(7)


def small_set(n_verts=40, name="tiny") -> templates.TemplateSet:
    """A random set on a strip of quads and one triangle (mixed face sizes)."""
    rng = np.random.default_rng(n_verts)
    neutral = rng.normal(size=(n_verts, 3)).astype(np.float32)
    deltas = (0.1 * rng.normal(size=(52, n_verts, 3))).astype(np.float32)
    quads = [[i, i + 1, i + 3, i + 2] for i in range(0, n_verts - 4, 2)]
    faces = quads + [[n_verts - 3, n_verts - 2, n_verts - 1]]
    return templates.TemplateSet(
        name=name, neutral=neutral, deltas=deltas,
        face_sizes=[len(f) for f in faces], face_indices=[i for f in faces for i in f],
        regions={"lips": [0, 1, 2], "eyes": [5, 6], "forehead": [9, 10, 11], "face": np.arange(n_verts)},
        metadata={"source": "test", "licence": "CC0", "author": "tests", "description": "random"},
    )


def explicit_loop(ts, weights):
    """The definition, frame by frame: V = V0 + sum_i b_i (V_i - V0), in float64."""
    v0 = ts.neutral.astype(np.float64)
    vi = ts.targets().astype(np.float64)
    out = []
    for frame in weights:
        v = v0.copy()
        for i in range(52):
            v += frame[i] * (vi[i] - v0)
        out.append(v)
    return np.array(out)


def test_numpy_transform_matches_per_frame_loop():
    ts = small_set()
    w = RNG.uniform(-0.2, 1.2, size=(25, 52)).astype(np.float32)
    got = ts.vertices(w)
    assert got.shape == (25, ts.num_vertices, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, explicit_loop(ts, w), atol=1e-5)
    np.testing.assert_allclose(ts.vertices(w[3]), got[3], atol=1e-6)  # a single frame


def test_torch_transform_matches_per_frame_loop():
    ts = small_set()
    w = RNG.uniform(0, 1, size=(17, 52)).astype(np.float32)
    got = ts.vertices_torch(torch.from_numpy(w))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    assert tuple(got.shape) == (17, ts.num_vertices, 3)
    np.testing.assert_allclose(got.numpy(), explicit_loop(ts, w), atol=1e-5)


def test_transform_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="52"):
        small_set().vertices(np.zeros((4, 51), np.float32))


def test_round_trip_keeps_everything(tmp_path):
    ts = small_set()
    path = templates.save_template_set(ts, tmp_path / "set.npz")
    back = templates.load_template_set(path)
    np.testing.assert_array_equal(back.neutral, ts.neutral)
    np.testing.assert_array_equal(back.deltas, ts.deltas)
    np.testing.assert_array_equal(back.face_sizes, ts.face_sizes)
    np.testing.assert_array_equal(back.face_indices, ts.face_indices)
    assert set(back.regions) == set(ts.regions)
    for k in ts.regions:
        np.testing.assert_array_equal(back.regions[k], ts.regions[k])
    assert back.metadata == ts.metadata and back.units == "m" and back.name == "tiny"
    assert [len(f) for f in back.faces()] == list(ts.face_sizes)
    assert set(back.face_sizes.tolist()) == {3, 4}


def _write_modified(tmp_path, **changes):
    """Save a valid set, then rewrite its npz with fields replaced (None deletes a field)."""
    path = templates.save_template_set(small_set(), tmp_path / "src.npz")
    with np.load(path) as npz:
        data = {k: npz[k] for k in npz.files}
    for k, v in changes.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    out = tmp_path / "bad.npz"
    with open(out, "wb") as fh:
        np.savez(fh, **data)
    return out


@pytest.mark.parametrize("changes, message", [
    ({"neutral": None}, "missing fields: neutral"),
    ({"neutral": np.zeros((40, 2), np.float32)}, "neutral must be (V, 3)"),
    ({"neutral": np.full((40, 3), np.nan, np.float32)}, "NaN"),
    ({"neutral": np.zeros((40, 3), np.int32)}, "must hold floats"),
    ({"deltas": np.zeros((52, 39, 3), np.float32)}, "deltas must be (52, 40, 3)"),
    ({"target_names": np.array(ARKIT_NAMES[:-1] + ("tongueIn",))}, "missing targets: tongueOut"),
    ({"face_indices": np.full(79, 40, np.int32)}, "face_indices"),
    ({"face_sizes": np.array([4] * 18 + [2], np.int32)}, "fewer than 3 corners"),
    ({"orientation": np.array("+Y_up +Z_front +X_left")}, "orientation"),
    ({"units": np.array("inch")}, "units 'inch'"),
    ({"format": np.array("something-else")}, "format is 'something-else'"),
    ({"format_version": np.array(99, np.int32)}, "format_version"),
])
def test_loader_names_file_and_problem(tmp_path, changes, message):
    path = _write_modified(tmp_path, **changes)
    with pytest.raises(TemplateError) as err:
        templates.load_template_set(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_loader_requires_the_metric_regions(tmp_path):
    ts = small_set()
    ts.regions.pop("eyes")
    path = tmp_path / "noeyes.npz"
    with pytest.raises(TemplateError, match="missing region 'eyes'"):
        templates.save_template_set(templates.TemplateSet(**{**ts.__dict__, "regions": ts.regions}), path)
    path = _write_modified(tmp_path, region_sizes=np.array([2, 3, 2, 40], np.int32))  # sums wrong
    with pytest.raises(TemplateError, match="region_sizes"):
        templates.load_template_set(path)


def test_loader_refuses_pickle_and_garbage(tmp_path):
    pickled = _write_modified(tmp_path, name=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(TemplateError, match="pickle"):
        templates.load_template_set(pickled)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(TemplateError, match="not a readable .npz"):
        templates.load_template_set(junk)
    with pytest.raises(TemplateError, match="file not found"):
        templates.load_template_set(tmp_path / "absent.npz")


def test_targets_stored_in_another_order_are_reordered(tmp_path):
    ts = small_set()
    perm = RNG.permutation(52)
    path = _write_modified(tmp_path, target_names=np.array(ARKIT_NAMES)[perm], deltas=ts.deltas[perm])
    back = templates.load_template_set(path)
    np.testing.assert_array_equal(back.deltas, ts.deltas)


def test_shipped_sets_are_listed():
    sets = templates.list_template_sets()
    assert templates.default_template_path() in sets
    assert templates.default_template_path().name == "ict_facekit.npz"  # issue 23: ICT-FaceKit is the default
    assert templates.stylised_template_path() in sets


# ---------------------------------------------------------------- OBJ folder importer

def _write_obj(path, verts, faces=None):
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    lines += ["f " + " ".join(str(i + 1) for i in f) for f in (faces or [])]
    path.write_text("# test\n" + "\n".join(lines) + "\n")


def _obj_folder(tmp_path, ts, skip=(), names=None, wrong_count=()):
    folder = tmp_path / "objs"
    folder.mkdir(parents=True)
    # files hold Y-up OBJ coordinates: Blender (x, y, z) <- OBJ (x, -z, y), so OBJ = (x, z, -y)
    to_obj = lambda v: v[:, [0, 2, 1]] * [1, 1, -1]  # noqa: E731
    _write_obj(folder / "neutral.obj", to_obj(ts.neutral), ts.faces())
    for i, n in enumerate(ARKIT_NAMES):
        if n in skip:
            continue
        v = to_obj(ts.neutral + ts.deltas[i])
        if n in wrong_count:
            v = v[:-1]
        _write_obj(folder / f"{(names or {}).get(n, n)}.obj", v, ts.faces() if i % 2 else None)
    return folder


def test_obj_folder_import_converts_axes(tmp_path):
    ts = small_set(30)
    folder = _obj_folder(tmp_path, ts, names={"browDownLeft": "brow_down_L", "tongueOut": "AK_52_TongueOut"})
    got = import_obj_folder(folder)
    np.testing.assert_allclose(got.neutral, ts.neutral, atol=1e-5)
    np.testing.assert_allclose(got.deltas, ts.deltas, atol=2e-5)
    np.testing.assert_array_equal(got.face_indices, ts.face_indices)
    assert {"lips", "eyes", "forehead"} <= set(got.regions)


def test_obj_folder_lists_missing_and_mismatched(tmp_path):
    ts = small_set(30)
    folder = _obj_folder(tmp_path, ts, skip=("jawOpen", "tongueOut"))
    with pytest.raises(TemplateError) as err:
        import_obj_folder(folder)
    assert "missing 2 ARKit targets: jawOpen, tongueOut" in str(err.value) and str(folder) in str(err.value)

    folder2 = _obj_folder(tmp_path / "b", ts, wrong_count=("browInnerUp", "mouthClose"))
    with pytest.raises(TemplateError) as err:
        import_obj_folder(folder2)
    assert "browInnerUp.obj has 29 vertices, neutral has 30" in str(err.value)
    assert "mouthClose.obj has 29 vertices" in str(err.value)

    (folder2 / "neutral.obj").unlink()
    with pytest.raises(TemplateError, match="no neutral OBJ"):
        import_obj_folder(folder2)


def test_obj_folder_rejects_different_faces(tmp_path):
    ts = small_set(30)
    folder = _obj_folder(tmp_path, ts)
    v = (ts.neutral + ts.deltas[1])[:, [0, 2, 1]] * [1, 1, -1]
    _write_obj(folder / f"{ARKIT_NAMES[1]}.obj", v, [[0, 1, 2]])
    with pytest.raises(TemplateError, match=f"{ARKIT_NAMES[1]}.obj has different faces"):
        import_obj_folder(folder)
