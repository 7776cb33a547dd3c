"""Reduced precision: the full-size EmoTalk (random weights, released layout) and the default model.

Prints the machine and whether its CPU has native bf16, then
  * full size, 10 s of speech, through the shipped path (``torch_backend.load(..., precision)`` and
    ``inference.predict``): the independent eager implementation (tests/reference_emotalk.py) in
    fp32, ours in fp32 and ours in ``auto``, run round by round (1, 2, 3, then again) so that load
    from other jobs on a shared machine hits them alike; the minimum over the rounds is reported;
  * each precision's error against ours in fp32: max and mean absolute difference (also as a
    fraction of the output's spread, its standard deviation) and the per-channel correlation (min
    and mean over the 52 channels); the same on the shipped default model (torch bf16 and the
    NumPy backend against torch fp32);
  * with ``--rss``: load + predict of a 600 s clip in a fresh process per precision, peak RSS
    (VmHWM) against the size of the fp32 weights;
  * with ``--candidates``: what else was tried, on the in-memory model: autocast with fp32 weights,
    every weight in bf16 (the decoder too), oneDNN's implicit bf16 for fp32 products
    (``torch.backends.mkldnn.matmul.fp32_precision``), int8 dynamic quantisation of the Linear
    layers (``torch.ao.quantization.quantize_dynamic``), and one product in each number format.

    .venv/bin/python bench/bench_precision.py [--rounds 3] [--rss [auto fp32]] [--candidates]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import MethodType

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.attention  # noqa: E402  (SDPBackend names)
import torch.nn.functional as F  # noqa: E402

from machine import describe  # noqa: E402


def random_model(dtype: torch.dtype = torch.float32, like=None):
    """The full-size EmoTalk with random weights (seed 0, as bench_engine.py), or ``like``'s weights in ``dtype``.

    The copy is built on the meta device and assigned tensor by tensor, so it costs only its own size.
    """
    from emotalk_blender.engine.network.model import EmoTalk

    if like is None:
        torch.manual_seed(0)
        model = EmoTalk()
        torch.nn.init.normal_(model.bs_map_r.weight, std=0.02)
        return model.eval()
    with torch.device("meta"):
        model = EmoTalk(like.config)
    model.load_state_dict({k: v.to(dtype) for k, v in like.state_dict().items()}, strict=True, assign=True)
    return model.eval()


def _separate_qkv(self, x):
    """wav2vec2 attention with q, k and v as three modules (quantised Linears have no ``.weight`` tensor)."""
    b, t, c = x.shape
    split = lambda y: y.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
    y = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
    return self.out_proj(y.transpose(1, 2).reshape(b, t, c))


def int8_model(fp32):
    """``fp32``'s network (sharing its tensors) with every Linear replaced by an int8 dynamically quantised one."""
    from emotalk_blender.engine.network.wav2vec2 import Attention

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
    live = [c for c in range(ref.shape[1]) if ref[:, c].std() > 0]  # a constant channel has no correlation
    corr = [np.corrcoef(y[:, c], ref[:, c])[0, 1] for c in live]
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


def child(length: float, ckpt: str, precision: str) -> None:
    """One measurement in this process: load + predict ``length`` seconds in ``precision``; print JSON."""
    from bench_engine import peak_rss_gib, speech
    from emotalk_blender.engine.network import torch_backend
    from emotalk_blender.engine.network.allocator import keep_freed_memory
    from emotalk_blender.engine.network.inference import predict

    keep_freed_memory()  # as the CLI runs
    audio = speech(length)
    t0 = time.perf_counter()
    net = torch_backend.load(ckpt, "cpu", precision)
    load_peak = peak_rss_gib()
    t1 = time.perf_counter()
    predict(net, audio)
    t2 = time.perf_counter()
    print(json.dumps({"precision": net.precision, "load_s": t1 - t0, "predict_s": t2 - t1,
                      "load_peak_gib": load_peak, "peak_rss_gib": peak_rss_gib()}))


def rss(ckpt: Path, precisions: list[str], length: float) -> None:
    fp32_size = sum(v.numel() * v.element_size() for v in read_tensors_(ckpt).values()) / 2**30
    for precision in precisions:
        r = subprocess.run([sys.executable, __file__, "--child", str(length), str(ckpt), precision],
                           capture_output=True, text=True, check=True)
        row = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{length:.0f} s clip, {precision} ({row['precision']}): load {row['load_s']:.1f} s (peak RSS "
              f"{row['load_peak_gib']:.2f} GiB), predict {row['predict_s']:.1f} s "
              f"(RTF {row['predict_s'] / length:.3f}), "
              f"peak RSS {row['peak_rss_gib']:.2f} GiB = {row['peak_rss_gib'] / fp32_size:.2f}x the fp32 weights "
              f"({fp32_size:.2f} GiB)")


def read_tensors_(ckpt: Path) -> dict:
    from emotalk_blender.engine.network.checkpoint import read_tensors

    return read_tensors(ckpt)[0]


def interleaved(runs: dict, rounds: int) -> tuple[dict, dict]:
    """{name: fn() -> (T, 52)} run round by round; (min time per name, list of times, last output per name)."""
    times, outputs = {k: [] for k in runs}, {}
    for r in range(rounds + 1):  # round 0 warms up
        for name, fn in runs.items():
            t = time.perf_counter()
            outputs[name] = fn()
            if r:
                times[name].append(time.perf_counter() - t)
    return times, outputs


def report(times: dict, outputs: dict, seconds: float, base: str, against: str) -> None:
    for name in times:
        t = min(times[name])
        print(f"  {name:28s} {t:6.2f} s (median {statistics.median(times[name]):.2f}) RTF {t / seconds:.3f} "
              f"x{min(times[base]) / t:.2f} vs {base}; vs {against}: {errors(outputs[name], outputs[against])}")


def full_size(ckpt: Path, seconds: float, rounds: int) -> None:
    from bench_engine import speech
    from emotalk_blender.engine.network import torch_backend
    from emotalk_blender.engine.network.config import EmoTalkConfig
    from emotalk_blender.engine.network.inference import predict
    from reference_emotalk import ReferenceEmoTalk

    audio = speech(seconds)
    wav = torch.from_numpy(audio)[None]
    ref = ReferenceEmoTalk(EmoTalkConfig(), read_tensors_(ckpt))
    nets = {p: torch_backend.load(ckpt, "cpu", p) for p in ("fp32", "auto")}
    size = lambda m: sum(p.numel() * p.element_size() for p in m.parameters()) / 2**30  # noqa: E731
    print("weights resident: " + ", ".join(f"{n.precision} {size(n.model):.2f} GiB" for n in nets.values()))
    runs = {"reference eager fp32": lambda: ref(wav)[0].detach().numpy()}
    runs.update({f"ours {p} ({n.precision})": (lambda n=n: predict(n, audio)) for p, n in nets.items()})
    with torch.inference_mode():
        times, outputs = interleaved(runs, rounds)
    print(f"full size, {seconds:.0f} s clip, min (median) of {rounds} interleaved rounds on a shared machine:")
    report(times, outputs, seconds, "reference eager fp32", "ours fp32 (fp32)")


def default_model(seconds: float, rounds: int) -> None:
    from bench_engine import speech
    from emotalk_blender.engine.network import numpy_backend, torch_backend
    from emotalk_blender.engine import paths
    from emotalk_blender.engine.network.inference import predict

    audio = speech(seconds)
    path = paths.default_checkpoint()
    nets = {"torch fp32": torch_backend.load(path, "cpu", "fp32"),
            "torch auto": torch_backend.load(path, "cpu", "auto"),
            "numpy fp32": numpy_backend.load(path)}
    times, outputs = interleaved({k: (lambda n=n: predict(n, audio)) for k, n in nets.items()}, rounds)
    print(f"default model ({path.name}, torch auto = {nets['torch auto'].precision}), {seconds:.0f} s clip:")
    report(times, outputs, seconds, "torch fp32", "torch fp32")


def candidates(seconds: float, rounds: int, int8: bool) -> None:
    from bench_engine import speech

    gemm_floor()
    fp32 = random_model()
    bf16 = random_model(torch.bfloat16, like=fp32)
    wav = torch.from_numpy(speech(seconds))[None]
    null = contextlib.nullcontext
    variants = {
        "fp32": (fp32, null),
        "autocast, fp32 weights": (fp32, bf16_autocast),
        "all weights bf16 + autocast": (bf16, bf16_autocast),
        "oneDNN fp32_precision=bf16": (fp32, onednn_bf16_fp32),
    }
    if int8:
        variants["int8 dynamic Linear"] = (int8_model(fp32), null)

    def run(model, ctx):
        with ctx():
            return model(wav)[0].float().numpy()

    with torch.inference_mode():
        for dt in (torch.float32, torch.bfloat16):  # which fused kernel serves wav2vec2's attention shapes
            x = torch.zeros(1, 16, 300, 64, dtype=dt)
            kernel = torch.nn.attention.SDPBackend(torch._fused_sdp_choice(x, x, x)).name
            print(f"scaled_dot_product_attention kernel for {dt}: {kernel}")
        times, outputs = interleaved({k: (lambda v=v: run(*v)) for k, v in variants.items()}, rounds)
    print(f"candidates (in-memory full-size model, model(wav) in one call), {seconds:.0f} s clip:")
    report(times, outputs, seconds, "fp32", "fp32")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rss", nargs="*", metavar="PRECISION", help="peak RSS on 600 s in these (default: auto)")
    ap.add_argument("--rss-seconds", type=float, default=600.0)
    ap.add_argument("--candidates", action="store_true")
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        return child(float(args.child[0]), args.child[1], args.child[2])

    from bench_engine import CACHE, released_checkpoint
    from emotalk_blender.engine.network.allocator import keep_freed_memory
    from emotalk_blender.engine.network.precision import native_bf16, resolve_precision

    CACHE.mkdir(parents=True, exist_ok=True)
    keep_freed_memory()  # as the CLI runs
    caps = torch.cpu.get_capabilities()
    print("machine:", describe(), f"(load average {open('/proc/loadavg').read().split()[0]})")
    print(f"native bf16: {native_bf16()} (avx512_bf16={caps.get('avx512_bf16')}, amx_bf16={caps.get('amx_bf16')}); "
          f"auto on the CPU is {resolve_precision('auto', 'cpu')}")
    ckpt = released_checkpoint()
    if args.candidates:
        return candidates(args.seconds, args.rounds, not args.no_int8)
    full_size(ckpt, args.seconds, args.rounds)
    default_model(args.seconds, args.rounds)
    if args.rss is not None:
        rss(ckpt, args.rss or ["auto"], args.rss_seconds)


if __name__ == "__main__":
    main()
