"""Training (the paper's losses) and the shipped default model."""
import json

import numpy as np
import pytest
import torch

from emotalk_blender.engine import paths
from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.engine.audio import load_audio
from emotalk_blender.engine.checkpoint import load_checkpoint
from emotalk_blender.engine.constants import FPS, SAMPLE_RATE
from emotalk_blender.engine.inference import predict
from emotalk_blender.engine.model import small_config
from emotalk_blender.training import corpus
from emotalk_blender.engine.model import EmoTalk
from emotalk_blender.training.train import ClipCache, TrainConfig, train, validate

from conftest import espeak


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    corpus.build(out, size="tiny", seed=0)
    return out


def _rows(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_and_resumes(tiny_corpus, tmp_path):
    """A short run lowers the paper's loss on a fixed set of training pairs; a resumed run goes on."""
    cfg = TrainConfig(lr=3e-3, batch=4, val_every=1000, threads=2, end_to_end=0.5)
    model_cfg = small_config(hidden=64, layers=1, conv=32)
    pairs = corpus.epoch_pairs(corpus.load_manifest(tiny_corpus), "train", seed=5)[:24]
    torch.manual_seed(cfg.seed)
    before = validate(EmoTalk(model_cfg), pairs, ClipCache(), cfg)["val_total"]
    run = tmp_path / "run"
    model = train(tiny_corpus, run, steps=30, cfg=cfg, model_config=model_cfg, log=lambda *_: None)
    after = validate(model, pairs, ClipCache(), cfg)["val_total"]
    assert after < 0.85 * before, (before, after)
    assert [r["step"] for r in _rows(run)] == list(range(1, 31))
    assert (run / "loss.png").stat().st_size > 1000
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == 30 and state["frozen"]  # the CNNs froze half way, as configured
    model = train(tiny_corpus, run, steps=34, cfg=cfg, resume=True, log=lambda *_: None, workers=2)  # data-parallel
    assert [r["step"] for r in _rows(run)] == list(range(1, 35))
    assert model.meta["steps"] == 34 and model.meta["workers"] == 2
    assert all(not p.requires_grad for p in model.audio_encoder_cont.feature_extractor.parameters())


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
    rms = np.array([np.sqrt(np.mean(audio[i * hop:(i + 1) * hop] ** 2)) if i * hop < len(audio) else 0.0 for i in range(out.shape[0])])
    jaw = out[:, INDEX["jawOpen"]]
    assert jaw.std() > 0.02  # it moves
    assert np.corrcoef(jaw, rms)[0, 1] > 0.4
    assert jaw[rms < 0.1 * rms.max()].mean() < jaw[rms > 0.5 * rms.max()].mean()  # closed in pauses, open when loud
