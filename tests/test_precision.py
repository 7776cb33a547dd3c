"""Precision: auto's choice on this machine, the fp32 path exact, bf16 close to fp32, --half, errors, loading."""
from __future__ import annotations

import mmap
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from emotalk_blender.engine.network import loading as backends, mapped_pages, torch_backend
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.network.checkpoint import load_checkpoint
from emotalk_blender.engine.errors import CheckpointError, EmoTalkError
from emotalk_blender.engine.network.inference import predict
from emotalk_blender.engine.constants import frames_for_samples
from emotalk_blender.engine.network.model import EmoTalk
from emotalk_blender.engine.network.precision import (PrecisionError, cpu_flags, native_bf16, precision_of,
                                              resolve_precision)
from emotalk_blender.engine.settings import GenerateSettings

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emotalk_blender", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO)


def test_auto_follows_this_cpu_and_device():
    flags = cpu_flags()
    if flags:  # /proc/cpuinfo is there: torch's cpuinfo and the kernel's flags agree
        assert native_bf16() == bool({"avx512_bf16", "amx_bf16"} & flags)
    assert resolve_precision("auto", "cpu") == ("bf16" if native_bf16() else "fp32")
    assert resolve_precision("auto", "cuda:0") == "fp16"
    assert resolve_precision("auto", "cpu", "numpy") == "fp32"  # NumPy: fp32 is its only format
    assert resolve_precision("fp32", "cuda:1") == "fp32" and resolve_precision("fp16", "cuda") == "fp16"


def test_bad_precisions_are_one_line_errors():
    cases = {("fp16", "cpu", "torch"): "fp16 runs on CUDA only, not on cpu",
             ("bf16", "cpu", "numpy"): "the NumPy backend computes in fp32 only",
             ("fp16", "cpu", "numpy"): "the NumPy backend computes in fp32 only",
             ("int8", "cpu", "torch"): "precision must be one of auto, fp32, bf16, fp16"}
    for args, message in cases.items():
        with pytest.raises(PrecisionError, match=message) as err:
            resolve_precision(*args)
        assert "\n" not in str(err.value) and isinstance(err.value, EmoTalkError)
    with pytest.raises(PrecisionError, match="contradicts precision bf16"):
        GenerateSettings(half=True, precision="bf16").validated()
    with pytest.raises(PrecisionError, match="precision must be one of"):
        GenerateSettings(precision="FP32").validated()


def test_half_is_fp16():
    assert precision_of("auto", half=True) == "fp16" and precision_of("fp16", half=True) == "fp16"
    s = GenerateSettings(half=True).validated()
    assert s.precision == "fp16" and not s.half


def test_cli_precision_errors_and_half_alias(tmp_path, tiny_checkpoint, speech_wav):
    out = tmp_path / "x.npy"
    errs = []
    for flags in (["--precision", "fp16"], ["--half"]):
        r = run_cli("generate", speech_wav, "-o", out, "--checkpoint", tiny_checkpoint, "--device", "cpu", *flags)
        assert r.returncode == 1 and not out.exists()
        errs.append(r.stderr.strip())
    assert errs[0] == errs[1] == "error: precision fp16 runs on CUDA only, not on cpu; on the CPU use bf16 or fp32"
    r = run_cli("generate", speech_wav, "-o", out, "--checkpoint", tiny_checkpoint, "--backend", "numpy",
                "--precision", "bf16")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "NumPy backend computes in fp32 only" in r.stderr
    r = run_cli("generate", speech_wav, "-o", out, "--checkpoint", tiny_checkpoint, "--precision", "fp32", "--raw")
    assert r.returncode == 0, r.stderr
    want = predict(torch_backend.load(tiny_checkpoint, "cpu", "fp32"), load_audio(speech_wav))
    assert np.array_equal(np.load(out), want)


def test_fp32_path_is_the_plain_module_bit_for_bit(tiny_checkpoint, speech_wav):
    """fp32 through the backend seam = the nn.Module's own forward, no autocast, weights as loaded."""
    net = backends.load_backend(tiny_checkpoint, "cpu", "torch", precision="fp32")
    assert net.precision == "fp32" and all(p.dtype == torch.float32 for p in net.model.parameters())
    plain = load_checkpoint(tiny_checkpoint)
    for (name, a), b in zip(net.model.state_dict().items(), plain.state_dict().values()):
        assert torch.equal(a, b), name
    audio = load_audio(speech_wav)
    with torch.inference_mode():
        want = plain(torch.from_numpy(audio)[None])[0].numpy()
    assert np.array_equal(predict(net, audio), want)


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([np.corrcoef(a[:, c], b[:, c])[0, 1] for c in range(a.shape[1])])


def test_bf16_holds_the_encoders_in_bf16_and_stays_close(tiny_checkpoint, speech_wav):
    fp32 = torch_backend.load(tiny_checkpoint, "cpu", "fp32")
    bf16 = torch_backend.load(tiny_checkpoint, "cpu", "bf16")
    assert bf16.precision == "bf16"
    for name, p in bf16.model.named_parameters():
        reduced = p.dim() >= 2 and name.startswith(torch_backend.REDUCED)
        assert p.dtype == (torch.bfloat16 if reduced else torch.float32), name
    with torch.device("meta"):  # the released size: the reduced matrices are nearly all the weights
        full = EmoTalk()
    reduced = sum(p.numel() for n, p in full.named_parameters() if p.dim() >= 2 and n.startswith(torch_backend.REDUCED))
    assert reduced > 0.98 * full.num_parameters()
    audio = load_audio(speech_wav)
    a, b = predict(fp32, audio), predict(bf16, audio)
    assert a.shape == b.shape == (frames_for_samples(len(audio)), 52) and b.dtype == np.float32
    assert not np.array_equal(a, b)  # it did run in bf16
    assert _correlations(b, a).min() > 0.995
    assert np.abs(b - a).mean() < 0.02 * a.std()
    # the same model as an nn.Module (training, benchmarks) runs in the precision of its weights
    assert np.array_equal(predict(bf16.model, audio), b)


def test_reduced_loading_stays_safe(tmp_path):
    import os
    import pickle

    bad = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2)}, bad)
    payload = pickle.dumps({"w": (os.system, ("true",))}, protocol=2)  # a malicious file
    bad.write_bytes(payload)
    with pytest.raises(CheckpointError, match="evil.pt"):
        torch_backend.load(bad, "cpu", "bf16")


def _rss_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="page release is Linux only")
def test_released_pages_leave_the_resident_set_and_anonymous_memory_is_untouched(tmp_path):
    path = tmp_path / "weights.bin"
    data = np.arange(64 * 2**20 // 4, dtype=np.float32)  # 64 MiB
    data.tofile(path)
    mapped = torch.from_numpy(np.memmap(path, dtype=np.float32, mode="c"))  # private, as torch maps
    assert float(mapped.sum()) == float(data.sum())  # every page read: resident
    before = _rss_mib()
    released = mapped_pages.release(mapped.data_ptr(), mapped.numel() * 4, mapped_pages.file_mappings())
    assert released >= 64 * 2**20 - 2 * mmap.PAGESIZE
    assert before - _rss_mib() > 48  # MiB given back at once
    assert torch.equal(mapped[-5:], torch.from_numpy(data[-5:]))  # and read back from the file if touched
    anon = torch.arange(2**20, dtype=torch.float32)
    assert mapped_pages.release(anon.data_ptr(), anon.numel() * 4, mapped_pages.file_mappings()) == 0
    assert torch.equal(anon, torch.arange(2**20, dtype=torch.float32))


def test_fp16_weights_and_autocast_path_runs(tiny_checkpoint, speech_wav):
    """The CUDA path's fp16 conversion and autocast, exercised on the CPU (no GPU here: its speed and
    error on a GPU are not measured). Users get fp16 on CUDA only (resolve_precision refuses the CPU)."""
    fp16 = torch_backend.TorchBackend(torch_backend.to_precision(load_checkpoint(tiny_checkpoint), "fp16", "cpu"))
    assert fp16.precision == "fp16"
    assert fp16.model.audio_encoder_emo.wav2vec2.encoder.layers[0].attention.q_proj.weight.dtype == torch.float16
    assert fp16.model.bs_map_r.weight.dtype == torch.float32  # the decoder stays fp32
    audio = load_audio(speech_wav)
    a, b = predict(torch_backend.load(tiny_checkpoint, "cpu", "fp32"), audio), predict(fp16, audio)
    assert _correlations(b, a).min() > 0.995


def test_auto_keeps_small_networks_in_fp32(tiny_checkpoint, monkeypatch):
    """auto: the default model's size stays fp32 (the NumPy backend's take); larger networks follow the CPU."""
    assert torch_backend.load(paths_default(), "cpu", "auto").precision == "fp32"
    assert torch_backend.load(tiny_checkpoint, "cpu", "auto").precision == "fp32"
    monkeypatch.setattr(torch_backend, "AUTO_REDUCED_MIN_PARAMETERS", 0)  # as if the network were large
    assert torch_backend.load(tiny_checkpoint, "cpu", "auto").precision == ("bf16" if native_bf16() else "fp32")
    assert torch_backend.load(tiny_checkpoint, "cpu", "bf16").precision == "bf16"  # asked for: honoured


def paths_default():
    from emotalk_blender.engine import paths

    return paths.default_checkpoint()
