"""The voice's emotion reading (engine/direction/emotion_reading.py), its calibration, the ``emotion`` command and
the take's lean toward neutral when the reading is unsure."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from emotalk_blender.engine.direction import emotion_reading as R
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.network.loading import load_backend
from emotalk_blender.engine.constants import EMOTIONS

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def audio(speech_wav):
    return load_audio(speech_wav)


def test_numpy_head_is_the_models_own_classifier(tiny_checkpoint, audio):
    """The NumPy reading equals the torch model's classifier logits (eval mode) on the same clip."""
    from emotalk_blender.engine.network.model import normalise_audio

    tb = load_backend(tiny_checkpoint, backend="torch", precision="fp32")
    with torch.no_grad():
        _, logits = tb.model.encode_emotion(normalise_audio(torch.from_numpy(audio)[None]), 30)
    expect = torch.softmax(logits[0].double(), -1).numpy()
    for name in ("numpy", "torch"):
        b = load_backend(tiny_checkpoint, backend=name, precision="fp32")
        got = R.read(b, audio).probabilities
        assert got.shape == (7,) and got.sum() == pytest.approx(1.0)
        assert np.allclose(got, expect, atol=2e-4), name


def test_over_time_gives_one_reading_a_second(tiny_checkpoint, audio):
    b = load_backend(tiny_checkpoint, backend="numpy")
    r = R.read(b, audio, over_time=True)
    assert r.per_second.shape == (int(np.ceil(len(audio) / 16000)), 7)
    assert np.allclose(r.per_second.sum(axis=1), 1.0)


def test_long_audio_is_read_in_pieces(tiny_checkpoint, audio):
    b = load_backend(tiny_checkpoint, backend="numpy")
    long = np.tile(audio, int(np.ceil(2.2 * R.CHUNK_SECONDS * 16000 / len(audio))))
    h = R.hidden_states(b, long)
    assert abs(h.shape[0] / (len(long) / 16000) - 30) < 1.5  # about 30 steps a second across the pieces


def test_calibration_math_and_fit():
    from emotalk_blender.training.emotion_calibration import ece, fit

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 3000)
    true = rng.normal(0, 1, (3000, 7))
    true[np.arange(3000), labels] += 1.5
    # with unit noise the posterior is softmax(1.5 * true): logits 4 x true are too sharp by 4 / 1.5
    over = true * 4.0
    raw = R.Calibration().probabilities(over)
    cal = fit(over, labels)
    assert cal.temperature == pytest.approx(4.0 / 1.5, rel=0.1)
    assert fit(over, labels, balanced=False).temperature == pytest.approx(4.0 / 1.5, rel=0.1)  # balanced classes
    assert ece(cal.probabilities(over), labels) < 0.5 * ece(raw, labels)
    assert ece(np.eye(7)[labels], labels) == 0.0  # right and sure: calibrated
    c = R.Calibration(2.0, (0.0,) * 6 + (1.0,))
    z = np.array([2.0, 0, 0, 0, 0, 0, 0])
    expect = np.exp(z / 2 + c.bias) / np.exp(z / 2 + c.bias).sum()
    assert np.allclose(c.probabilities(z), expect)


def _with_calibration(tmp_path, checkpoint, temperature=1.0, sha=None):
    ckpt = tmp_path / ("model" + checkpoint.suffix)
    shutil.copyfile(checkpoint, ckpt)
    data = {"model": {"file": ckpt.name, "bytes": ckpt.stat().st_size, "sha256": sha or R.file_sha256(ckpt)},
            "temperature": temperature, "bias": [0.0] * 7}
    R.calibration_path(ckpt).write_text(json.dumps(data))
    return ckpt


def test_calibration_file_applies_to_its_own_model_only(tmp_path, tiny_checkpoint):
    ckpt = _with_calibration(tmp_path, tiny_checkpoint, temperature=3.0)
    assert R.load_calibration(ckpt).temperature == 3.0
    other = _with_calibration(tmp_path / "x" if (tmp_path / "x").mkdir() is None else None, tiny_checkpoint,
                              temperature=3.0, sha="0" * 64)
    assert R.load_calibration(other).source == "none"  # a file for another model: not used


def _with_presets(ckpt, b):
    from emotalk_blender.engine.direction.presets_file import Presets, presets_path, save_presets

    rng = np.random.default_rng(1)
    feats = {e: rng.normal(0, 1, b.config.emotion_dim).astype(np.float32) for e in EMOTIONS}
    save_presets(presets_path(ckpt), Presets(feats, {"format": 1, "emotion_dim": b.config.emotion_dim}))


def test_unsure_reading_leans_to_neutral_and_off_is_todays_take(tmp_path, tiny_checkpoint, speech_wav, audio):
    import released_demo as pp
    from emotalk_blender.engine.network.inference import predict
    from emotalk_blender.engine.pipeline import GenerateSettings, generate

    ckpt = _with_calibration(tmp_path, tiny_checkpoint, temperature=1.0)
    b = load_backend(ckpt, backend="numpy")
    _with_presets(ckpt, b)
    reading = R.read(b, audio, R.load_calibration(ckpt))
    name, p = reading.top
    lean = R.voice_lean(b, audio, ckpt)
    got = R.LAST["reading"]
    if name == "neutral":
        assert lean is None
    else:
        assert lean.weight == pytest.approx(0.8 * (1 - p))
        e = np.ones((5, b.config.emotion_dim), np.float32)
        neutral = lean.neutral
        assert np.allclose(lean(e), (1 - lean.weight) * e + lean.weight * neutral[None, :], atol=1e-6)
    assert got.summary() == f"voice reads as: {name} {p:.2f}"
    off = GenerateSettings(checkpoint=str(ckpt), backend="numpy", neutral_lean=0.0, seed=3)
    raw = predict(b, audio)
    assert np.array_equal(generate(speech_wav, off), pp.postprocess(raw, seed=3))
    on = GenerateSettings(checkpoint=str(ckpt), backend="numpy", seed=3)
    assert (name == "neutral") == np.array_equal(generate(speech_wav, on), generate(speech_wav, off))


def test_no_calibration_means_no_lean(tmp_path, tiny_checkpoint, audio):
    ckpt = tmp_path / ("plain" + tiny_checkpoint.suffix)
    shutil.copyfile(tiny_checkpoint, ckpt)
    b = load_backend(ckpt, backend="numpy")
    _with_presets(ckpt, b)
    assert R.voice_lean(b, audio, ckpt) is None and "reading" not in R.LAST


def test_neutral_lean_setting_is_checked():
    from emotalk_blender.engine.pipeline import GenerateSettings
    from emotalk_blender.engine.settings import SettingsError

    for bad in (1.5, -0.1, float("nan"), True, "0.5"):
        with pytest.raises(SettingsError, match="neutral_lean"):
            GenerateSettings(neutral_lean=bad).validated()


def test_emotion_command(tmp_path, tiny_checkpoint, speech_wav, capsys):
    from emotalk_blender.engine.cli.main import main

    ckpt = _with_calibration(tmp_path, tiny_checkpoint, temperature=2.0)
    assert main(["emotion", str(speech_wav), str(speech_wav), "--checkpoint", str(ckpt), "--json",
                 "--over-time", "--backend", "numpy"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and lines[0]["calibrated"] is True
    assert set(lines[0]["probabilities"]) == set(EMOTIONS)
    assert sum(lines[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert len(lines[0]["per_second"]) == int(np.ceil(len(load_audio(speech_wav)) / 16000))
    assert main(["emotion", str(speech_wav), "--checkpoint", str(ckpt), "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{speech_wav}: ") and all(e in out for e in EMOTIONS)
    assert main(["emotion", str(tmp_path / "nope.wav"), "--checkpoint", str(ckpt)]) == 1
    assert "nope.wav" in capsys.readouterr().err
