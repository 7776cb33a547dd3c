"""The pipeline (settings -> checks -> backend -> inference -> post-processing) and the backend loader."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from emotalk_blender.engine.network import loading as backends
from emotalk_blender.engine import paths
import released_demo as pp
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.network.interface import Backend
from emotalk_blender.engine.errors import CheckpointError
from emotalk_blender.engine.network.inference import predict
from emotalk_blender.engine.pipeline import GenerateSettings, generate, load_model, model_status
from emotalk_blender.engine.settings import SettingsError

REPO = Path(__file__).resolve().parent.parent


def test_pipeline_generate_matches_predict_then_postprocess(tiny_checkpoint, speech_wav):
    s = GenerateSettings(level=0.3, person=5, seed=11, checkpoint=str(tiny_checkpoint), precision="fp32")
    got = generate(speech_wav, s)
    raw = predict(load_model(tiny_checkpoint), load_audio(speech_wav), level=0.3, person=5)
    assert np.array_equal(got, pp.postprocess(raw, seed=11))
    plain = GenerateSettings(checkpoint=str(tiny_checkpoint), smooth=False, blinks=False, precision="fp32")
    assert np.array_equal(generate(speech_wav, plain), predict(load_model(tiny_checkpoint), load_audio(speech_wav)))


def test_bad_controls_fail_before_the_audio_is_read(tmp_path, tiny_checkpoint):
    missing = tmp_path / "missing.wav"  # would be an AudioError if it were read
    for bad in (dict(level=1.5), dict(person=-1), dict(person=[1.0] * 3), dict(backend="jax")):
        with pytest.raises(SettingsError):
            generate(missing, GenerateSettings(checkpoint=str(tiny_checkpoint), **bad))


def test_importing_the_pipeline_needs_no_torch():
    code = ("import sys; import emotalk_blender.engine.pipeline, emotalk_blender.engine.cli.main; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert not any(m.startswith('emotalk_blender.blender') for m in sys.modules), 'Blender side imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr


def test_auto_backend_is_torch_when_importable_and_cached(tiny_checkpoint):
    assert backends.choose_backend("auto") == "torch" and backends.choose_backend("numpy") == "numpy"
    b = backends.load_backend(tiny_checkpoint, precision="fp32")  # load_model's precision
    assert isinstance(b, Backend) and b.name == "torch" and b.device == "cpu"
    assert b.meta["name"] == "tiny random test model"
    assert backends.load_backend(str(tiny_checkpoint), "cpu", "torch", precision="fp32") is b  # one cache entry
    assert load_model(tiny_checkpoint) is b.model and isinstance(b.model, torch.nn.Module)


def test_auto_backend_is_numpy_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"  # as in a stock Blender: import torch fails
            "from emotalk_blender.engine.network import loading as backends\n"
            "assert backends.choose_backend('auto') == 'numpy', backends.choose_backend('auto')\n"
            "try:\n"
            "    backends.load_backend(sys.argv[1], backend='torch')\n"
            "except backends.BackendError as exc:\n"
            "    print(exc)\n")
    r = subprocess.run([sys.executable, "-c", code, str(paths.default_checkpoint())],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "the torch backend needs torch installed (or use the numpy backend)"


def test_numpy_backend_needs_the_cpu(tiny_checkpoint):
    with pytest.raises(backends.BackendError, match="CPU only"):
        backends.load_backend(tiny_checkpoint, "cuda", "numpy")


def test_numpy_backend_through_the_seam(tiny_checkpoint, speech_wav):
    pytest.importorskip("emotalk_blender.engine.network.numpy_backend")
    b = backends.load_backend(tiny_checkpoint, backend="numpy")
    assert isinstance(b, Backend) and b.name == "numpy" and b.device == "cpu"
    audio = load_audio(speech_wav)
    want = predict(load_model(tiny_checkpoint), audio, level=0.5, person=4)
    got = predict(b, audio, level=0.5, person=4)
    assert got.shape == want.shape and np.allclose(got, want, atol=1e-3)


def test_model_status_never_raises(tmp_path, tiny_checkpoint):
    status = model_status(tiny_checkpoint, "cpu")
    assert status.startswith("tiny random test model (") and "on cpu (torch)" in status
    missing = model_status(tmp_path / "none.pth")
    assert missing.startswith("not loaded: ") and "none.pth: no such checkpoint file" in missing
    with pytest.raises(CheckpointError):
        backends.load_backend(tmp_path / "none.pth")
