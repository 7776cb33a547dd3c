"""Re-fitting the emotion reading's last layer (training/emotion_head.py): the fit, its pull, the folds."""
from __future__ import annotations

import numpy as np

from emotalk_blender.training import emotion_head as H


def _data(n=600, d=12, k=7, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 1, (k, d))
    x = np.tanh(rng.normal(0, 1, (n, d)))
    y = (x @ true.T + rng.gumbel(size=(n, k))).argmax(axis=1)
    return x, y, np.full(n, 1.0 / n)


def test_the_fit_learns_and_a_strong_pull_keeps_the_trained_layer():
    x, y, w = _data()
    w0, b0 = np.zeros((7, x.shape[1])), np.zeros(7)
    W, b = H.fit_layer(x, y, w, w0, b0, pull=1e-4)
    assert ((x @ W.T + b).argmax(1) == y).mean() > 0.5  # chance is 1/7
    W_stiff, _ = H.fit_layer(x, y, w, w0, b0, pull=1e3)
    assert np.abs(W_stiff - w0).max() < 1e-2 < np.abs(W - w0).max()


def test_folds_keep_an_actor_together_and_weights_follow_the_shares():
    rows = [{"kind": "emodb", "source": f"{a:02d}a01Wa.wav", "speaker": 200, "emotion": e}
            for a in (3, 8, 9, 10, 11, 12, 13, 14) for e in ("angry", "angry", "sad")]
    rows += [{"kind": "video", "speaker": 31, "emotion": "neutral"} for _ in range(8)]
    rows += [{"kind": "synthetic", "speaker": s, "emotion": "happy"} for s in range(8)]
    folds = H.folds_of(rows)
    for a in {r["source"][:2] for r in rows if r["kind"] == "emodb"}:
        assert len({f for r, f in zip(rows, folds) if r.get("source", "")[:2] == a}) == 1
    assert len(set(folds)) == H.FOLDS
    y = np.array([["angry", "sad", "neutral", "happy"].index(r["emotion"]) for r in rows])
    w = H.sample_weights(rows, y)
    groups = np.array([H.group_of(r) for r in rows])
    emodb, real, synth = (w[groups == g].sum() for g in ("emodb", "real", "synthetic"))
    assert np.isclose(emodb / real, H.SHARES["emodb"] / H.SHARES["real"])
    assert np.isclose(real / synth, H.SHARES["real"] / H.SHARES["synthetic"])
    m = groups == "emodb"  # class-balanced within EmoDB: angry clips (2x) weigh as much in all as sad ones
    assert np.isclose(w[m & (y == 0)].sum(), w[m & (y == 1)].sum())
