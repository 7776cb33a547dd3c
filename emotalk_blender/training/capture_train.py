"""Train the capture ResNet on image/blendshape pairs with an L2 loss (EmoTalk supplement, section 5).

    python -m emotalk_blender.training.capture_train --renders 3000 --out runs/capture --minutes 8 \\
        --export models/capture_resnet.safetensors
    python -m emotalk_blender.training.capture_train --pairs llf_pairs/ mp_pairs/ --out runs/capture2

Pairs come from ``--pairs`` folders (``capture_renders`` writes them) or, with ``--renders N``, from N
renders of the default head with random weights made into ``OUT/renders`` first. A seeded share is
held out for validation: mean absolute error on the mouth and eye channels against the error of
predicting the training mean. Resumable (``--resume``: ``OUT/last.pt`` holds model, optimiser, step,
elapsed time and RNG states, loaded with ``weights_only=True``). Augmentation: shifts of a few pixels
and mirror images with Left/Right channels swapped (the default head is exactly symmetric).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..engine.arkit import ARKIT_NAMES, INDEX, mirror
from ..engine.atomic import atomic_open
from ..engine.capture import resnet
from ..engine.errors import EmoTalkError
from . import capture_renders

MOUTH = tuple(i for i, n in enumerate(ARKIT_NAMES) if n.startswith(("mouth", "jaw")))
EYES = tuple(i for i, n in enumerate(ARKIT_NAMES) if n.startswith("eye"))
MIRROR = np.array([INDEX[mirror(n)] for n in ARKIT_NAMES])
REPORTED = ("jawOpen", "mouthClose", "eyeBlinkLeft", "eyeBlinkRight")


def split(count: int, val_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: a seeded permutation, at least one pair on each side."""
    order = np.random.default_rng(seed).permutation(count)
    n_val = min(count - 1, max(1, int(round(count * val_share))))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def errors(pred: np.ndarray, truth: np.ndarray, mean: np.ndarray) -> dict:
    """MAE overall, on the mouth and eye channels, and of the mean predictor on the same pairs."""
    ae, base = np.abs(pred - truth), np.abs(mean[None] - truth)
    out = {"mae": float(ae.mean()), "mae_mouth": float(ae[:, MOUTH].mean()), "mae_eyes": float(ae[:, EYES].mean()),
           "mean_mae": float(base.mean()), "mean_mae_mouth": float(base[:, MOUTH].mean()),
           "mean_mae_eyes": float(base[:, EYES].mean())}
    for name in REPORTED:
        out[f"mae_{name}"] = float(ae[:, INDEX[name]].mean())
        out[f"mean_mae_{name}"] = float(base[:, INDEX[name]].mean())
    return out


def batch_tensor(torch, images: np.ndarray, rng: np.random.Generator | None):
    """uint8 (B, S, S, 3) -> normalised (B, 3, S, S); with ``rng``, each image moved by up to S / 20 px."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    size = x.shape[-1]
    shift = max(1, size // 20)
    if rng is not None:
        padded = torch.nn.functional.pad(x, (shift,) * 4)
        offs = rng.integers(0, 2 * shift + 1, (len(x), 2))
        x = torch.stack([padded[i, :, dy:dy + size, dx:dx + size] for i, (dy, dx) in enumerate(offs)])
    return resnet.normalise(x)


def resized(torch, images: np.ndarray, size: int, chunk: int = 256) -> np.ndarray:
    """uint8 (N, S, S, 3) -> (N, size, size, 3), antialiased bilinear as the backend resizes its crops."""
    out = np.empty((len(images), size, size, 3), np.uint8)
    for start in range(0, len(images), chunk):
        x = torch.from_numpy(images[start:start + chunk]).permute(0, 3, 1, 2).float()
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start:start + chunk] = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def predict(torch, model, images: np.ndarray, batch: int = 64) -> np.ndarray:
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            out.append(model(batch_tensor(torch, images[start:start + batch], None)).clamp(0, 1).numpy())
    model.train()
    return np.concatenate(out)


def load_pairs(args) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(images, weights, sources) from ``--pairs`` folders, or renders made (once) into ``OUT/renders``."""
    folders = [Path(p) for p in args.pairs]
    if args.renders:
        folder = Path(args.out) / "renders"
        info = folder / "pairs.json"
        made = json.loads(info.read_text()) if info.is_file() else {}
        if made.get("count") != args.renders or made.get("seed") != args.seed or made.get("size") != args.size:
            rng = np.random.default_rng(args.seed)
            weights = capture_renders.sample_weights(rng, args.renders)
            images = capture_renders.render_pairs(
                weights, args.size, args.seed,
                progress=lambda k, n: print(f"rendered {k}/{n}", file=sys.stderr, flush=True))
            capture_renders.write_pairs(folder, images, weights, {"source": "render", "mesh": "default head",
                                                                  "seed": args.seed, "weights": "random"})
        folders.append(folder)
    if not folders:
        raise EmoTalkError("no training pairs: pass --pairs FOLDER... or --renders N")
    images, weights, sources = [], [], []
    for f in folders:
        img, w = capture_renders.read_pairs(f)
        images.append(img)
        weights.append(w)
        meta = f / "pairs.json"
        sources.append(json.loads(meta.read_text()) if meta.is_file() else {"folder": str(f)})
    if len({i.shape[1:] for i in images}) > 1:
        raise EmoTalkError("pairs folders hold different image sizes: " + ", ".join(map(str, folders)))
    return np.concatenate(images), np.concatenate(weights), sources


def train(args) -> dict:
    torch = resnet.import_torch()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images, weights, sources = load_pairs(args)
    if args.input_size and args.input_size != images.shape[1]:
        images = resized(torch, images, args.input_size)
    tr, va = split(len(images), args.val_share, args.seed)
    config = resnet.ResNetConfig(size=int(images.shape[1]), widths=tuple(args.widths), blocks=tuple(args.blocks))
    model = resnet.build(config)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    rng = np.random.default_rng(args.seed + 7)
    step, elapsed, log = 0, 0.0, []
    last = out / "last.pt"
    if args.resume and last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=True)
        if state["config"] != config.to_dict():
            raise EmoTalkError(f"{last}: a run of another network shape ({state['config']}); use another --out")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed, log = int(state["step"]), float(state["elapsed"]), json.loads(state["log"])
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed {last} at step {step} ({elapsed / 60:.1f} min)", file=sys.stderr)
    mean = weights[tr].mean(axis=0)
    budget = args.minutes * 60.0 if args.minutes else math.inf
    total = args.steps or math.inf

    def save_state():
        with atomic_open(last, "wb") as fh:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                        "config": config.to_dict(), "log": json.dumps(log),
                        "rng": json.dumps(rng.bit_generator.state), "torch_rng": torch.get_rng_state()}, fh)

    def evaluate():
        metrics = {"step": step, "minutes": round(elapsed / 60, 2), **errors(predict(torch, model, images[va]),
                                                                              weights[va], mean)}
        log.append(metrics)
        print(f"step {step} ({elapsed / 60:.1f} min): val MAE mouth {metrics['mae_mouth']:.4f} "
              f"(mean predictor {metrics['mean_mae_mouth']:.4f}), eyes {metrics['mae_eyes']:.4f} "
              f"({metrics['mean_mae_eyes']:.4f})", file=sys.stderr, flush=True)
        return metrics

    model.train()
    started, last_save, running = time.monotonic() - elapsed, time.monotonic(), []
    while step < total and elapsed < budget:
        progress = min(1.0, max(step / total if total < math.inf else 0.0, elapsed / budget))
        lr = args.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * progress))  # warm-up, cosine
        for group in opt.param_groups:
            group["lr"] = lr
        idx = tr[rng.integers(0, len(tr), args.batch)]
        imgs, target = images[idx], weights[idx].copy()
        flip = rng.random(len(idx)) < 0.5
        imgs = np.where(flip[:, None, None, None], imgs[:, :, ::-1], imgs)
        target[flip] = target[flip][:, MIRROR]
        pred = model(batch_tensor(torch, np.ascontiguousarray(imgs), rng))
        loss = torch.nn.functional.mse_loss(pred, torch.from_numpy(target))  # the L2 loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        elapsed = time.monotonic() - started
        running.append(loss.item())
        if step % args.log_every == 0:
            log.append({"step": step, "loss": float(np.mean(running))})
            print(f"step {step}: loss {np.mean(running):.5f} lr {lr:.2e}", file=sys.stderr, flush=True)
            running = []
        if args.eval_every and step % args.eval_every == 0:
            evaluate()
        if time.monotonic() - last_save > 60:
            save_state()
            last_save = time.monotonic()
    metrics = evaluate()
    save_state()
    with atomic_open(out / "metrics.json", "w", encoding="utf-8") as fh:
        json.dump({"final": metrics, "log": log, "train_pairs": int(len(tr)), "val_pairs": int(len(va)),
                   "sources": sources}, fh, indent=1)
    if args.export:
        meta = {"trained_on": sources, "steps": step, "minutes": round(elapsed / 60, 2), "seed": args.seed,
                "train_pairs": int(len(tr)), "val_pairs": int(len(va)), "val": metrics,
                "train_mean": [round(float(v), 6) for v in mean]}
        resnet.save(args.export, model, config, meta)
        print(f"exported {args.export}", file=sys.stderr)
    return metrics


def evaluate_model(model_path, folders) -> dict:
    """Errors of exported weights on the pairs in ``folders`` (all of them), against its training mean."""
    torch = resnet.import_torch()
    model, config, meta = resnet.load_model(model_path)
    if "train_mean" not in meta:
        raise EmoTalkError(f"{model_path}: its header has no training mean to compare with")
    images, weights = [], []
    for f in folders:
        img, w = capture_renders.read_pairs(f)
        images.append(img)
        weights.append(w)
    images, weights = np.concatenate(images), np.concatenate(weights)
    if images.shape[1] != config.size:
        images = resized(torch, images, config.size)
    return {"pairs": int(len(images)), **errors(predict(torch, model, images), weights,
                                                np.asarray(meta["train_mean"], np.float32))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emotalk_blender.training.capture_train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="run folder (renders, last.pt, metrics.json)")
    ap.add_argument("--pairs", nargs="*", default=[], help="pairs folders written by capture_renders")
    ap.add_argument("--renders", type=int, default=0, help="render N pairs of the default head (random weights)")
    ap.add_argument("--size", type=int, default=128, help="image size of --renders")
    ap.add_argument("--input-size", type=int, default=0, help="network input size (default: the pairs' size)")
    ap.add_argument("--minutes", type=float, default=0.0, help="training time budget")
    ap.add_argument("--steps", type=int, default=0, help="training steps (0: until --minutes)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--widths", type=int, nargs=4, default=list(resnet.ResNetConfig.widths))
    ap.add_argument("--blocks", type=int, nargs=4, default=list(resnet.ResNetConfig.blocks))
    ap.add_argument("--val-share", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (more than the idle cores only spin)")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export", help="write the weights here (.safetensors) for the resnet capture backend")
    ap.add_argument("--evaluate", metavar="WEIGHTS",
                    help="no training: errors of these exported weights on every pair of --pairs (written to OUT)")
    args = ap.parse_args(argv)
    if not args.minutes and not args.steps and not args.evaluate:
        ap.error("give --minutes or --steps (or --evaluate WEIGHTS)")
    try:
        if args.evaluate:
            result = evaluate_model(args.evaluate, args.pairs)
            Path(args.out).mkdir(parents=True, exist_ok=True)
            with atomic_open(Path(args.out) / "evaluate.json", "w", encoding="utf-8") as fh:
                json.dump(result, fh, indent=1)
            print(json.dumps(result))
            return 0
        train(args)
    except EmoTalkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
