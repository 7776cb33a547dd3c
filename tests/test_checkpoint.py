"""Checkpoint loading: the released layout strictly, HF parts, and refusal of bad or unsafe files."""
import json
import os
import zipfile

import numpy as np
import pytest
import torch

from emotalk_blender.engine.network.checkpoint import load_checkpoint, read_tensors, replace_encoder, save_checkpoint
from emotalk_blender.engine.errors import CheckpointError
from emotalk_blender.engine.network.model import EmoTalk, EmoTalkConfig

from helpers import random_small_model


@pytest.fixture(scope="module")
def released_file(tmp_path_factory):
    """A full-size random-weight model saved as the released EmoTalk.pth is: a flat state_dict."""
    torch.manual_seed(1)
    model = EmoTalk(EmoTalkConfig())
    torch.nn.init.normal_(model.bs_map_r.weight, std=0.05)
    path = tmp_path_factory.mktemp("released") / "EmoTalk.pth"
    save_checkpoint(model, path, released_layout=True)
    wav = torch.randn(1, 8000)
    with torch.no_grad():
        want = model.eval()(wav)
    del model
    return path, wav, want


def test_released_layout_loads_strictly_and_predicts(released_file):
    path, wav, want = released_file
    sd, extra = read_tensors(path)
    assert len(sd) == 882 and extra == {}
    model = load_checkpoint(path)
    with torch.no_grad():
        got = model(wav)
    assert torch.equal(got, want)
    assert got.abs().sum() > 0  # an all-zero output would mean the head did not load


def test_newer_weight_norm_names_are_accepted(tmp_path):
    model = random_small_model()
    sd = model.state_dict()
    renamed = {k.replace("weight_g", "parametrizations.weight.original0")
               .replace("weight_v", "parametrizations.weight.original1"): v for k, v in sd.items()}
    assert sum("original0" in k for k in renamed) == 2
    path = tmp_path / "new.pt"
    torch.save({"format": "emotalk-blender/1", "config": model.config.to_dict(), "state_dict": renamed, "meta": {}},
               path)
    loaded = load_checkpoint(path)
    wav = torch.randn(1, 16000)
    with torch.no_grad():
        assert torch.equal(loaded(wav), model(wav))


def test_wrong_layout_lists_missing_unexpected_and_shapes(tmp_path):
    sd = dict(random_small_model().state_dict())
    cfg = random_small_model().config.to_dict()
    del sd["bs_map_r.bias"]
    sd["extra.thing"] = torch.zeros(3)
    sd["obj_vector_level.weight"] = torch.zeros(5, 2)
    path = tmp_path / "bad.pt"
    torch.save({"format": "emotalk-blender/1", "config": cfg, "state_dict": sd, "meta": {}}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "missing (1): bs_map_r.bias" in msg
    assert "unexpected (1): extra.thing" in msg
    assert "obj_vector_level.weight: file (5, 2)" in msg


def test_small_model_is_not_taken_for_the_released_one(tmp_path):
    """A flat state_dict must have the full released layout: a small one is listed as wrong."""
    path = tmp_path / "flat_small.pth"
    save_checkpoint(random_small_model(), path, released_layout=True)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(path)


def test_corrupt_and_truncated_files(tmp_path, tiny_checkpoint):
    damaged = []
    for seed in range(20):  # random bytes fail in many places inside an unpickler
        garbage = tmp_path / f"garbage{seed}.pth"
        garbage.write_bytes(np.random.default_rng(seed).integers(0, 256, 4096, dtype=np.uint8).tobytes())
        damaged.append(garbage)
    data = tiny_checkpoint.read_bytes()
    for cut in (len(data) // 2, len(data) - 100, 1000):
        truncated = tmp_path / f"truncated{cut}.pt"
        truncated.write_bytes(data[:cut])
        damaged.append(truncated)
    for path in damaged:
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(path)
        assert str(path) in str(err.value) and "pickled code" not in str(err.value)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pth")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"bs_map_r.weight": torch.zeros(52, 832), "payload": _Exploit(marker)}, path)
    with pytest.raises(CheckpointError, match="pickled code"):
        load_checkpoint(path)
    assert not marker.exists()


def _write_safetensors(path, tensors):
    """Independent writer of the safetensors layout (8-byte header size, JSON header, raw data)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def test_hf_encoder_parts_replace_encoders(tmp_path):
    donor, model = random_small_model(seed=5), random_small_model(seed=6)
    cont = {f"wav2vec2.{k}": v for k, v in donor.audio_encoder_cont.state_dict().items()}
    cont = {k.replace("weight_g", "parametrizations.weight.original0"): v for k, v in cont.items()}
    _write_safetensors(tmp_path / "model.safetensors", cont)
    emo = {f"wav2vec2.{k}": v for k, v in donor.audio_encoder_emo.wav2vec2.state_dict().items()}
    emo.update({f"classifier.{k}": v for k, v in donor.audio_encoder_emo.classifier.state_dict().items()})
    (tmp_path / "emo").mkdir()
    torch.save(emo, tmp_path / "emo" / "pytorch_model.bin")
    replace_encoder(model, "content", tmp_path)  # a folder holding model.safetensors
    replace_encoder(model, "emotion", tmp_path / "emo")
    for a, b in ((model.audio_encoder_cont, donor.audio_encoder_cont),
                 (model.audio_encoder_emo, donor.audio_encoder_emo)):
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb and torch.equal(va, vb), ka
    emo.pop("wav2vec2.encoder.layer_norm.bias")
    torch.save(emo, tmp_path / "emo" / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="missing \\(1\\): encoder.layer_norm.bias"):
        replace_encoder(model, "emotion", tmp_path / "emo")


def test_own_format_round_trip_keeps_config_and_meta(tmp_path):
    model = random_small_model()
    path = tmp_path / "own.pt"
    save_checkpoint(model, path, meta={"name": "x", "licence": "GPL"})
    assert zipfile.is_zipfile(path)
    loaded = load_checkpoint(path)
    assert loaded.config == model.config and loaded.meta["licence"] == "GPL"
    wav = torch.randn(1, 12345)
    with torch.no_grad():
        assert np.array_equal(loaded(wav).numpy(), model(wav).numpy())


def test_own_safetensors_round_trip_keeps_config_and_meta(tmp_path):
    model = random_small_model()
    path = tmp_path / "own.safetensors"
    save_checkpoint(model, path, meta={"name": "x", "licence": "GPL"})
    sd, extra = read_tensors(path)
    assert extra["format"] == "emotalk-blender/1" and extra["meta"] == {"name": "x", "licence": "GPL"}
    loaded = load_checkpoint(path)
    assert loaded.config == model.config and loaded.meta["licence"] == "GPL"
    wav = torch.randn(1, 12345)
    with torch.no_grad():
        assert torch.equal(loaded(wav), model(wav))
    # the format's own library reads our file, and we read its files
    safetensors = pytest.importorskip("safetensors")
    from safetensors.torch import load_file, save_file

    theirs = load_file(path)
    assert set(theirs) == set(model.state_dict())
    assert all(torch.equal(theirs[k], v) for k, v in model.state_dict().items())
    with safetensors.safe_open(path, "pt") as f:
        metadata = f.metadata()
    assert json.loads(metadata["config"]) == json.loads(json.dumps(model.config.to_dict()))
    save_file(model.state_dict(), tmp_path / "theirs.safetensors", metadata=metadata)
    again = load_checkpoint(tmp_path / "theirs.safetensors")
    with torch.no_grad():
        assert torch.equal(again(wav), model(wav))


def test_shipped_default_model_is_own_format_safetensors():
    from emotalk_blender.engine import paths

    path = paths.default_checkpoint()
    assert path.name == "emotalk_default.safetensors"
    sd, extra = read_tensors(path)
    assert extra["format"] == "emotalk-blender/1" and extra["meta"]["licence"]
    assert all(v.dtype == torch.float32 for v in sd.values())
    model = load_checkpoint(path)  # strict
    assert model.config.name == extra["config"]["name"]
    assert model.num_parameters() == sum(v.numel() for v in sd.values())


def test_corrupt_safetensors_are_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    save_checkpoint(random_small_model(), path)
    data = path.read_bytes()
    cases = {"truncated": data[: len(data) // 2], "corrupt safetensors header": data[:8] + b"{nope" + data[13:],
             "not a safetensors": b"\x01"}
    for problem, raw in cases.items():
        bad = tmp_path / f"bad_{len(raw)}.safetensors"
        bad.write_bytes(raw)
        with pytest.raises(CheckpointError, match=problem) as err:
            load_checkpoint(bad)
        assert str(bad) in str(err.value)
