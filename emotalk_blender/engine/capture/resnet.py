"""The seed's own capture backend: a face crop -> the capture ResNet -> the 52 ARKit weights.

EmoTalk's supplementary material (section 5) captures its data set with a network from cropped face
images to the 52 blendshape values trained with an L2 loss; ``training/capture_train.py`` trains ours.
Weights are a safetensors file (read with the NumPy parser, nothing executed) whose header holds
the network's configuration. torch is optional for the extension: it is imported only here.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import paths
from ..network import safetensors_io
from ..arkit import ARKIT_NAMES, NUM_BLENDSHAPES
from ..errors import CheckpointError
from .base import CaptureError, Crop, clamp_crop

FORMAT = "emotalk-capture-resnet"
FORMAT_VERSION = 1
DEFAULT_WEIGHTS = ("models", "capture_resnet.safetensors")  # shipped beside the default model (models/CAPTURE.md)
# MediaPipe's landmark box is tight (mid-forehead to chin); the training renders frame brows to chin with
# room (capture_renders.FRAME_MARGIN). Measured on the default head's preview: the render crop is 1.75x
# the landmark box's height, centred 7 % of that height higher.
FACE_BOX_SCALE = 1.75
FACE_BOX_LIFT = 0.07

_COUNTERS = "num_batches_tracked"  # batch-norm step counters: training state, not weights, not saved
FaceBox = Callable[[np.ndarray], "Crop | None"]  # RGB frame -> face box in pixels, or None (no face)


@dataclass(frozen=True)
class ResNetConfig:
    """The network's shape and its input: ``size`` x ``size`` RGB, normalised per image."""

    size: int = 128
    widths: tuple[int, ...] = (24, 48, 96, 192)
    blocks: tuple[int, ...] = (1, 1, 1, 1)
    channels: tuple[str, ...] = field(default=ARKIT_NAMES)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "ResNetConfig":
        return cls(size=int(d["size"]), widths=tuple(int(w) for w in d["widths"]),
                   blocks=tuple(int(b) for b in d["blocks"]), channels=tuple(d.get("channels", ARKIT_NAMES)))


def import_torch():
    """torch, or a one-line CaptureError saying how to get it."""
    try:
        import torch
    except ImportError:
        raise CaptureError("the resnet capture backend needs PyTorch: press Install PyTorch in the "
                           "extension's Preferences (or pip install torch)") from None
    return torch


def build(config: ResNetConfig):
    """A fresh (randomly initialised) capture network for ``config``."""
    import_torch()
    from .resnet_model import CaptureResNet

    return CaptureResNet(config.widths, config.blocks, len(config.channels), config.size)


def square_box(box, frame_w: int, frame_h: int, scale: float = 1.0, lift: float = 0.0) -> tuple[int, int, int, int]:
    """The square of side ``scale * max(w, h)`` centred ``lift * h`` above ``box``'s centre (may run off the frame)."""
    x, y, w, h = (float(v) for v in box)
    side = max(2, int(round(max(w, h) * scale)))
    cx, cy = x + w / 2, y + h / 2 - lift * h
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side, side


def crop_pixels(crop, frame_w: int, frame_h: int) -> tuple[int, int, int, int]:
    """``crop`` in pixels; values all in (0, 1] as floats are fractions of the frame; None: centre square."""
    if crop is None:
        side = min(frame_w, frame_h)
        return (frame_w - side) // 2, (frame_h - side) // 2, side, side
    x, y, w, h = crop
    if all(isinstance(v, float) for v in crop) and max(crop) <= 1.0:
        x, w = x * frame_w, w * frame_w
        y, h = y * frame_h, h * frame_h
    return int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h)))


def cut(rgb: np.ndarray, box) -> np.ndarray:
    """The pixels of ``box`` (x, y, w, h); parts outside the frame are black."""
    x, y, w, h = box
    out = np.zeros((h, w, 3), np.uint8)
    H, W = rgb.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        out[y0 - y:y1 - y, x0 - x:x1 - x] = rgb[y0:y1, x0:x1, :3]
    return out


def to_input(images, size: int):
    """(B, H, W, 3) uint8 (or a list of crops) -> (B, 3, size, size) float tensor, each image normalised."""
    torch = import_torch()
    import torch.nn.functional as F

    tensors = []
    for img in images if isinstance(images, list) else [images[i] for i in range(len(images))]:
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0
        if t.shape[-2:] != (size, size):
            t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        tensors.append(t)
    return normalise(torch.cat(tensors))


def normalise(x):
    """(B, 3, S, S) float images in 0..1 -> zero mean, unit spread per image (training and capture alike)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
    return (x - mean) / std  # brightness and contrast of the footage drop out


class ResNetBackend:
    """The capture network over one crop per frame: a fixed crop, or a face detector's box."""

    name = "resnet"

    def __init__(self, model, config: ResNetConfig, crop=None, face_box: FaceBox | None = None,
                 meta: dict | None = None):
        self.torch = import_torch()
        self.model = model.eval()
        self.config = config
        self.crop = crop
        self.face_box = face_box
        self.meta = dict(meta or {})
        self._order = [config.channels.index(n) if n in config.channels else -1 for n in ARKIT_NAMES]

    def box(self, rgb: np.ndarray) -> tuple[int, int, int, int] | None:
        """The crop of this frame in pixels, or None when the detector finds no face."""
        h, w = rgb.shape[:2]
        if self.crop is None and self.face_box is not None:
            found = self.face_box(rgb)
            return None if found is None else square_box(found, w, h, FACE_BOX_SCALE, FACE_BOX_LIFT)
        # a fixed crop stays inside the frame: a huge one would cut a huge black image (27.9 GiB for 100000 px)
        return clamp_crop(crop_pixels(self.crop, w, h), w, h)

    def predict(self, crops: list[np.ndarray]) -> np.ndarray:
        """(N, 52) weights in the released order for face crops of any size."""
        with self.torch.inference_mode():
            y = self.model(to_input(crops, self.config.size)).clamp(0.0, 1.0).numpy()
        out = np.zeros((len(y), NUM_BLENDSHAPES), np.float32)
        for i, j in enumerate(self._order):
            if j >= 0:
                out[:, i] = y[:, j]
        return out

    def weights(self, rgb: np.ndarray) -> np.ndarray | None:
        box = self.box(rgb)
        return None if box is None else self.predict([cut(rgb, box)])[0]

    def close(self) -> None:
        closer = getattr(self.face_box, "close", None)
        if closer is not None:
            closer()
        self.model = None


class MediaPipeFaceBox:
    """Face boxes from MediaPipe's Face Landmarker (the bounding box of its 478 landmarks), per image."""

    def __init__(self, model_path):
        from . import mediapipe_backend as mpb

        path = mpb.check_model(model_path)
        self._mp = mpb.import_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=path),
                                               running_mode=vision.RunningMode.IMAGE, num_faces=1)
        try:
            with mpb._quiet_native_stderr():
                self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise CaptureError(f"{path}: not a MediaPipe Face Landmarker model ({exc})") from None

    def __call__(self, rgb: np.ndarray) -> tuple[int, int, int, int] | None:
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb[..., :3]))
        result = self._landmarker.detect(image)
        if not result.face_landmarks:
            return None
        pts = np.array([(p.x, p.y) for p in result.face_landmarks[0]], np.float64)
        h, w = rgb.shape[:2]
        (x0, y0), (x1, y1) = pts.min(axis=0) * (w, h), pts.max(axis=0) * (w, h)
        return int(round(x0)), int(round(y0)), max(1, int(round(x1 - x0))), max(1, int(round(y1 - y0)))

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None


def mediapipe_face_box(model_path) -> MediaPipeFaceBox:
    """A face-box detector for ``ResNetBackend(face_box=...)`` from MediaPipe's face_landmarker.task."""
    return MediaPipeFaceBox(model_path)


def save(path, model, config: ResNetConfig, meta: dict | None = None, half: bool = True) -> Path:
    """Write the network as safetensors (fp16 by default, a third of the size), config in the header."""
    tensors = {}
    for k, v in model.state_dict().items():
        if k.endswith(_COUNTERS):
            continue
        a = v.detach().cpu().numpy()
        tensors[k] = a.astype(np.float16) if half and a.dtype == np.float32 else a
    safetensors_io.write(path, tensors, {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                                         "config": json.dumps(config.to_dict()),
                                         "meta": json.dumps(meta or {})})
    return Path(path)


def load_model(path):
    """(model, config, meta) from a capture-weights file; CaptureError naming the file when unusable."""
    torch = import_torch()
    path = Path(path)
    try:
        tensors, header = safetensors_io.read(path)
    except CheckpointError as exc:
        raise CaptureError(str(exc)) from None
    if header.get("format") != FORMAT:
        raise CaptureError(f"{path}: not capture ResNet weights (header format {header.get('format')!r}, "
                           f"expected {FORMAT!r})")
    try:
        config = ResNetConfig.from_dict(json.loads(header["config"]))
        meta = json.loads(header.get("meta", "{}"))
    except (KeyError, ValueError, TypeError) as exc:
        raise CaptureError(f"{path}: corrupt capture ResNet config ({exc})") from None
    model = build(config)
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith(_COUNTERS)}
    state = {k: torch.from_numpy(np.array(v)).to(expected[k].dtype) if k in expected else torch.from_numpy(np.array(v))
             for k, v in tensors.items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or shapes:
        raise CaptureError(f"{path}: does not fit its config (missing {missing[:3]}, unexpected {unexpected[:3]}, "
                           f"wrong shape {shapes[:3]})")
    model.load_state_dict(state, strict=False)  # strict above; only the batch-norm step counters stay
    return model.eval(), config, meta


def load(model_path=None, crop: Crop | None = None, face_box: FaceBox | None = None) -> ResNetBackend:
    """The resnet backend from ``model_path`` (default: the shipped weights) with a crop or a face detector."""
    path = Path(model_path) if model_path else paths.resource(*DEFAULT_WEIGHTS)
    if not path.is_file():
        raise CaptureError(f"{path}: no such capture ResNet weights file (train one with "
                           f"python -m emotalk_blender.training.capture_train)")
    model, config, meta = load_model(path)
    return ResNetBackend(model, config, crop=crop, face_box=face_box, meta=meta)
