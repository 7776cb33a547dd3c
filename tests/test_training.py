"""Training (the paper's losses) and the shipped default model."""
import json
import os
import random
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from emotalk_blender.engine import paths
from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.network.checkpoint import load_checkpoint
from emotalk_blender.engine.constants import FPS, SAMPLE_RATE
from emotalk_blender.engine.network.inference import predict
from emotalk_blender.engine.network.model import small_config
from emotalk_blender.training import corpus
from emotalk_blender.engine.network.model import EmoTalk
from emotalk_blender.training.evaluate import lip_scores
from emotalk_blender.training.train import (
    ClipCache,
    TrainConfig,
    WeightAverage,
    closure,
    opening,
    pair_inputs,
    pair_losses,
    seal,
    train,
    validate,
)
from emotalk_blender.training.visemes import CLOSED_APERTURE, lip_aperture

from helpers import espeak


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    corpus.build(out, size="tiny", seed=0)
    return out


def _rows(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_and_resumes(tiny_corpus, tmp_path):
    """A short run lowers the paper's loss on a fixed set of training pairs; a resumed run goes on."""
    cfg = TrainConfig(lr=3e-3, batch=4, val_every=1000, end_to_end=0.5)  # threads: 2 here, 1 per rank below
    model_cfg = small_config(hidden=64, layers=1, conv=32)
    pairs = corpus.epoch_pairs(corpus.load_manifest(tiny_corpus), "train", seed=5)[:24]
    torch.manual_seed(cfg.seed)
    face = lambda v: v["val_cross"] + v["val_self"]  # noqa: E731  (the emotion term falls slower on 12 sentences)
    before = validate(EmoTalk(model_cfg), pairs, ClipCache(), cfg)
    run = tmp_path / "run"
    model = train(tiny_corpus, run, steps=30, cfg=cfg, model_config=model_cfg, log=lambda *_: None)
    after = validate(model, pairs, ClipCache(), cfg)
    assert face(after) < 0.85 * face(before) and after["val_total"] < before["val_total"], (before, after)
    assert [r["step"] for r in _rows(run)] == list(range(1, 31))
    assert (run / "loss.png").stat().st_size > 1000
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == 30 and state["frozen"]  # the CNNs froze half way, as configured
    # a finished run gives the weight average; last.pt keeps the raw weights too, to resume from
    assert all(torch.equal(v, state["ema"][k]) for k, v in model.state_dict().items())
    assert any(not torch.equal(v, state["model"][k]) for k, v in state["ema"].items())
    # data-parallel: two torchrun ranks
    model = train(tiny_corpus, run, steps=34, cfg=cfg, resume=True, log=lambda *_: None, workers=2)
    assert [r["step"] for r in _rows(run)] == list(range(1, 35))
    assert model.meta["steps"] == 34 and model.meta["workers"] == 2
    assert all(not p.requires_grad for p in model.audio_encoder_cont.feature_extractor.parameters())


def test_torchrun_ranks_train_the_weights_of_one_process(tiny_corpus, tmp_path):
    """Two gloo ranks under torchrun split the batch of 8 and sum their gradients: after 2 steps the
    weights are those of one process with the same seed, to float rounding; rank 0 alone writes the
    run and the export."""
    cfg, model_cfg = TrainConfig(val_every=1000), small_config(hidden=64, layers=1, conv=32)
    run, export = tmp_path / "ranks", tmp_path / "ranks.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "emotalk_blender.training.train", str(tiny_corpus), "--run-dir", str(run), "--steps", "2",
           "--config", json.dumps({"train": asdict(cfg), "model": model_cfg.to_dict()}), "--export", str(export)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["step"] for r in _rows(run)] == [1, 2] and done.stdout.count(f"wrote {export}") == 1
    ranks = torch.load(run / "last.pt", weights_only=True)
    assert ranks["step"] == 2 and ranks["meta"]["workers"] == 2
    one = tmp_path / "one"
    train(tiny_corpus, one, steps=2, cfg=cfg, model_config=model_cfg, log=lambda *_: None)
    single = torch.load(one / "last.pt", weights_only=True)
    assert [r["total"] for r in _rows(run)] == [r["total"] for r in _rows(one)]  # the same batches
    torch.manual_seed(cfg.seed)
    start = EmoTalk(model_cfg).state_dict()
    # 2 Adam steps move weights by up to 2e-4; summing the halves in another order, by under 1e-6
    assert max(float((single["model"][k] - v).abs().max()) for k, v in start.items()) > 1e-4
    for key in ("model", "ema"):
        for name, w in single[key].items():
            assert torch.allclose(ranks[key][name], w, rtol=0, atol=1e-5), (key, name)
    exported = load_checkpoint(export).state_dict()  # the weight average, as from one process
    assert all(torch.equal(v, ranks["ema"][k]) for k, v in exported.items())


def test_weight_average_follows_the_weights_with_its_decay():
    model = EmoTalk(small_config(hidden=64, layers=1, conv=32))
    avg = WeightAverage(model, decay=0.9)
    before = model.bs_map_r.bias.detach().clone()
    with torch.no_grad():
        model.bs_map_r.bias += 1.0
    avg.update(model, step=1000)  # past the warm-up: the configured decay
    assert torch.allclose(avg.model.bs_map_r.bias, before + 0.1)
    avg.update(model, step=1)  # warm-up: (1 + 1) / (10 + 1) of the old average kept
    assert torch.allclose(avg.model.bs_map_r.bias, before + 1 - 0.9 * 2 / 11)
    assert not any(p.requires_grad for p in avg.model.parameters())


def test_seal_loss_asks_for_closed_lips_only_where_the_target_closes_them():
    target = torch.zeros(1, 10, 52)
    target[0, 5:, INDEX["jawOpen"]] = 0.5  # closed for 5 frames, then open
    pred = target.clone().requires_grad_(True)
    assert float(seal(pred, target).detach()) == 0.0
    opened = target.clone()
    opened[0, :, INDEX["jawOpen"]] = 0.3  # lips open everywhere
    assert float(seal(opened, target)) == pytest.approx((0.3 - CLOSED_APERTURE / 2) ** 2)
    wider = opened.clone()
    wider[0, 5:, INDEX["jawOpen"]] = 0.9  # more open where the target is open: no matter
    assert float(seal(wider, target)) == pytest.approx(float(seal(opened, target)))
    # torch and numpy apertures agree (one definition)
    assert np.allclose(lip_aperture(opened)[0].numpy(), lip_aperture(opened[0].numpy()))


def test_opening_loss_asks_the_lips_to_open_as_wide_as_the_target_where_it_opens():
    target = torch.zeros(1, 10, 52)
    target[0, 5:, INDEX["jawOpen"]] = 0.5  # closed for 5 frames, then open
    assert float(opening(target, target)) == 0.0
    half = target.clone()
    half[0, 5:, INDEX["jawOpen"]] = 0.25  # the regression to the mean: half as wide
    assert float(opening(half, target)) == pytest.approx(0.25 ** 2)
    wider = target.clone()
    wider[0, :, INDEX["jawOpen"]] = 0.9  # wider than asked, even where closed: not this loss's business
    assert float(opening(wider, target)) == 0.0
    shut = torch.zeros(1, 10, 52)
    assert float(opening(shut, shut)) == 0.0  # no open frame in the target, nothing asked


def test_closure_loss_asks_each_closed_run_to_close_once():
    target = torch.zeros(1, 12, 52)
    target[0, :, INDEX["jawOpen"]] = 0.5
    target[0, 3:5, INDEX["jawOpen"]] = 0.0  # closure 1: frames 3-4
    target[0, 8:10, INDEX["jawOpen"]] = 0.0  # closure 2: frames 8-9
    blurred = torch.zeros(1, 12, 52)
    blurred[0, :, INDEX["jawOpen"]] = 0.3  # never closes
    assert float(closure(blurred, target)) == pytest.approx((0.3 - CLOSED_APERTURE / 2) ** 2)
    once = blurred.clone()
    once[0, 4, INDEX["jawOpen"]] = 0.0  # closure 1 met on one frame, closure 2 not
    assert float(closure(once, target)) == pytest.approx((0.3 - CLOSED_APERTURE / 2) ** 2 / 2)
    early = blurred.clone()
    early[0, [2, 7], INDEX["jawOpen"]] = 0.0  # each a frame early: within the one-frame margin
    assert float(closure(early, target)) == 0.0
    pred = blurred.clone()
    pred[0, :, INDEX["jawOpen"]] += 0.01 * torch.arange(12)  # one least frame per closure
    pred.requires_grad_(True)
    closure(pred, target).backward()
    moved = pred.grad[0, :, INDEX["jawOpen"]].nonzero().flatten().tolist()
    assert moved == [2, 7]  # the least frame of each closure's window, nothing else


def test_emotion_input_gets_a_new_voice_and_real_prompts_skip_the_emotion_loss(tiny_corpus):
    pairs = corpus.epoch_pairs(corpus.load_manifest(tiny_corpus), "train", seed=0)
    synthetic = next(p for p in pairs if p.speaker != corpus.REAL_SPEAKER and p.input12 != p.input21)
    cfg, cache = TrainConfig(max_seconds=60, voice_perturb=0.1, w_cls_real=0.0), ClipCache()
    (content, same, emotion), t11, t12 = pair_inputs(synthetic, cache, cfg, random.Random(0))
    assert torch.equal(same, content)
    assert torch.equal(emotion, cache.wav(synthetic.input21))  # validation: the clip as it is
    lengths = set()
    for seed in range(6):
        (c, e12, e), a, b = pair_inputs(synthetic, cache, cfg, random.Random(seed), perturb=True)
        assert 0.89 < len(content) / len(e12) < 1.11 and len(e12) != len(content)
        assert torch.equal(c, content) and torch.equal(a, t11) and torch.equal(b, t12)  # content and targets untouched
        assert 0.89 < len(emotion) / len(e) < 1.11
        lengths.add(len(e))
    assert len(lengths) >= 5  # a different voice each time
    real = [p for p in pairs if p.speaker == corpus.REAL_SPEAKER]
    if not real:
        pytest.skip("no real prompts in the tiny corpus (asterisk sounds or pocketsphinx missing)")
    (c, e12, e21), _, _ = pair_inputs(real[0], cache, cfg, random.Random(0), perturb=True)
    assert len(e12) != len(c) and len(e21) != len(c)
    (c, e12, e21), _, _ = pair_inputs(real[0], cache, replace(cfg, voice_perturb_real=False), random.Random(0),
                                      perturb=True)
    assert torch.equal(e12, c) and torch.equal(e21, c)  # the real prompts' voice as it is
    torch.manual_seed(0)
    model = EmoTalk(small_config(hidden=64, layers=1, conv=32))
    batch = pair_inputs(real[0], cache, cfg, random.Random(0))
    with torch.no_grad():
        losses, _ = pair_losses(model.eval(), real[0], batch, cfg)
        face = (losses["cross"] + losses["self"] + losses["vel"] + cfg.w_seal * losses["seal"]
                + cfg.w_open * losses["open"]).item()
        assert losses["cls"].item() > 0.1 and losses["total"].item() == pytest.approx(face)
        losses, _ = pair_losses(model, real[0], batch, TrainConfig(max_seconds=60, w_cls_real=1.0))
        assert losses["total"].item() == pytest.approx(face + losses["cls"].item())


def test_shipped_model_loads_strictly_and_its_jaw_follows_loudness(tmp_path):
    path = paths.default_checkpoint()
    assert path.is_file(), f"{path}: the shipped default model is missing"
    assert path.stat().st_size <= 20 * 2**20
    model = load_checkpoint(path)  # strict: any missing or unexpected key raises
    assert model.meta.get("name") and model.meta.get("licence")
    wav = espeak("Mama made a pie, and Bob ate a big apple at the party.", tmp_path / "t.wav", voice="en-gb", speed=140)
    audio = load_audio(wav)
    out = predict(model, audio)
    hop = SAMPLE_RATE // FPS
    rms = np.array([np.sqrt(np.mean(audio[i * hop:(i + 1) * hop] ** 2)) if i * hop < len(audio) else 0.0
                    for i in range(out.shape[0])])
    jaw = out[:, INDEX["jawOpen"]]
    assert jaw.std() > 0.02  # it moves
    assert np.corrcoef(jaw, rms)[0, 1] > 0.4
    assert jaw[rms < 0.1 * rms.max()].mean() < jaw[rms > 0.5 * rms.max()].mean()  # closed in pauses, open when loud


def test_lip_scores_count_closures_and_false_closures():
    """The real-speech lip scores: the reference meets its own closures and never shuts an open
    vowel; a mouth kept shut meets every closure but shuts every open vowel too."""
    ref_y = np.zeros((40, 52), np.float32)
    ref_y[:, INDEX["jawOpen"]] = 0.3
    ref_y[10:13, INDEX["jawOpen"]] = 0.0  # a /b/
    ref_y[30:32, INDEX["jawOpen"]] = 0.02  # an /m/
    ref = {"bilabial_frames": [[10, 12], [30, 31]], "jaw_open": ref_y[:, INDEX["jawOpen"]].tolist()}
    own = lip_scores(ref_y, ref)
    assert own["hits"] == [True, True] and not any(own["open_closed"]) and own["jaw_corr"] == pytest.approx(1.0)
    shut = lip_scores(np.zeros_like(ref_y), ref)
    assert shut["hits"] == [True, True] and all(shut["open_closed"]) and len(shut["open_closed"]) == 35
    late = ref_y.copy()
    late[10:13, INDEX["jawOpen"]] = 0.3
    late[15, INDEX["jawOpen"]] = 0.0  # closes 3 frames after the span: outside the 2-frame tolerance
    assert lip_scores(late, ref)["hits"] == [False, True]
    late[14, INDEX["jawOpen"]] = 0.0  # 2 frames after: counts
    assert lip_scores(late, ref)["hits"] == [True, True]
