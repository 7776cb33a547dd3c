"""The NumPy backend against the torch network: stage by stage and end to end, on real speech."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import erf as scipy_erf

from emotalk_blender.engine.network import numpy_backend as nb
from emotalk_blender.engine import paths
from emotalk_blender.engine.network import safetensors_io
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.network.interface import normalise_audio
from emotalk_blender.engine.network.checkpoint import load_checkpoint, save_checkpoint
from emotalk_blender.engine.network.config import EmoTalkConfig, small_config
from emotalk_blender.engine.constants import frames_for_samples
from emotalk_blender.engine.errors import CheckpointError
from emotalk_blender.engine.network.layout import expected_shapes
from emotalk_blender.engine.network.model import EmoTalk

from helpers import random_small_model

TOL = 1e-4
REPO = Path(__file__).resolve().parent.parent


def as_numpy(model) -> nb.NumpyBackend:
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    return nb.NumpyBackend(weights, model.config, getattr(model, "meta", {}))


def torch_stages(model, wav: np.ndarray, level, person):
    """(emotion, content, decoded from those, frames) of the torch network on normalised audio."""
    x = torch.from_numpy(normalise_audio(wav))[None]
    frames = frames_for_samples(wav.shape[0])
    with torch.no_grad():
        emotion, _ = model.encode_emotion(x, frames)
        content = model.encode_content(x, frames)
        out = model.decode(content, emotion, level, person)
    return emotion[0].numpy(), content[0].numpy(), out[0].numpy(), frames


def stage_diffs(model, backend, wav, level=1.0, person=0) -> dict[str, float]:
    e_t, c_t, y_t, frames = torch_stages(model, wav, level, person)
    x = normalise_audio(wav)
    e_n, c_n = backend.encode_emotion(x, frames), backend.encode_content(x, frames)
    assert e_n.dtype == c_n.dtype == np.float32 and e_n.shape == e_t.shape and c_n.shape == c_t.shape
    d = {
        "encode_emotion": np.abs(e_n - e_t).max(),
        "encode_content": np.abs(c_n - c_t).max(),
        "decode": np.abs(backend.decode(c_t, e_t, level, person) - y_t).max(),  # the same inputs
        "end to end": np.abs(backend.decode(c_n, e_n, level, person) - y_t).max(),
    }
    assert np.abs(y_t).max() > 0.05  # a real output, not zeros
    print({k: f"{v:.2e}" for k, v in d.items()})
    return d


@pytest.fixture(scope="module")
def default_model():
    return load_checkpoint(paths.default_checkpoint())


def test_erf_and_gelu_are_exact_to_float32_precision():
    x = np.concatenate([np.linspace(-10, 10, 400_001), [0.0, -0.0, 1e-30, -1e-8, 3.7, 40.0, -40.0]])
    x = x.astype(np.float32)
    exact = scipy_erf(x.astype(np.float64))
    assert np.abs(nb.erf(x) - exact).max() < 6e-7
    for v in (-2.5, -0.3, 0.01, 0.7, 1.9):
        assert abs(float(nb.erf(np.float32(v))) - math.erf(float(np.float32(v)))) < 6e-7
    gelu_exact = 0.5 * x.astype(np.float64) * (1 + scipy_erf(x.astype(np.float64) / math.sqrt(2)))
    assert np.abs(nb.gelu(x.copy()) - gelu_exact).max() < 1e-6
    assert np.abs(nb.gelu(x.copy()) - torch.nn.functional.gelu(torch.from_numpy(x)).numpy()).max() < 3e-6


@pytest.mark.parametrize("cfg", [EmoTalkConfig(), small_config(), small_config(hidden=192, layers=3, conv=64)],
                         ids=["released", "small", "default-size"])
def test_weight_table_is_the_torch_models(cfg):
    with torch.device("meta"):
        model = EmoTalk(cfg)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected_shapes(cfg)


def test_default_model_agrees_with_torch_on_speech(default_model, speech_wav):
    wav = load_audio(speech_wav)
    assert 2.5 < wav.shape[0] / 16000 < 4.5
    backend = as_numpy(default_model)
    assert backend.num_parameters() == default_model.num_parameters()
    assert max(stage_diffs(default_model, backend, wav).values()) <= TOL
    mix = [0.5] + [0.0] * 22 + [1.5]
    assert max(stage_diffs(default_model, backend, wav, level=0.3, person=mix).values()) <= TOL


def test_default_model_agrees_on_a_20_second_window(default_model, long_speech_wav):
    wav = load_audio(long_speech_wav)[: 20 * 16000]
    assert max(stage_diffs(default_model, as_numpy(default_model), wav, level=0.7, person=5).values()) <= TOL


def test_random_small_model_agrees_with_torch(speech_wav):
    model = random_small_model(seed=3)
    wav = load_audio(speech_wav)
    assert max(stage_diffs(model, as_numpy(model), wav, level=0.5, person=11).values()) <= TOL
    short = wav[:1000]  # 62.5 ms: two frames, the shortest CNN output the emotion path meets
    assert max(stage_diffs(model, as_numpy(model), short).values()) <= TOL


def test_controls_are_checked_as_in_torch():
    backend = as_numpy(random_small_model())
    c = np.zeros((4, backend.config.content_dim), np.float32)
    e = np.zeros((4, backend.config.emotion_dim), np.float32)
    bad = ((1.5, 0), (-0.1, 0), (1.0, 24), (1.0, [1.0] * 3), (1.0, [0.0] * 24), (1.0, [-1.0] + [1.0] * 23))
    for level, person in bad:
        with pytest.raises(ValueError):
            backend.decode(c, e, level, person)


def test_shipped_safetensors_loads_without_torch_code_and_equals_the_pt(default_model, tmp_path):
    path = paths.default_checkpoint()
    assert path.suffix == ".safetensors"
    backend = nb.load(path)
    assert backend.config == default_model.config and backend.meta == default_model.meta and backend.meta["licence"]
    assert backend.name == "numpy" and backend.device == "cpu" and backend.source == str(path)
    for k, v in default_model.state_dict().items():
        assert np.array_equal(backend.weights[k], v.numpy()), k
    # a .pt file goes through the torch loader when torch is there
    pt = tmp_path / "m.pt"
    save_checkpoint(default_model, pt, meta=default_model.meta)
    from_pt = nb.load(pt)
    assert from_pt.config == backend.config
    assert all(np.array_equal(from_pt.weights[k], v) for k, v in backend.weights.items())


def test_half_precision_files_load_as_float32(tmp_path):
    model = random_small_model()
    sd = model.state_dict()
    path = tmp_path / "bf16.safetensors"
    # bf16 through torch (the reference conversion), f16 for the LayerNorms
    raw = {k: v.half().numpy() if "layer_norm" in k else v.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
           for k, v in sd.items()}
    from emotalk_blender.engine.network.layout import own_metadata

    metadata = own_metadata(model.config, {"name": "half"})
    # the writer has no bf16 dtype: write the uint16 words, then rename their dtype in the header
    safetensors_io.write(path, raw, metadata)
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    for k in header:
        if k != "__metadata__" and header[k]["dtype"] == "U16":
            header[k]["dtype"] = "BF16"
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + n:])
    backend = nb.load(path)
    for k, v in sd.items():
        want = (v.to(torch.bfloat16) if "layer_norm" not in k else v.half()).float().numpy()
        assert backend.weights[k].dtype == np.float32 and np.array_equal(backend.weights[k], want), k


def test_bad_files_are_one_line_errors(tmp_path):
    model = random_small_model()
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    from emotalk_blender.engine.network.layout import own_metadata

    del sd["bs_map_r.bias"]
    bad = tmp_path / "bad.safetensors"
    safetensors_io.write(bad, sd, own_metadata(model.config, {}))
    with pytest.raises(CheckpointError, match="missing \\(1\\): bs_map_r.bias") as err:
        nb.load(bad)
    assert str(bad) in str(err.value)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(paths.default_checkpoint().read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match="truncated"):
        nb.load(cut)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        nb.load(tmp_path / "absent.safetensors")


BLOCKED = """
import sys
for name in ("torch", "scipy", "soundfile"):
    sys.modules[name] = None  # any import of them now fails
import numpy as np
from emotalk_blender.engine import paths
from emotalk_blender.engine.network import numpy_backend
from emotalk_blender.engine.audio.decoding import available_decoders, load_audio
from emotalk_blender.engine.network.interface import normalise_audio
from emotalk_blender.engine.constants import frames_for_samples
from emotalk_blender.engine.errors import CheckpointError
from tests.released_demo import postprocess

assert available_decoders() == ["wave"], available_decoders()
backend = numpy_backend.load(paths.default_checkpoint())
wav = normalise_audio(load_audio(sys.argv[1]))
frames = frames_for_samples(len(wav))
out = backend.decode(backend.encode_content(wav, frames), backend.encode_emotion(wav, frames), 0.6, 2)
np.save(sys.argv[2], out)
np.save(sys.argv[3], postprocess(out, seed=4))
try:
    numpy_backend.load(sys.argv[4])
except CheckpointError as exc:
    print(exc)
assert not [m for m in ("torch", "scipy", "soundfile", "bpy") if sys.modules.get(m) is not None]
"""


def test_runs_with_torch_scipy_and_soundfile_blocked(default_model, speech_wav, tmp_path):
    pt = tmp_path / "m.pt"
    save_checkpoint(random_small_model(), pt)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", BLOCKED, str(speech_wav), str(tmp_path / "raw.npy"),
                           str(tmp_path / "post.npy"), str(pt)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    message = proc.stdout.strip()
    assert message.count("\n") == 0 and str(pt) in message and "needs PyTorch" in message and ".safetensors" in message
    wav = load_audio(speech_wav)  # soundfile here, the stdlib wave there: the same samples
    _, _, want, _ = torch_stages(default_model, wav, 0.6, 2)
    assert np.abs(np.load(tmp_path / "raw.npy") - want).max() <= TOL
    from released_demo import postprocess

    assert np.abs(np.load(tmp_path / "post.npy") - postprocess(want, seed=4)).max() <= TOL
