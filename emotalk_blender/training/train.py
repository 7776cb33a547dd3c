"""Train an EmoTalk with the paper's method on a corpus in the 3D-ETF layout.

    python -m emotalk_blender.training.train CORPUS_DIR --run-dir runs/default --minutes 50 \
        --export models/emotalk_default.safetensors

Data-parallel under torchrun (PyTorch's launcher; ``python -m torch.distributed.run`` is the same):

    # this 2-core CPU: two single-thread ranks train about twice as fast as one process on 2 threads
    torchrun --standalone --nproc-per-node 2 -m emotalk_blender.training.train CORPUS_DIR \
        --run-dir runs/X --minutes M --export models/X.safetensors
    # one machine with G GPUs (rank r on cuda:r, NCCL)
    torchrun --standalone --nproc-per-node G -m emotalk_blender.training.train CORPUS_DIR --run-dir runs/X ...
    # several machines: the same command on each (R = 0, 1, ...), the corpus at the same path on every one;
    # rank 0 alone writes the run directory (last.pt, log.jsonl, loss.png) and the export
    torchrun --nnodes 2 --node-rank R --nproc-per-node G --rdzv-backend c10d --rdzv-endpoint HOST:29500 \
        -m emotalk_blender.training.train CORPUS_DIR --run-dir runs/X ...

(``--resume`` on several machines needs the run directory on storage they share: every rank reads last.pt.)
``--workers N`` is the one-machine shorthand: it runs the same training under ``torchrun --standalone
--nproc-per-node N`` and exports from the parent. The batch of 8 pairs is split across the ranks
(pair i on rank i % world) and their gradients summed, the same gradient as one process; on a CPU
each rank runs one thread unless ``--threads`` says otherwise. More than 8 ranks leaves the rest idle.

Losses (paper, section 3.3): cross-reconstruction of B(c1, e1) from the content of A(c1, e2) and the
emotion of A(c2, e1); self-reconstruction of B(c1, e2) from A(c1, e2); a velocity loss (MSE of frame
differences) on both; cross-entropy of the emotion encoder's 7-class head on both inputs. Adam,
learning rate 1e-4, batch 8. Clips differ in length and the network has no padding masks, so a
batch is 8 pairs run one by one with their gradients summed (the same gradient as a batch of 8).

Beyond the paper, for a model trained from scratch on a small corpus: a lip-seal loss (``seal``)
penalises lips left open where the target's are closed (p/b/m, rests), which plain MSE lets a
regressing-to-the-mean model do. What the emotion encoder hears is resampled by a random factor
(``voice_perturb``: new voices for a recogniser that has heard only 24), and validation and export
use an exponential moving average of the weights (``ema``). A separate emotion-loss weight for
real prompts (``w_cls_real``) is a knob, measured no better.

``--init CHECKPOINT`` fine-tunes a trained model (the shipped default, the released EmoTalk.pth: loaded
strictly by engine/network/checkpoint.py, with its own configuration) instead of starting from random weights,
e.g. on a corpus from your videos (``corpus from-video``), whose unpaired clips train by
self-reconstruction.

Resumable (``--resume``: the run directory's ``last.pt`` holds model, weight average, optimiser,
step, RNG states; ``--resume --steps N`` with N the steps already run exports without training),
seeded, logs every step's losses to ``log.jsonl`` and draws ``loss.png`` (matplotlib, a training
extra).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from scipy.signal import resample_poly

from ..engine.atomic import atomic_open
from ..engine.audio.decoding import to_mono_16k
from ..engine.network.checkpoint import load_checkpoint, save_checkpoint
from ..engine.errors import EmoTalkError
from ..engine.network.model import EmoTalk, EmoTalkConfig, normalise_audio, small_config
from .corpus import REAL_SPEAKER, Pair, epoch_pairs, load_manifest
from .visemes import CLOSED_APERTURE, OPEN_APERTURE, lip_aperture


@dataclass
class TrainConfig:
    lr: float = 1e-4  # paper
    batch: int = 8  # paper
    w_cross: float = 1.0
    w_self: float = 1.0
    w_vel: float = 1.0
    # 0.1 left the recogniser at 29 % on held-out voices, 0.3 at 72 % (still rising, under-fit)
    w_cls: float = 1.0
    w_seal: float = 3.0  # lip-seal hinge on target-closed frames (not in the paper); 4.0 shut 21 % of open vowels
    # Lip-opening hinge on the target's open frames (``opening``), the seal's mirror image: plain MSE
    # regressed the mouth to half the target's aperture on open vowels (0 = off, the first models).
    # Closure hinge (``closure``): per closed run of the target, the least aperture (within a frame
    # either side) above half the closed threshold: each p/b/m closes once, rather than every frame
    # near it being shut, which is what a larger seal weight trades against opening. Screened as
    # 8-minute fine-tunes of the first default model on real prompts (p/b/m met / open vowels shut /
    # aperture vs target): open 0: 96 / 36 / 0.40; open 3: 38 / 1.6 / 0.85; open 1: 65 / 8.1 / 0.68;
    # open 3 seal 10: 79 / 11 / 0.68; open 3 close 10: 75 / 9.4 / 0.81; open 3 close 30: 94 / 18 / 0.70.
    w_open: float = 4.0
    w_close: float = 20.0
    # Emotion cross-entropy on real prompts, whose "neutral" is assumed. Experiment: 0 (with the
    # emotion-only input resampled within 0.1) called fewer held-out clips neutral (80 vs 105 of
    # 728) but was no more accurate (75.0 % vs 76.5 %) and shut 38 % of open vowels (17 %).
    w_cls_real: float | None = None  # None: the same as w_cls
    # What the emotion encoder hears is resampled by a random factor in [1/(1+v), 1+v] (pitch,
    # formants and rate together: a voice it has not heard); the content encoder hears the clip as
    # it is. Screened on the emotion encoder alone (9 min from the previous model, held-out voices):
    # 0 -> 79.8 %, 0.25 -> 82.1 % (weight average of both; the lowest held-out voice 65 -> 77 %).
    voice_perturb: float = 0.25
    # False: the real prompts' emotion inputs as they are. Measured (50 min): open vowels on real
    # speech shut as often (41.5 % vs 39.4 %), so the resampling's cost on the lips is not there.
    voice_perturb_real: bool = True
    max_seconds: float = 6.0  # longer clips are cut (same fraction of audio and motion)
    seed: int = 0
    val_every: int = 100  # steps
    # Fraction of the run that trains the CNNs; then they freeze. The paper freezes its pretrained
    # CNNs throughout; ours start from random weights and need to learn, so the default trains them
    # to the end.
    end_to_end: float = 1.0
    threads: int | None = None  # torch threads; None: 2, or 1 per rank of a CPU data-parallel run
    real_repeat: int = 2  # each real-speech clip twice per epoch
    # Decay of the exponential moving average of the weights that validation scores and export
    # ships (0: off). At a constant learning rate the recogniser's accuracy on unseen voices swings
    # several points from one checkpoint to the next; the average sits at the top of that swing.
    ema: float = 0.997


def default_model_config() -> EmoTalkConfig:
    """The shipped default: the released topology at a width that trains in an hour on 2 cores."""
    return small_config(hidden=192, layers=3, conv=64, name="EmoTalk default (small, synthetic corpus)")


def initial_model(init=None, model_config: EmoTalkConfig | None = None, log=None) -> EmoTalk:
    """A new model: ``init``'s weights and config (fine-tuning; loaded strictly and safely), else random."""
    if init is None:
        return EmoTalk(model_config or default_model_config())
    model = load_checkpoint(init)  # the shipped .safetensors or the released EmoTalk.pth
    if log:
        log(f"fine-tuning {init} ({model.meta.get('name', 'released layout')})")
    return model.train()


class ClipCache:
    """Audio, motion and (once the CNNs are frozen) CNN features of a corpus, each read once."""

    def __init__(self):
        self.audio: dict[Path, torch.Tensor] = {}
        self.motion: dict[Path, torch.Tensor] = {}
        self.feats: dict[tuple[Path, str], torch.Tensor] = {}

    def wav(self, path: Path) -> torch.Tensor:
        if path not in self.audio:
            x, sr = sf.read(path, dtype="float32", always_2d=True)
            self.audio[path] = torch.from_numpy(to_mono_16k(x, sr))
        return self.audio[path]

    def npy(self, path: Path) -> torch.Tensor:
        if path not in self.motion:
            self.motion[path] = torch.from_numpy(np.load(path).astype(np.float32))
        return self.motion[path]

    @torch.no_grad()
    def features(self, model: EmoTalk, path: Path, which: str) -> torch.Tensor:
        """Frozen CNN features (T50, C) of the whole normalised clip (``which``: content or emotion)."""
        if (path, which) not in self.feats:
            enc = model.audio_encoder_cont if which == "content" else model.audio_encoder_emo.wav2vec2
            wav = self.wav(path)[None].to(_device(model))
            self.feats[(path, which)] = enc.features(normalise_audio(wav))[0]  # kept on the model's device
        return self.feats[(path, which)]


class WeightAverage:
    """An exponential moving average of a model's weights, kept in a copy of the model."""

    def __init__(self, model: EmoTalk, decay: float, state: dict | None = None):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        if state is not None:
            self.model.load_state_dict(state)
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: EmoTalk, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # a short memory early on, while the weights move fast
        for avg, cur in zip(self.model.state_dict().values(), model.state_dict().values()):
            if avg.dtype.is_floating_point:
                avg.lerp_(cur, 1 - d)
            else:
                avg.copy_(cur)


def _cut(x: torch.Tensor, start: float, length: float, minimum: int) -> torch.Tensor:
    """The fraction [start, start + length) of a sequence (time first)."""
    n = x.shape[0]
    a = int(start * n)
    return x[a: max(a + minimum, int(math.ceil((start + length) * n)))]


def pair_inputs(pair: Pair, cache: ClipCache, cfg: "TrainConfig", rng: random.Random, model: EmoTalk | None = None,
                perturb: bool = False):
    """Inputs and targets of one pair, long utterances cut to at most ``cfg.max_seconds``.

    The cut takes the same fraction of A(c1, e2), B(c1, e1) and B(c1, e2) (one sentence spoken in
    two emotions lines up roughly linearly in time, the paper's assumption for resampling content
    to the target's length); A(c2, e1) only lends its emotion, so any part of it will do. With
    ``perturb`` (raw audio only) what the emotion encoder hears of A(c1, e2) and of A(c2, e1) is
    each resampled by its own random factor within ``cfg.voice_perturb``: pitch and formants move
    together, a voice the recogniser has not heard; the content encoder hears A(c1, e2) as it is.
    Returns ``(inputs, t11, t12)``: ``inputs`` are the three waveforms (content of A(c1, e2),
    emotion of A(c1, e2), emotion of A(c2, e1)), or, when ``model`` is given (frozen CNNs), the three
    CNN feature sequences ``forward_train_features`` takes.
    """
    n12, n21 = cache.wav(pair.input12).shape[0], cache.wav(pair.input21).shape[0]
    t11, t12 = cache.npy(pair.target11), cache.npy(pair.target12)
    limit = cfg.max_seconds * 16000
    frac12 = min(1.0, limit / n12)
    start12 = rng.uniform(0, 1 - frac12)
    frac21 = min(1.0, limit / n21)
    start21 = rng.uniform(0, 1 - frac21)
    t11, t12 = _cut(t11, start12, frac12, 2), _cut(t12, start12, frac12, 2)
    if model is None:
        content = _cut(cache.wav(pair.input12), start12, frac12, 800)
        emotion12, emotion21 = content, _cut(cache.wav(pair.input21), start21, frac21, 800)
        # each emotion input its own new voice; its features are resampled to the target's frames later
        if perturb and cfg.voice_perturb and (cfg.voice_perturb_real or pair.speaker != REAL_SPEAKER):
            emotion12, emotion21 = (_resample(x, math.exp(rng.uniform(-1, 1) * math.log1p(cfg.voice_perturb)))
                                    for x in (emotion12, emotion21))
        inputs = (content, emotion12, emotion21)
    else:
        inputs = (_cut(cache.features(model, pair.input12, "content"), start12, frac12, 2),
                  _cut(cache.features(model, pair.input12, "emotion"), start12, frac12, 2),
                  _cut(cache.features(model, pair.input21, "emotion"), start21, frac21, 2))
    return inputs, t11, t12


def _resample(wav: torch.Tensor, factor: float) -> torch.Tensor:
    """``wav`` played ``factor`` times faster (pitch and formants up by the same factor)."""
    down = round(100 * factor)
    return torch.from_numpy(resample_poly(wav.numpy(), 100, down).astype(np.float32)) if down != 100 else wav


def velocity(x: torch.Tensor) -> torch.Tensor:
    return x[:, 1:] - x[:, :-1]


def recon(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed over the 52 channels, averaged over frames."""
    return ((pred - target) ** 2).sum(-1).mean()


def seal(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared lip aperture beyond half the closed threshold, averaged over the target's closed frames."""
    closed = lip_aperture(target) < CLOSED_APERTURE
    if not bool(closed.any()):
        return pred.new_zeros(())
    return (F.relu(lip_aperture(pred) - CLOSED_APERTURE / 2)[closed] ** 2).mean()


def opening(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared shortfall of the lip aperture below the target's, averaged over the target's open frames."""
    ap = lip_aperture(target)
    open_ = ap > OPEN_APERTURE
    if not bool(open_.any()):
        return pred.new_zeros(())
    return (F.relu(ap - lip_aperture(pred))[open_] ** 2).mean()


def closure(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared least lip aperture beyond half the closed threshold, per closed run of the target
    (widened by one frame either side), averaged over the runs."""
    closed = (lip_aperture(target) < CLOSED_APERTURE).reshape(-1).cpu().numpy()
    if not closed.any():
        return pred.new_zeros(())
    edges = np.flatnonzero(np.diff(np.concatenate([[0], closed.astype(np.int8), [0]])))
    ap = lip_aperture(pred).reshape(-1)
    least = torch.stack([ap[max(0, a - 1):b + 1].min() for a, b in zip(edges[::2], edges[1::2])])
    return (F.relu(least - CLOSED_APERTURE / 2) ** 2).mean()


def pair_losses(model: EmoTalk, pair: Pair, batch, cfg: TrainConfig) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The losses of one pair (and their weighted total), and the emotion logits of A(c1, e2)."""
    inputs, t11, t12 = batch
    first, second, third = (x[None] for x in inputs)
    frames, controls = (t11.shape[0], t12.shape[0]), dict(level=float(pair.level), person=int(pair.person))
    if first.dim() == 2:  # raw audio: content of A(c1, e2), emotion of A(c1, e2), emotion of A(c2, e1)
        out = model.forward_train(first, third, *frames, **controls, emotion12=second)
    else:  # CNN features of the same three
        out = model.forward_train_features(first, second, third, *frames, **controls)
    cross, self_rec, (logits12, logits21) = out
    t11, t12 = t11[None], t12[None]
    out = {
        "cross": recon(cross, t11),
        "self": recon(self_rec, t12),
        "vel": recon(velocity(cross), velocity(t11)) + recon(velocity(self_rec), velocity(t12)),
        "cls": (F.cross_entropy(logits12, torch.tensor([pair.emotion2], device=logits12.device))
                + F.cross_entropy(logits21, torch.tensor([pair.emotion1], device=logits21.device))),
        "seal": seal(cross, t11) + seal(self_rec, t12),
        "open": opening(cross, t11) + opening(self_rec, t12),
        "close": closure(cross, t11) + closure(self_rec, t12),
    }
    w_cls = cfg.w_cls_real if pair.speaker == REAL_SPEAKER and cfg.w_cls_real is not None else cfg.w_cls
    out["total"] = (cfg.w_cross * out["cross"] + cfg.w_self * out["self"] + cfg.w_vel * out["vel"] + w_cls * out["cls"]
                    + cfg.w_seal * out["seal"] + cfg.w_open * out["open"]
                    + cfg.w_close * out["close"])
    return out, logits12


def validation_pairs(manifest: dict, seed: int) -> list[Pair]:
    """Pairs whose target B(c1, e1) is a held-out sentence of a training speaker (split val_sentence).

    A speaker has one held-out sentence, so its partner A(c2, e1) comes from the training sentences.
    """
    held_out = {r["name"] for r in manifest["clips"] if r["split"] == "val_sentence"}
    pairs = epoch_pairs(manifest, ("train", "val_sentence"), seed=seed, include_real=False)
    return [p for p in pairs if p.target11.stem in held_out]


@torch.no_grad()
def validate(model: EmoTalk, pairs: list[Pair], cache: ClipCache, cfg: TrainConfig,
             limit: int = 48) -> dict[str, float]:
    model.eval()
    rng = random.Random(0)
    sums: dict[str, float] = {}
    correct = 0
    for pair in pairs[:limit]:
        losses, logits12 = pair_losses(model, pair, _to(pair_inputs(pair, cache, cfg, rng), _device(model)), cfg)
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        correct += int(logits12.argmax(-1).item() == pair.emotion2)
    model.train()
    n = max(1, min(limit, len(pairs)))
    return {**{f"val_{k}": v / n for k, v in sums.items()}, "val_emotion_acc": correct / n}


def plot(log_path: Path, png: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no loss plot (pip install -r requirements-train.txt)", file=sys.stderr)
        return
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    rows = list({r["step"]: r for r in rows}.values())  # a resumed run re-logs the steps after its last save
    train = [r for r in rows if "total" in r]
    val = [r for r in rows if "val_total" in r]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in [k for k in LOSS_NAMES if train and k in train[0]]:
        xs, ys = [r["step"] for r in train], [r[key] for r in train]
        if len(train) > 40:  # full windows only: a zero-padded edge would dip at both ends
            xs, ys = xs[10:len(xs) - 9], np.convolve(ys, np.ones(20) / 20, mode="valid")
        ax[0].plot(xs, ys, label=key)
    ax[0].set_yscale("log"), ax[0].set_xlabel("step"), ax[0].set_title("training losses (20-step mean)"), ax[0].legend()
    for key in ("val_cross", "val_self", "val_cls"):
        ax[1].plot([r["step"] for r in val], [r[key] for r in val], "o-", label=key)
    ax2 = ax[1].twinx()
    ax2.plot([r["step"] for r in val], [r["val_emotion_acc"] for r in val], "k--", label="emotion acc")
    ax2.set_ylim(0, 1), ax2.set_ylabel("emotion accuracy (dashed)")
    if val:
        ax[1].set_yscale("log")
    ax[1].set_xlabel("step"), ax[1].set_title("validation (held-out sentences)"), ax[1].legend(loc="upper center")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def train(corpus_dir, run_dir, minutes: float | None = None, steps: int | None = None, cfg: TrainConfig = TrainConfig(),
          model_config: EmoTalkConfig | None = None, resume: bool = False, log=print, workers: int = 1,
          unfreeze: bool = False, init=None) -> EmoTalk:
    """Train (or resume) a model, in this process or data-parallel.

    Under torchrun (WORLD_SIZE in the environment) this process is one rank of the run: env://
    rendezvous, NCCL on GPUs (rank on cuda:LOCAL_RANK), gloo on CPUs. Otherwise ``workers`` > 1 runs
    the same training as that many torchrun ranks on this machine and returns what they saved
    (their output goes to ``log``); ``workers`` 1 trains here. On this 2-core CPU two single-thread
    ranks train about twice as fast as one process with two threads, whose small matrix products
    parallelise poorly.
    """
    if workers > 1 and "WORLD_SIZE" not in os.environ:
        load_manifest(corpus_dir)  # a bad corpus is one line here, not under torchrun's failure report
        _launch(workers, corpus_dir, run_dir, minutes, steps, cfg, model_config, resume, unfreeze, init, log)
        return load_run(run_dir)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world == 1:
        return _train(corpus_dir, run_dir, minutes, steps, cfg, model_config, resume, log, 0, 1, device, unfreeze, init)
    import torch.distributed as dist

    dist.init_process_group("nccl" if cuda else "gloo", init_method="env://")
    try:
        return _train(corpus_dir, run_dir, minutes, steps, cfg, model_config, resume, log if rank == 0 else _quiet,
                      rank, world, device, unfreeze, init)
    finally:
        dist.destroy_process_group()


def _quiet(*_):
    pass


MODULE = "emotalk_blender.training.train"  # not __name__, which is __main__ under -m


def _launch(workers: int, corpus_dir, run_dir, minutes, steps, cfg: TrainConfig, model_config, resume, unfreeze, init,
            log) -> None:
    """Run this training as ``workers`` torchrun ranks on this machine, streaming their output to ``log``."""
    config = {"train": asdict(cfg), **({"model": model_config.to_dict()} if model_config else {})}
    args = [str(corpus_dir), "--run-dir", str(run_dir), "--config", json.dumps(config)]
    args += ["--minutes", str(minutes)] if minutes else []
    args += ["--steps", str(steps)] if steps is not None else []
    args += ["--resume"] * resume + ["--unfreeze"] * unfreeze + (["--init", str(init)] if init else [])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(workers),
           "-m", MODULE, *args]
    root = str(Path(__file__).resolve().parents[2])  # the project is not installed: the ranks import it from here
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
           "PYTHONUNBUFFERED": "1"}
    env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's own default, without its warning; --threads still rules
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            log(line.rstrip("\n"))
    if proc.returncode:
        raise EmoTalkError(f"{run_dir}: torchrun with {workers} workers exited with status {proc.returncode} "
                           "(the ranks' errors are above)")


def load_run(run_dir) -> EmoTalk:
    """The model a run directory's ``last.pt`` holds (the weight average if kept), for inference."""
    state = torch.load(Path(run_dir) / "last.pt", map_location="cpu", weights_only=True)
    model = EmoTalk(EmoTalkConfig.from_dict(state["model_config"]))
    model.load_state_dict(state.get("ema") or state["model"])
    if state["frozen"]:
        model.freeze_feature_encoders()
    model.eval()
    model.meta = state.get("meta", {})
    return model


def _train(corpus_dir, run_dir, minutes, steps, cfg: TrainConfig, model_config, resume, log, rank: int, world: int,
           device: torch.device, unfreeze: bool = False, init=None) -> EmoTalk:
    import torch.distributed as dist

    # CPU ranks are the parallelism (one per core): one thread each unless asked
    torch.set_num_threads(cfg.threads or (1 if world > 1 and device.type == "cpu" else 2))
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(corpus_dir)
    state_path, log_path = run / "last.pt", run / "log.jsonl"
    step, epoch = 0, 0
    if resume and state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model = EmoTalk(EmoTalkConfig.from_dict(state["model_config"]))
        model.load_state_dict(state["model"])
        model.to(device)
        cfg = replace(TrainConfig(**state["train_config"]), threads=cfg.threads)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        opt.load_state_dict(state["optimizer"])  # moves its moments to the parameters' device
        step, epoch, frozen = state["step"], state["epoch"], state["frozen"]
        before = state.get("meta", {})  # what the runs before this one took
        if unfreeze:  # train the CNNs again from here on, to the end of the run
            frozen, cfg = False, replace(cfg, end_to_end=1.0)
        if frozen:
            model.freeze_feature_encoders()
        torch.set_rng_state(state["torch_rng"])
        ema_state = state.get("ema")
        log(f"resumed at step {step}" + (" with the CNN feature encoders trainable" if unfreeze else ""))
    else:
        torch.manual_seed(cfg.seed)  # the same initial weights in every worker
        model = initial_model(init, model_config, log if rank == 0 else None).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        frozen, ema_state, before = False, None, {}
        if rank == 0:
            log_path.write_text("")
    model.train()
    # every worker holds the same weights (summed gradients), so rank 0 alone keeps the average
    ema = WeightAverage(model, cfg.ema, ema_state) if cfg.ema and rank == 0 else None
    cache = ClipCache()
    val_pairs = validation_pairs(manifest, cfg.seed)
    deadline = time.monotonic() + minutes * 60 if minutes else math.inf
    t0 = time.monotonic()
    pairs = epoch_pairs(manifest, "train", seed=cfg.seed + epoch, real_repeat=cfg.real_repeat)
    cursor = (step * cfg.batch) % max(1, len(pairs))
    logf = open(log_path, "a") if rank == 0 else None
    while True:
        # rank 0 decides whether to go on and whether to freeze; every worker follows
        go = float((steps is None or step < steps) and time.monotonic() < deadline)
        freeze = float(frozen or _progress(step, steps, t0, minutes) >= cfg.end_to_end)
        if world > 1:
            flags = torch.tensor([go, freeze], device=device)  # NCCL broadcasts device tensors only
            dist.broadcast(flags, 0)
            go, freeze = flags.tolist()
        if not go:
            break
        if freeze and not frozen:
            frozen = True
            model.freeze_feature_encoders()  # from here on CNN features are computed once per clip
            log(f"step {step}: CNN feature encoders frozen")
        opt.zero_grad(set_to_none=True)
        sums = torch.zeros(len(LOSS_NAMES), device=device)
        for i in range(cfg.batch):
            if cursor >= len(pairs):
                epoch += 1
                pairs, cursor = epoch_pairs(manifest, "train", seed=cfg.seed + epoch, real_repeat=cfg.real_repeat), 0
            pair = pairs[cursor]
            cursor += 1
            if i % world != rank:  # this pair is another worker's share of the batch
                continue
            # the pair's cuts, voices and dropout follow from (seed, step, i) alone: any number of ranks
            # computes the same gradient, and a resumed run the same steps
            pair_seed = int(np.random.SeedSequence([cfg.seed, step, i]).generate_state(1)[0])
            torch.manual_seed(pair_seed)
            inputs = pair_inputs(pair, cache, cfg, random.Random(pair_seed), model if frozen else None, perturb=True)
            losses, _ = pair_losses(model, pair, _to(inputs, device), cfg)
            (losses["total"] / cfg.batch).backward()
            sums += torch.stack([losses[k].detach() for k in LOSS_NAMES]) / cfg.batch
        if world > 1:
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            flat = torch.cat([g.reshape(-1) for g in grads] + [sums])
            dist.all_reduce(flat)  # summed shares = the gradient of the whole batch
            offset = 0
            for g in grads:
                g.copy_(flat[offset: offset + g.numel()].view_as(g))
                offset += g.numel()
            sums = flat[offset:]
        opt.step()
        step += 1
        if ema is not None:
            ema.update(model, step)
        if rank == 0:
            row = {"step": step, "epoch": epoch, "time": round(time.monotonic() - t0, 1),
                   **{k: round(float(v), 5) for k, v in zip(LOSS_NAMES, sums)}}
            if step % cfg.val_every == 0 and val_pairs:
                scores = validate(ema.model if ema else model, val_pairs, cache, cfg)
                row.update({k: round(v, 5) for k, v in scores.items()})
                log(json.dumps(row))
                _save_state(state_path, model, opt, cfg, step, epoch, frozen, ema)
            logf.write(json.dumps(row) + "\n")
            logf.flush()
    model.eval()
    model.meta = {"steps": step, "epochs_completed": epoch, "train_config": asdict(cfg),
                  "workers": max(world, before.get("workers", world)),
                  "seconds": before.get("seconds", 0) + round(time.monotonic() - t0)}
    if rank == 0:
        logf.close()
        _save_state(state_path, model, opt, cfg, step, epoch, frozen, ema)
        plot(log_path, run / "loss.png")
        if ema is not None:  # what a finished run gives is the average (last.pt keeps both, to resume)
            model.load_state_dict(ema.model.state_dict())
    return model.cpu()


def _device(model: EmoTalk) -> torch.device:
    return next(model.parameters()).device


def _to(batch, device: torch.device):
    """A pair's ``(inputs, t11, t12)`` (ClipCache keeps them on the CPU) on ``device``."""
    inputs, t11, t12 = batch
    return tuple(x.to(device) for x in inputs), t11.to(device), t12.to(device)


def _cpu(x):
    """A state dict (nested dicts and lists) with every tensor on the CPU: last.pt loads on any machine."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, dict):
        return {k: _cpu(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_cpu(v) for v in x)
    return x


LOSS_NAMES = ("total", "cross", "self", "vel", "cls", "seal", "open", "close")


def _progress(step: int, steps: int | None, t0: float, minutes: float | None) -> float:
    """How far through the run we are (0..1), by steps or by the time budget, whichever is set."""
    parts = []
    if steps:
        parts.append(step / steps)
    if minutes:
        parts.append((time.monotonic() - t0) / (minutes * 60))
    return max(parts) if parts else 0.0


def _save_state(path: Path, model, opt, cfg, step, epoch, frozen, ema: WeightAverage | None = None) -> None:
    with atomic_open(path) as fh:
        torch.save({"meta": getattr(model, "meta", {}), "model": _cpu(model.state_dict()),
                    "optimizer": _cpu(opt.state_dict()), "model_config": model.config.to_dict(),
                    "train_config": asdict(cfg), "step": step, "epoch": epoch, "frozen": frozen,
                    "torch_rng": torch.get_rng_state(),
                    **({"ema": _cpu(ema.model.state_dict())} if ema is not None else {})},
                   fh)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.train", description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--run-dir", default="runs/default")
    ap.add_argument("--minutes", type=float)
    ap.add_argument("--steps", type=int)
    # None: the TrainConfig default (or --config's value)
    ap.add_argument("--lr", type=float, help=f"learning rate (default {TrainConfig.lr})")
    ap.add_argument("--seed", type=int, help="default 0")
    ap.add_argument("--threads", type=int, help="torch threads per process (default 2, or 1 per rank of a CPU "
                                                 "data-parallel run; 1 per run when running two at once)")
    ap.add_argument("--workers", type=int, default=1,
                    help="data-parallel processes on this machine, run under torchrun (2 on a 2-core CPU)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", help="fine-tune this checkpoint (the shipped default or the released EmoTalk.pth)")
    ap.add_argument("--unfreeze", action="store_true", help="with --resume: train the CNN feature encoders again")
    ap.add_argument("--w-open", type=float, help=f"weight of the lip-opening loss (default {TrainConfig.w_open})")
    ap.add_argument("--w-seal", type=float, help=f"weight of the lip-seal loss (default {TrainConfig.w_seal})")
    ap.add_argument("--w-close", type=float, help=f"weight of the per-closure loss (default {TrainConfig.w_close})")
    ap.add_argument("--w-vel", type=float, help=f"weight of the velocity loss (default {TrainConfig.w_vel})")
    ap.add_argument("--config", help="JSON: TrainConfig fields under 'train', the model's config under 'model' "
                                     "(how --workers hands its ranks a Python caller's settings)")
    ap.add_argument("--export", help="write the trained weights here (the project's checkpoint format)")
    ap.add_argument("--name", default="EmoTalk default (small, synthetic corpus)")
    args = ap.parse_args(argv)
    try:
        config = json.loads(args.config) if args.config else {}
        flags = dict(lr=args.lr, seed=args.seed, threads=args.threads, w_open=args.w_open,
                     w_seal=args.w_seal, w_close=args.w_close, w_vel=args.w_vel)
        cfg = TrainConfig(**{**config.get("train", {}), **{k: v for k, v in flags.items() if v is not None}})
        model_config = EmoTalkConfig.from_dict(config["model"]) if "model" in config else None
    except (ValueError, TypeError, AttributeError) as exc:
        print(f"error: --config: {exc}", file=sys.stderr)
        return 2
    try:
        init_meta = {}
        if args.init:  # a bad file is one line before the run starts
            before = getattr(load_checkpoint(args.init), "meta", {}) or {}
            # the lineage goes into the export: what this run started from and what that took
            init_meta = {"init": {"path": str(args.init), "name": before.get("name", "released layout"),
                                  **{k: before[k] for k in ("steps", "seconds", "workers") if k in before}}}
        model = train(args.corpus, args.run_dir, args.minutes, args.steps, cfg, model_config, resume=args.resume,
                      workers=args.workers, unfreeze=args.unfreeze, init=args.init)
    except EmoTalkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) != 0:  # a torchrun rank other than 0: rank 0 saved the run and exports
        return 0
    if args.export:
        meta = {"name": args.name, "licence": "GPL-3.0-or-later", "corpus": str(args.corpus), **model.meta,
                **init_meta}
        save_checkpoint(model, args.export, meta=meta)
        print(f"wrote {args.export}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
