"""Reduced precision on the CPU: the full-size EmoTalk (random weights, released layout) in fp32, bf16 and int8.

Prints the machine and whether its CPU has native bf16, then for one 10 s clip of speech:
  * the time of each variant, run round by round (variant 1, 2, ..., then again) so that load from
    other jobs on a shared machine hits them alike; the minimum over the rounds is reported;
  * each variant's error against ours in fp32: max and mean absolute difference (also as a fraction
    of the output's spread, its standard deviation) and the per-channel correlation (min and mean
    over the 52 channels);
  * with ``--stages``: where the time goes (CNN, transformer, decoder) in fp32 and in bf16.

Variants: the independent eager implementation (tests/reference_emotalk.py) in fp32; ours in fp32;
ours under ``torch.autocast("cpu", bfloat16)`` with fp32 weights; ours with the weights cast to
bf16 (and autocast for the few fp32 inputs); ours in fp32 with oneDNN allowed to compute fp32
matrix products in bf16 (``torch.backends.mkldnn.matmul.fp32_precision``); ours with int8 dynamic
quantisation of the Linear layers (``torch.ao.quantization.quantize_dynamic``).

    .venv/bin/python bench/bench_precision.py [--seconds 10] [--rounds 3] [--stages]
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import warnings
from pathlib import Path
from types import MethodType

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.attention  # noqa: E402,F401  (SDPBackend names)
import torch.nn.functional as F  # noqa: E402

from machine import describe  # noqa: E402


def random_model(dtype: torch.dtype = torch.float32, like=None):
    """The full-size EmoTalk with random weights (seed 0, as bench_engine.py), or ``like``'s weights in ``dtype``.

    The copy is built on the meta device and assigned tensor by tensor, so it costs only its own size.
    """
    from emotalk_blender.engine.model import EmoTalk

    if like is None:
        torch.manual_seed(0)
        model = EmoTalk()
        torch.nn.init.normal_(model.bs_map_r.weight, std=0.02)
        return model.eval()
    with torch.device("meta"):
        model = EmoTalk(like.config)
    model.load_state_dict({k: v.to(dtype) for k, v in like.state_dict().items()}, strict=True, assign=True)
    return model.eval()


def mixed_model(fp32):
    """The candidate design: encoders' matrices in bf16 (norms, biases and the small decoder stay fp32),
    the transformers' residual stream in fp32 (a hook makes the feature projection's output fp32)."""
    from emotalk_blender.engine.model import EmoTalk

    with torch.device("meta"):
        model = EmoTalk(fp32.config)
    enc = ("audio_encoder_cont.", "audio_encoder_emo.")
    sd = {k: v.bfloat16() if v.dim() >= 2 and k.startswith(enc) else v for k, v in fp32.state_dict().items()}
    model.load_state_dict(sd, strict=True, assign=True)
    for e in (model.audio_encoder_cont, model.audio_encoder_emo.wav2vec2):
        e.feature_projection.register_forward_hook(lambda mod, args, out: out.float())
    return model.eval()


class MixedRun:
    """Encoders under bf16 autocast, the decoder in fp32, as the backend's stages would run."""

    def __init__(self, model):
        self.model = model

    def __call__(self, wav):
        from emotalk_blender.engine.model import normalise_audio

        m, frames = self.model, int(np.ceil(wav.shape[1] / 16000 * 30))
        wav = normalise_audio(wav)
        with bf16_autocast():
            emotion, content = m.encode_emotion(wav, frames)[0].float(), m.encode_content(wav, frames).float()
        return m.decode(content, emotion, 1.0, 0)


def _separate_qkv(self, x):
    """wav2vec2 attention with q, k and v as three modules (quantised Linears have no ``.weight`` tensor)."""
    b, t, c = x.shape
    split = lambda y: y.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
    y = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
    return self.out_proj(y.transpose(1, 2).reshape(b, t, c))


def int8_model(fp32):
    """``fp32``'s network (sharing its tensors) with every Linear replaced by an int8 dynamically quantised one."""
    from emotalk_blender.engine.wav2vec2 import Attention

    model = random_model(torch.float32, like=fp32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    for m in model.modules():
        if isinstance(m, Attention):
            m.forward = MethodType(_separate_qkv, m)
    return model


@contextlib.contextmanager
def onednn_bf16_fp32():
    """oneDNN may compute fp32 matrix products and convolutions in bf16 (an implicit reduced precision)."""
    mk = torch.backends.mkldnn
    old = mk.matmul.fp32_precision, mk.conv.fp32_precision
    mk.matmul.fp32_precision = mk.conv.fp32_precision = "bf16"
    try:
        yield
    finally:
        mk.matmul.fp32_precision, mk.conv.fp32_precision = old


def bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def errors(y: np.ndarray, ref: np.ndarray) -> str:
    d = np.abs(y - ref)
    spread = float(ref.std())
    corr = [np.corrcoef(y[:, c], ref[:, c])[0, 1] for c in range(ref.shape[1])]
    return (f"max |diff| {d.max():.2e}, mean {d.mean():.2e} ({d.mean() / spread:.2%} of the spread {spread:.3f}); "
            f"per-channel correlation min {min(corr):.5f}, mean {np.mean(corr):.5f}")


def gemm_floor() -> None:
    """One transformer-sized product (300 x 1024 by 1024 x 4096) in each number format, best of 20."""
    x, w = torch.randn(300, 1024), torch.randn(4096, 1024)
    lin = torch.nn.Sequential(torch.nn.Linear(1024, 4096))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(lin, {torch.nn.Linear}, dtype=torch.qint8)
    cases = {"fp32": lambda: F.linear(x, w), "bf16": lambda: F.linear(xb, wb), "fp16": lambda: F.linear(xh, wh),
             "int8 dynamic": lambda: q(x)}
    xb, wb, xh, wh = x.bfloat16(), w.bfloat16(), x.half(), w.half()
    out = []
    for name, fn in cases.items():
        fn()
        best = min(_timed(fn) for _ in range(20))
        out.append(f"{name} {best * 1e3:.1f} ms ({2 * 300 * 1024 * 4096 / best / 1e9:.0f} GFLOP/s)")
    print("one 300x1024x4096 product: " + "; ".join(out))


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def stages(model, wav: torch.Tensor, ctx, label: str) -> None:
    """Time of the content encoder's CNN, its transformer and the decoder (best of 3)."""
    frames = int(np.ceil(wav.shape[1] / 16000 * 30))
    enc = model.audio_encoder_cont
    with ctx():
        feats = enc.features(wav)
        content = model.encode_content(wav, frames)
        emotion, _ = model.encode_emotion(wav, frames)
        parts = {"CNN": lambda: enc.features(wav), "transformer": lambda: model.content_from_features(feats, frames),
                 "decoder": lambda: model.decode(content, emotion, 1.0, 0)}
        times = {k: min(_timed(fn) for _ in range(3)) for k, fn in parts.items()}
    print(f"  {label}: one encoder's " + ", ".join(f"{k} {v:.3f} s" for k, v in times.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--stages", action="store_true")
    ap.add_argument("--no-int8", action="store_true")
    args = ap.parse_args()

    from bench_engine import speech
    from emotalk_blender.engine.allocator import keep_freed_memory
    from emotalk_blender.engine.config import EmoTalkConfig
    from emotalk_blender.engine.precision import native_bf16
    from reference_emotalk import ReferenceEmoTalk

    keep_freed_memory()  # as the CLI runs
    print("machine:", describe())
    print(f"native bf16: {native_bf16()} (torch.cpu.get_capabilities: avx512_bf16="
          f"{torch.cpu.get_capabilities().get('avx512_bf16')}, amx_bf16={torch.cpu.get_capabilities().get('amx_bf16')}); "
          f"oneDNN: {torch.backends.mkldnn.is_available()}")
    gemm_floor()

    fp32 = random_model()
    bf16 = random_model(torch.bfloat16, like=fp32)
    ref = ReferenceEmoTalk(EmoTalkConfig(), fp32.state_dict())
    size = lambda m: sum(p.numel() * p.element_size() for p in m.parameters()) / 2**30  # noqa: E731
    print(f"weights resident: fp32 {size(fp32):.2f} GiB, bf16 {size(bf16):.2f} GiB")

    wav = torch.from_numpy(speech(args.seconds))[None]
    null = contextlib.nullcontext
    variants = {
        "reference eager fp32": (ref, null),
        "ours fp32": (fp32, null),
        "ours autocast bf16 (fp32 weights)": (fp32, bf16_autocast),
        "ours bf16 weights + autocast": (bf16, bf16_autocast),
        "ours fp32, oneDNN fp32_precision=bf16": (fp32, onednn_bf16_fp32),
        "ours bf16 encoders, fp32 residual+decoder": (MixedRun(mixed_model(fp32)), null),
    }
    if not args.no_int8:
        variants["ours int8 dynamic Linear"] = (int8_model(fp32), null)

    with torch.inference_mode():
        for dt in (torch.float32, torch.bfloat16):  # which fused kernel serves wav2vec2's attention shapes
            x = torch.zeros(1, 16, 300, 64, dtype=dt)
            kernel = torch.nn.attention.SDPBackend(torch._fused_sdp_choice(x, x, x)).name
            print(f"scaled_dot_product_attention kernel for {dt}: {kernel}")
        outputs, times = {}, {k: [] for k in variants}
        for r in range(args.rounds + 1):  # round 0 warms up
            for name, (model, ctx) in variants.items():
                with ctx():
                    t = time.perf_counter()
                    y = model(wav)[0].float().numpy()
                    dt = time.perf_counter() - t
                if r:
                    times[name].append(dt)
                outputs[name] = y
    base_t, base = min(times["reference eager fp32"]), outputs["ours fp32"]
    print(f"{args.seconds:.0f} s clip, min (median) of {args.rounds} interleaved rounds on a shared machine:")
    for name in variants:
        t = min(times[name])
        print(f"  {name:40s} {t:6.2f} s ({statistics.median(times[name]):.2f}) RTF {t / args.seconds:.3f} "
              f"x{base_t / t:.2f} vs reference; vs ours fp32: {errors(outputs[name], base)}")
    if args.stages:
        with torch.inference_mode():
            stages(fp32, wav, null, "fp32")
            stages(bf16, wav, bf16_autocast, "bf16 weights + autocast")


if __name__ == "__main__":
    main()
