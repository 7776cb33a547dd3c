"""The seed's capture ResNet: renders of the default head (real bpy), a short real training run whose
loss goes down, export and load through the capture-backend interface, Live Link Face video/CSV pairs
matched by timecode, MediaPipe-labelled pairs, and bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from emotalk_blender.engine.formats import livelinkface
from emotalk_blender.engine.network import safetensors_io
from emotalk_blender.engine.arkit import INDEX, NUM_BLENDSHAPES
from emotalk_blender.engine.capture import resnet
from emotalk_blender.engine.capture.base import CaptureBackend, CaptureError, load_capture_backend
from emotalk_blender.training import capture_renders, capture_train

torch = pytest.importorskip("torch")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LLF_CSV = DATA / "livelinkface" / "alex_rom_3.csv"
MP_MODEL = DATA / "mediapipe" / "face_landmarker.task"
GRID_CLIP = DATA / "grid" / "pwij3p.mpg"


@pytest.fixture(scope="module")
def tiny_pairs(tmp_path_factory) -> Path:
    """24 renders of the default head at 64 px, random weights, written as a pairs folder."""
    rng = np.random.default_rng(3)
    weights = capture_renders.sample_weights(rng, 24)
    weights[0] = 0.0  # a neutral face, and the same face with the jaw open
    weights[1] = 0.0
    weights[1, INDEX["jawOpen"]] = 1.0
    images = capture_renders.render_pairs(weights, size=64, seed=3, jitter=False)
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return capture_renders.write_pairs(tmp_path_factory.mktemp("pairs"), images, weights, {"source": "render"})


def test_renders_show_the_weights(tiny_pairs):
    images, weights = capture_renders.read_pairs(tiny_pairs)
    assert images.shape == (24, 64, 64, 3) and images.dtype == np.uint8
    assert weights.shape == (24, NUM_BLENDSHAPES)
    assert images[0].mean() > 20  # a lit face, not a black frame
    # The open jaw changes the lower half of the face much more than the upper half.
    diff = np.abs(images[1].astype(int) - images[0].astype(int)).mean(axis=(1, 2))
    assert diff[32:].mean() > 3 * diff[:24].mean() and diff[32:].mean() > 2


def test_sampled_weights_are_sparse_and_plausible():
    w = capture_renders.sample_weights(np.random.default_rng(0), 2000)
    assert w.min() >= 0 and w.max() <= 1
    active = (w > 0.05).sum(axis=1)
    assert 2 <= np.median(active) <= 12  # a few channels at a time
    both = (w[:, INDEX["eyeBlinkLeft"]] > 0.1) & (w[:, INDEX["eyeBlinkRight"]] > 0.1)
    assert 0.15 < both.mean() < 0.5  # blinks, mostly of both eyes
    assert (w[:, INDEX["jawOpen"]] > 0.1).mean() > 0.4


def test_training_lowers_the_loss_and_exports_a_backend(tiny_pairs, tmp_path):
    args = Namespace(out=str(tmp_path / "run"), pairs=[str(tiny_pairs)], renders=0, size=64, input_size=0, minutes=0.0,
                     steps=40, batch=8, lr=3e-3, widths=[8, 16, 32, 64], blocks=[1, 1, 1, 1], val_share=0.25,
                     seed=0, threads=1, log_every=10, eval_every=0, resume=False,
                     export=str(tmp_path / "capture.safetensors"))
    final = capture_train.train(args)
    log = json.loads((tmp_path / "run" / "metrics.json").read_text())["log"]
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 4 and losses[-1] < 0.6 * losses[0]
    assert {"mae_mouth", "mean_mae_mouth", "mae_eyes", "mean_mae_eyes"} <= set(final)

    backend = load_capture_backend("resnet", tmp_path / "capture.safetensors")
    assert isinstance(backend, CaptureBackend) and backend.name == "resnet"
    images, _ = capture_renders.read_pairs(tiny_pairs)
    frame = np.zeros((64, 84, 3), np.uint8)  # a wider frame: its centre square is the render
    frame[:, 10:74] = images[5]
    w = backend.weights(frame)
    assert w.shape == (NUM_BLENDSHAPES,) and w.dtype == np.float32 and 0 <= w.min() and w.max() <= 1
    # The backend (fp16 file, centre crop) gives what the trained network gives on that render.
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    model = resnet.build(backend.config)
    model.load_state_dict(state["model"])
    direct = capture_train.predict(torch, model, images[5:6])[0]
    assert np.abs(direct - w).max() < 0.02
    backend.close()

    # Resume: the step count carries on from last.pt.
    args.steps, args.export = 45, None
    capture_train.train(Namespace(**{**vars(args), "resume": True}))
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["step"] == 45


def test_bad_weights_files(tmp_path):
    with pytest.raises(CaptureError, match="no such capture ResNet weights"):
        resnet.load(tmp_path / "missing.safetensors")
    other = tmp_path / "other.safetensors"
    safetensors_io.write(other, {"x": np.zeros(3, np.float32)}, {"format": "something-else"})
    with pytest.raises(CaptureError, match="not capture ResNet weights"):
        resnet.load(other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a file")
    with pytest.raises(CaptureError, match="junk.safetensors"):
        resnet.load(junk)


def test_missing_torch_is_one_line():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from emotalk_blender.engine.capture import resnet\n"
            "try:\n    resnet.import_torch()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert out.startswith("CaptureError") and "Install PyTorch" in out and "\n" not in out


def test_crops():
    assert resnet.crop_pixels(None, 200, 100) == (50, 0, 100, 100)
    assert resnet.crop_pixels((0.25, 0.0, 0.5, 1.0), 200, 100) == (50, 0, 100, 100)
    assert resnet.crop_pixels((10, 20, 30, 40), 200, 100) == (10, 20, 30, 40)
    rgb = np.full((10, 10, 3), 7, np.uint8)
    part = resnet.cut(rgb, (-2, 5, 6, 8))  # runs off the left and the bottom: black there
    assert part.shape == (8, 6, 3) and part[0, 0, 0] == 0 and part[0, 2, 0] == 7 and part[-1, 3, 0] == 0
    assert resnet.square_box((10, 10, 20, 40), 100, 100, 1.0) == (0, 10, 40, 40)


def _timecoded_video(path: Path, count: int, timecode: str) -> Path:
    """A 30 fps video whose frame i is grey level 4 i (lossless PNG in .mov), with a start timecode."""
    frames = b"".join(np.full((48, 48, 3), 4 * i, np.uint8).tobytes() for i in range(count))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "48x48", "-r", "30",
                    "-i", "-", "-c:v", "png", "-timecode", timecode, str(path)], input=frames, check=True)
    return path


def test_livelinkface_pairs_match_by_timecode(tmp_path):
    # The real take starts at 13:13:04 + 31.652/60 s = 13:13:04.5275; the video 0.5275 s earlier or so.
    video_path = _timecoded_video(tmp_path / "take.mov", 60, "13:13:04:00")
    images, weights = capture_renders.livelinkface_pairs(video_path, LLF_CSV, size=32)
    grey = images.reshape(len(images), -1).mean(axis=1) / 4
    first = int(round(grey[0]))
    assert first == 16  # frames 0..15 (before 4.5275 s) have no CSV row and are dropped
    assert len(images) == 60 - 16 and np.allclose(grey, np.arange(16, 60), atol=0.3)
    take = livelinkface.read_csv(LLF_CSV)  # 30 fps from the first row
    for j, i in enumerate(range(16, 60)):
        pos = (i / 30 - 0.5275333) * 30  # frame position on the take's grid
        k = int(np.floor(pos))
        expected = take[k] + (pos - k) * (take[k + 1] - take[k])
        assert np.abs(weights[j] - expected).max() < 0.03
    with pytest.raises(CaptureError, match="no frame falls inside"):
        capture_renders.livelinkface_pairs(_timecoded_video(tmp_path / "late.mov", 5, "14:00:00:00"), LLF_CSV)
    plain = tmp_path / "plain.mov"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=32x32:d=0.2", "-c:v", "png",
                    str(plain)], check=True)
    with pytest.raises(CaptureError, match="no timecode"):
        capture_renders.livelinkface_pairs(plain, LLF_CSV)


@pytest.mark.skipif(not MP_MODEL.is_file() or not GRID_CLIP.is_file(), reason="fixtures missing")
def test_mediapipe_labels_make_pairs(tmp_path):
    pytest.importorskip("mediapipe")
    images, weights = capture_renders.mediapipe_pairs([GRID_CLIP], MP_MODEL, size=64, every=15)
    assert len(images) >= 4 and images.shape[1:] == (64, 64, 3)
    assert weights.shape == (len(images), NUM_BLENDSHAPES) and weights[:, INDEX["tongueOut"]].max() == 0
    assert weights[:, INDEX["jawOpen"]].max() > 0.02  # a talking face
    out = capture_renders.write_pairs(tmp_path / "mp", images, weights, {"source": "mediapipe"})
    assert capture_renders.read_pairs(out)[0].shape == images.shape


@pytest.mark.skipif(not (Path(__file__).resolve().parents[1] / "models" / "capture_resnet.safetensors").is_file(),
                    reason="no shipped capture weights")
def test_shipped_weights_read_the_default_head(tiny_pairs):
    backend = load_capture_backend("resnet")  # no path: the shipped models/capture_resnet.safetensors
    images, _ = capture_renders.read_pairs(tiny_pairs)
    neutral, jaw = backend.weights(images[0]), backend.weights(images[1])
    assert jaw[INDEX["jawOpen"]] > neutral[INDEX["jawOpen"]] + 0.4
    assert neutral[INDEX["eyeBlinkLeft"]] < 0.3
    backend.close()
