"""Render the demo take's widest and closed mouths on the default head, with its lip curves below.

Headless, with the bpy module, in the look of ``render_contact_sheet.py`` (Workbench, matcap).
The take is what ``make demo`` bakes: the default model on samples/sample.flac with the default
settings. With a transcript (``--transcript``; samples/sample.txt for the sample) the frames are
picked and named from a pocketsphinx forced alignment: half the widest frames of open vowels
(/aa ae ah ao aw ay/), half the least lip aperture (visemes.lip_aperture) at p/b/m within 2 frames,
each group at least 10 frames apart, shown in time order. Without one they come from the model's
own output: half the largest apertures, half the smallest during speech (audio RMS above 10 % of
the loudest frame's, gaps up to 8 frames bridged for silent stop closures). Under the tiles:
jawOpen, mouthClose and the lip aperture over the whole take, the chosen frames marked; under
them the head motion from the voice (``--head-motion``, default 1; engine/direction/head_motion.py), which
also turns the head in the tiles (0: no head curves, the head still). Frame
numbers count from 0 at the start of the take (frame f is Blender frame f + 1 in ``make demo``'s
.blend, which starts at 1).

    .venv/bin/python scripts/render_demo_sheet.py            # -> docs/demo_sheet.png
    .venv/bin/python scripts/render_demo_sheet.py --frames 4 --cell 128 --out /tmp/demo.png
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from emotalk_blender.engine import arkit  # noqa: E402
from emotalk_blender.engine.audio.decoding import load_audio  # noqa: E402
from emotalk_blender.engine.constants import FPS, SAMPLE_RATE  # noqa: E402
from emotalk_blender.engine.pipeline import GenerateSettings, generate_from_audio  # noqa: E402
from emotalk_blender.training.visemes import CLOSED_APERTURE, lip_aperture  # noqa: E402

SEPARATION = 10  # frames between two picks of the same kind
SPEECH_RMS = 0.1  # a frame is speech when its RMS is above this share of the loudest frame's
BRIDGE = 8  # frames: quieter gaps up to this long inside speech count as speech (a /p/'s closure is silent)
COLUMNS = 4
LABEL_SIZE = 0.0095  # metres: smaller than the other sheets' 0.0115, these labels are longer
OPEN_COLOUR, CLOSED_COLOUR = "#d62728", "#1f77b4"


def frame_rms(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """RMS of the audio under each 30 fps frame (0 past the end)."""
    hop = SAMPLE_RATE // FPS
    out = np.zeros(n_frames)
    for i in range(n_frames):
        chunk = audio[i * hop:(i + 1) * hop]
        if len(chunk):
            out[i] = np.sqrt(np.mean(np.square(chunk, dtype=np.float64)))
    return out


def speech_mask(rms: np.ndarray, threshold: float = SPEECH_RMS, bridge: int = BRIDGE) -> np.ndarray:
    """Frames above ``threshold`` x the loudest frame, with gaps of up to ``bridge`` frames between
    them filled: stop closures are silent, pauses between phrases are longer."""
    loud = rms > threshold * rms.max() if rms.max() > 0 else np.zeros(len(rms), bool)
    speech = loud.copy()
    idx = np.flatnonzero(loud)
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= bridge + 1:
            speech[a:b] = True
    return speech


def _spread(order: np.ndarray, count: int, separation: int) -> list[int]:
    """The first ``count`` frames of ``order`` each at least ``separation`` from those taken before."""
    taken: list[int] = []
    for f in order:
        if len(taken) == count:
            break
        if all(abs(int(f) - t) >= separation for t in taken):
            taken.append(int(f))
    return taken


def pick_frames(aperture: np.ndarray, speech: np.ndarray, n: int = 8,
                separation: int = SEPARATION) -> list[tuple[int, str]]:
    """(frame, "open" | "closed") in time order: the ceil(n/2) widest apertures of the take and
    the n//2 smallest during speech (a shut mouth in a pause shows nothing), each kind spread
    ``separation`` frames apart."""
    frames = np.flatnonzero(speech)
    if len(frames) == 0:
        raise ValueError("no speech in the take (every frame below the RMS threshold)")
    widest = _spread(np.argsort(-aperture, kind="stable"), n - n // 2, separation)
    closed = _spread(frames[np.argsort(aperture[frames], kind="stable")], n // 2, separation)
    return sorted([(f, "open") for f in widest] + [(f, "closed") for f in closed])


OPEN_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY"})  # ARPAbet, the jaw's widest
BILABIALS = frozenset({"P", "B", "M"})


def pick_aligned(aperture: np.ndarray, phones, n: int = 8, separation: int = SEPARATION) -> list[tuple[int, str, str]]:
    """(frame, "open" | "closed", phone) in time order from a forced alignment: per open vowel its
    widest frame, per p/b/m its least aperture within 2 frames of the phone (the evaluation's
    tolerance); the ceil(n/2) widest vowels and the n//2 best-closed bilabials, each kind spread
    ``separation`` frames apart."""
    last = len(aperture) - 1
    opens, closes = [], []
    for p in phones:
        sym = p.symbol.upper().rstrip("012")
        a = min(last, int(round(p.start * FPS)))
        b = min(last, max(a, int(round(p.end * FPS)) - 1))
        if sym in OPEN_VOWELS:
            f = a + int(np.argmax(aperture[a:b + 1]))
            opens.append((f, sym))
        elif sym in BILABIALS:
            lo, hi = max(0, a - 2), min(last, b + 2)
            f = lo + int(np.argmin(aperture[lo:hi + 1]))
            closes.append((f, sym))
    if not opens or not closes:
        raise ValueError("the alignment has no open vowel or no p/b/m")
    sym = dict(opens + closes)
    widest = _spread(np.array([f for f, _ in sorted(opens, key=lambda x: -aperture[x[0]])]), n - n // 2, separation)
    # closures shown across the take: the best-closed first, spread apart
    shut = _spread(np.array([f for f, _ in sorted(closes, key=lambda x: aperture[x[0]])]), n // 2, separation)
    return sorted([(f, "open", sym[f]) for f in widest] + [(f, "closed", sym[f]) for f in shut])


def label_of(frame: int, kind: str, aperture: float, phone: str = "") -> str:
    what = f"/{phone.lower()}/ {kind}" if phone else kind
    return f"f {frame}  {frame / FPS:.2f} s  {what} (aperture {aperture:.2f})"


def plot_strip(weights: np.ndarray, aperture: np.ndarray, speech: np.ndarray, picks, width: int, height: int,
               title: str) -> np.ndarray:
    """(height, width, 4) float RGBA, top row first: the lip curves over the take, picks marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    t = np.arange(len(weights)) / FPS
    title = textwrap.fill(title, max(40, int(width / 5.6)))  # about 5.5 px a character at 8 pt
    top = 14 * (title.count("\n") + 1) + 14  # px: the title's lines and the frame numbers
    height += top - 28
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((40 / width, 32 / height, 1 - 52 / width, 1 - (32 + top) / height))
    edges = np.diff(np.concatenate([[0], speech.astype(int), [0]]))
    for a, b in zip(np.flatnonzero(edges == -1)[:-1], np.flatnonzero(edges == 1)[1:]):  # pauses
        ax.axvspan(a / FPS, b / FPS, color="0.92", lw=0)
    if not speech[0]:
        ax.axvspan(0, np.flatnonzero(speech)[0] / FPS, color="0.92", lw=0)
    if not speech[-1]:
        ax.axvspan((np.flatnonzero(speech)[-1] + 1) / FPS, t[-1], color="0.92", lw=0)
    ax.plot(t, weights[:, arkit.INDEX["jawOpen"]], color="#ff7f0e", lw=1, label="jawOpen")
    ax.plot(t, weights[:, arkit.INDEX["mouthClose"]], color="#2ca02c", lw=1, label="mouthClose")
    ax.plot(t, aperture, color="black", lw=1.6, label="lip aperture")
    ax.axhline(CLOSED_APERTURE, color="0.4", lw=0.8, ls="--", label=f"closed below {CLOSED_APERTURE:g}")
    for f, kind in picks:
        colour = OPEN_COLOUR if kind == "open" else CLOSED_COLOUR
        ax.axvline(f / FPS, color=colour, lw=1.2, alpha=0.8)
        ax.plot([f / FPS], [aperture[f]], "o", color=colour, ms=4)
        ax.annotate(str(f), (f / FPS, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7, color=colour)
    ax.set_xlim(0, t[-1])
    ax.set_ylim(min(0.0, float(aperture.min())), max(0.6, float(aperture.max())) * 1.4)  # room for the legend
    ax.set_xlabel("seconds (grey: pauses)", fontsize=7, labelpad=1)
    ax.tick_params(labelsize=7, pad=1)
    ax.legend(fontsize=7, ncol=4, loc="upper right", frameon=False, bbox_to_anchor=(1.0, 1.0))
    fig.text(0.5, 1 - 3 / height, title, fontsize=8, ha="center", va="top")
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba(), dtype=np.float32) / 255.0
    plt.close(fig)
    return rgba


def render(weights: np.ndarray, picks, aperture: np.ndarray, strip: np.ndarray, out: Path, cell: int,
           phones: dict[int, str] | None = None, head: np.ndarray | None = None) -> Path:
    """Tiles of the picked frames (COLUMNS a row) above ``strip``, into one PNG at ``out``."""
    import bpy
    import render_contact_sheet as sheet

    from emotalk_blender.blender import head_mesh
    from emotalk_blender.blender.portrait import quiet
    from emotalk_blender.engine.formats import templates
    from emotalk_blender.engine.atomic import atomic_path

    ts = templates.load_template_set(templates.default_template_path())
    lights = bpy.context.preferences.studio_lights
    scene = sheet._setup_scene(cell, "clay_studio.exr" if "clay_studio.exr" in lights else "basic_grey.exr")
    obj = head_mesh.build_head_object(ts, name="head")
    cam = sheet._camera(scene, 22.0, 4.0)
    label = sheet._Label(scene, cam)
    label.curve.size = LABEL_SIZE
    sheet._set_colours(obj, sheet.base_colours(ts), np.zeros(ts.num_vertices))
    keys = obj.data.shape_keys.key_blocks
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (f, kind) in enumerate(picks):
            for i, name in enumerate(arkit.ARKIT_NAMES):
                keys[name].value = float(weights[f, i])
            if head is not None:  # as the add-on's writer turns the head (head_motion_writer): the
                # head bone of Create head's neck rig, else the object
                from emotalk_blender.blender.head_motion_writer import head_target, local_delta

                target, bone = head_target(obj)
                turn = local_delta(head[f:f + 1])[0]
                if bone:
                    b = target.data.bones[bone].matrix_local.to_3x3()
                    turn = b.inverted() @ turn @ b
                holder = target.pose.bones[bone] if bone else target
                holder.rotation_mode = "QUATERNION"
                holder.rotation_quaternion = turn.to_quaternion()
            label.set(label_of(f, kind, float(aperture[f]), (phones or {}).get(f, "")))
            scene.render.filepath = str(Path(tmp) / f"{k:02d}.png")
            with quiet():  # no per-frame "Saved" lines, no EGL noise
                bpy.ops.render.render(write_still=True)
            tiles.append(sheet._read_png(Path(scene.render.filepath)))
    cols = min(COLUMNS, len(tiles))
    rows = -(-len(tiles) // cols)
    h_strip = strip.shape[0]
    img = np.ones((rows * cell + h_strip, cols * cell, 4), np.float32)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y0 = h_strip + (rows - 1 - r) * cell  # Blender images start at the bottom row
        img[y0:y0 + cell, c * cell:(c + 1) * cell] = tile
    img[:h_strip] = strip[::-1, :cols * cell]  # the plot's top row first: flipped
    img[:h_strip, :, 3] = 1.0
    with atomic_path(out) as tmp_png:
        sheet._save_png(img, tmp_png)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio", default=str(REPO / "samples" / "sample.flac"))
    ap.add_argument("--checkpoint", help="model checkpoint (default: the shipped model)")
    ap.add_argument("--out", default=str(REPO / "docs" / "demo_sheet.png"))
    ap.add_argument("--frames", type=int, default=8, help="frames shown: half open, half closed (default 8)")
    ap.add_argument("--cell", type=int, default=300, help="tile size in pixels (default 300)")
    ap.add_argument("--head-motion", type=float, default=1.0,
                    help="head motion from the voice, strength 0..2, plotted and shown (default 1; 0 = none)")
    ap.add_argument("--transcript", help="the words spoken (text, or a .txt file): frames are then picked and named "
                    "by a pocketsphinx alignment, open vowels and p/b/m (default: samples/sample.txt for the sample)")
    args = ap.parse_args(argv)
    if args.frames < 2:
        ap.error("--frames must be at least 2 (one open, one closed)")
    audio = load_audio(args.audio)
    weights = generate_from_audio(audio, GenerateSettings(checkpoint=args.checkpoint))  # make demo's take
    aperture = lip_aperture(weights)
    speech = speech_mask(frame_rms(audio, len(weights)))
    transcript = args.transcript
    if transcript is None and Path(args.audio).resolve() == (REPO / "samples" / "sample.flac").resolve():
        transcript = str(REPO / "samples" / "sample.txt")
    model = Path(args.checkpoint).name if args.checkpoint else "default model"
    if transcript:
        from emotalk_blender.training import real  # pocketsphinx: a training extra

        text = Path(transcript).read_text() if transcript.endswith(".txt") else transcript
        named = pick_aligned(aperture, real.align(audio, real.normalise_text(text)), args.frames)
        picks = [(f, kind) for f, kind, _ in named]
        phones = {f: ph for f, _, ph in named}
        title = (f"{Path(args.audio).name}, {model}: open = the widest frame of the {args.frames - args.frames // 2} "
                 f"widest open vowels, closed = the least aperture at {args.frames // 2} p/b/m (pocketsphinx "
                 f"alignment), each >= {SEPARATION} frames apart")
    else:
        picks, phones = pick_frames(aperture, speech, args.frames), {}
        title = (f"{Path(args.audio).name}, {model}: open = the {args.frames - args.frames // 2} widest lip "
                 f"apertures, closed = the {args.frames // 2} smallest during speech, each >= {SEPARATION} "
                 "frames apart")
    if len(picks) < args.frames:
        print(f"warning: {Path(args.audio).name}: only {len(picks)} frames {SEPARATION} frames apart", file=sys.stderr)
    for f, kind in picks:
        print(label_of(f, kind, float(aperture[f]), phones.get(f, "")))
    cols = min(COLUMNS, len(picks))
    strip = plot_strip(weights, aperture, speech, picks, cols * args.cell, max(170, int(0.85 * args.cell)), title)
    head = None
    if args.head_motion > 0:  # the head curves under the lip curves
        from emotalk_blender.engine.direction.head_motion import for_settings
        from render_head_motion_strip import plot_head

        head = for_settings(audio, GenerateSettings(checkpoint=args.checkpoint, head_motion=args.head_motion)
                            .validated(), len(weights))
        below = plot_head(head, [f for f, _ in picks], cols * args.cell, max(150, int(0.6 * args.cell)),
                          f"head motion from the voice (strength {args.head_motion:g}, natural): the tiles turn "
                          "with it")
        strip = np.concatenate([strip, below])
    path = render(weights, picks, aperture, strip, Path(args.out), args.cell, phones, head)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
