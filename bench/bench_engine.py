"""Engine benchmark: the full-size EmoTalk (random weights, released layout) on this CPU, fp32.

Prints the machine, then
  * real-time factor on a 10 s clip, ours and an independent eager implementation of the released
    formulation (transformers' wav2vec2 + torch's TransformerDecoder, tests/reference_emotalk.py),
    measured side by side in this run, and their ratio;
  * wall time and peak RSS for 10 s, 60 s and 600 s clips, each in a fresh process (load + predict).
Targets (issue 2): RTF <= 0.3; peak RSS at 600 s <= 2x the weights and flat in length; time linear.

    .venv/bin/python bench/bench_engine.py [--lengths 10 60 600] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from machine import best, describe  # noqa: E402
CACHE = REPO / "bench" / ".cache"


def released_checkpoint() -> Path:
    """A full-size random-weight model in the released key layout (made once, 2.56 GB)."""
    import torch

    from emotalk_blender.engine.network.checkpoint import save_checkpoint
    from emotalk_blender.engine.network.model import EmoTalk

    path = CACHE / "EmoTalk_random.pth"
    if not path.exists():
        torch.manual_seed(0)
        model = EmoTalk()
        torch.nn.init.normal_(model.bs_map_r.weight, std=0.02)
        save_checkpoint(model, path, released_layout=True)
    return path


def speech(seconds: float):
    """Real speech from espeak-ng, looped to ``seconds`` (16 kHz float32)."""
    import numpy as np

    from helpers import espeak
    from emotalk_blender.engine.audio.decoding import load_audio

    wav = CACHE / "speech.wav"
    if not wav.exists():
        espeak("The quick brown fox jumps over the lazy dog while the band plays a merry tune by the bay.", wav)
    x = load_audio(wav)
    reps = int(seconds * 16000 // len(x)) + 1
    return np.tile(x, reps)[: int(seconds * 16000)]


def speech_wav(seconds: float = 10.0):
    """``speech(seconds)`` written once to the bench cache as a 16 kHz wav; its path."""
    import soundfile as sf

    CACHE.mkdir(parents=True, exist_ok=True)
    wav = CACHE / f"speech{seconds:g}.wav"
    sf.write(wav, speech(seconds), 16000)
    return wav


def peak_rss_gib() -> float:
    """This process's peak RSS (VmHWM): unlike ru_maxrss it is not inherited from the parent across exec."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def child(length: float, ckpt: str) -> None:
    """One measurement in this process: load + predict ``length`` seconds; print JSON."""
    from emotalk_blender.engine.network.inference import predict
    from emotalk_blender.engine.pipeline import load_model

    from emotalk_blender.engine.network.allocator import keep_freed_memory

    keep_freed_memory()  # as the CLI runs
    audio = speech(length)
    t0 = time.perf_counter()
    model = load_model(ckpt, "cpu")
    t1 = time.perf_counter()
    out = predict(model, audio)
    t2 = time.perf_counter()
    peak = peak_rss_gib()
    print(json.dumps({"length": length, "load_s": t1 - t0, "predict_s": t2 - t1, "peak_rss_gib": peak,
                      "frames": out.shape[0]}))


def rtf_side_by_side(ckpt: Path, repeats: int) -> None:
    import torch

    from emotalk_blender.engine.network.allocator import keep_freed_memory
    from emotalk_blender.engine.network.checkpoint import read_tensors
    from emotalk_blender.engine.network.inference import predict
    from emotalk_blender.engine.network.model import EmoTalkConfig
    from emotalk_blender.engine.pipeline import load_model
    from reference_emotalk import ReferenceEmoTalk

    audio = speech(10.0)
    ours = load_model(str(ckpt), "cpu")
    sd, _ = read_tensors(ckpt)
    ref = ReferenceEmoTalk(EmoTalkConfig(), sd)
    wav = torch.from_numpy(audio)[None]
    with torch.inference_mode():
        a, b = predict(ours, audio), ref(wav)[0].numpy()
    print(f"agreement with the reference on 10 s: max |diff| = {abs(a - b).max():.2e}")

    with torch.inference_mode():
        t_ref = best(lambda: ref(wav), repeats, warmup=True)
        t_ours = best(lambda: predict(ours, audio), repeats, warmup=True)
        keep_freed_memory()  # what the CLI does (not the add-on inside Blender)
        t_cli = best(lambda: predict(ours, audio), repeats, warmup=True)
    print(f"10 s clip, best of {repeats}: reference eager {t_ref:.2f} s (RTF {t_ref / 10:.3f}); "
          f"ours {t_ours:.2f} s (RTF {t_ours / 10:.3f}, x{t_ref / t_ours:.2f}); "
          f"ours with the CLI's allocator setting {t_cli:.2f} s (RTF {t_cli / 10:.3f}, x{t_ref / t_cli:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=float, nargs="*", default=[10, 60, 600])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", type=float)
    ap.add_argument("--ckpt")
    args = ap.parse_args()
    if args.child is not None:
        return child(args.child, args.ckpt)
    CACHE.mkdir(parents=True, exist_ok=True)
    import torch  # noqa: F401  (imported so that describe() names its version)

    print("machine:", describe())
    ckpt = released_checkpoint()
    size = ckpt.stat().st_size / 2**30
    print(f"weights: {ckpt.name}, {size:.2f} GiB")
    rtf_side_by_side(ckpt, args.repeats)
    rows = []
    for length in args.lengths:
        r = subprocess.run([sys.executable, __file__, "--child", str(length), "--ckpt", str(ckpt)],
                           capture_output=True, text=True, check=True)
        row = json.loads(r.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{length:6.0f} s clip: load {row['load_s']:.1f} s, predict {row['predict_s']:.1f} s "
              f"(RTF {row['predict_s'] / length:.3f}), peak RSS {row['peak_rss_gib']:.2f} GiB "
              f"({row['peak_rss_gib'] / size:.2f}x weights)")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"time per audio second: {a['predict_s'] / a['length']:.3f} s at {a['length']:.0f} s, "
              f"{b['predict_s'] / b['length']:.3f} s at {b['length']:.0f} s (linear if equal)")


if __name__ == "__main__":
    main()
