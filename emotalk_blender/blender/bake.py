"""Headless batch: audio files -> animated .blend files (and preview MP4s), with the bpy module.

    python -m emotalk_blender bake AUDIO... -o OUT.blend [--template NAME | --target-blend FILE
        --object NAME] [--level L] [--person P] [--seed S] [--preview OUT.mp4]

One input: ``-o`` is the .blend (``--preview`` the .mp4). Several inputs: ``-o`` (and
``--preview``) are folders receiving ``STEM.blend`` (``STEM.mp4``) per input.

Python API for scene scripts (inside Blender, or with ``import bpy``)::

    from emotalk_blender.blender import bake
    take = bake.animate(obj, "line.wav", level=0.5, person=3, seed=1, start_frame=1)

bpy is imported only inside functions: ``python -m emotalk_blender`` imports this module to add
the subcommand (``add_command``) even where bpy is missing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine import atomic
from ..engine.cli import flags as direction_flags
from ..engine.audio.decoding import check_audio_path
from ..engine.network.interface import BACKENDS
from ..engine.network.precision import PRECISIONS
from ..engine.constants import NUM_PERSONS
from ..engine.progress import ProgressBar
from ..engine.errors import EmoTalkError
from ..engine.cli.main import settings_of
from ..engine.settings import GenerateSettings


MAX_RESOLUTION = 8192  # preview pixels: beyond, a render takes hours and gigabytes


def add_command(sub) -> None:
    """Register ``bake`` with the command line (``engine.cli.main(extra_commands=[add_command])``)."""
    p = sub.add_parser("bake", help="audio -> animated .blend (needs the bpy module)")
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", nargs="+", help="voice recordings (WAV, FLAC, OGG, ...)")
    parser.add_argument("-o", "--output", required=True,
                        help="output .blend (one input) or folder (several)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--template", default="",
                        help="template set for a new head: name in flame_templates/ or .npz path "
                             "(default: the shipped head)")
    target.add_argument("--target-blend", help="a .blend holding the character to animate")
    parser.add_argument("--object", help="the character's object name in --target-blend")
    parser.add_argument("--level", type=float, default=1.0, help="emotion level 0..1 (default 1)")
    parser.add_argument("--person", default="0",
                        help=f"speaking style 0..{NUM_PERSONS - 1}, or a mix like 3:0.5,7:0.5 (default 0)")
    parser.add_argument("--raw", action="store_true", help="no smoothing and no blinks")
    parser.add_argument("--checkpoint", help="model checkpoint (default: the shipped model)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto (fp16 on CUDA, bf16 on CPUs with native bf16, else fp32), fp32, bf16, fp16")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="network implementation (default auto: torch when installed, else numpy)")
    parser.add_argument("--start-frame", type=int, default=1)
    parser.add_argument("--preview", help="preview .mp4 with sound, or .png contact sheet (one "
                        "input), or a folder receiving STEM.mp4 (several)")
    parser.add_argument("--resolution", type=int, default=512, help="preview size in pixels")
    parser.add_argument("--framing", choices=("close", "head"), default="close",
                        help="preview framing: the face close up, or the whole head and neck (default close)")
    parser.add_argument("--engine", choices=("auto", "eevee", "workbench"), default="auto",
                        help="preview renderer (default auto: EEVEE with a GPU, else Workbench)")
    direction_flags.add_arguments(parser)


def animate(obj, audio, *, level=1.0, person=0, seed=0, smooth=True, blinks=True,
            checkpoint=None, device=None, backend="auto", start_frame=1, progress=None, scene=None,
            precision="auto", direction: dict | None = None, settings: GenerateSettings | None = None):
    """Generate a take from ``audio`` and write it onto ``obj`` (as the Generate button does);
    ``direction``: GenerateSettings fields directing it (emotion, strengths, gaze); ``settings``: all of
    them at once (the keywords are then unused)."""
    from ..engine import pipeline
    from ..engine.controls import ENGINE_FIELDS, stored_record
    from . import directing, retarget, rig_mapping, scene_writer

    # a target without shape keys (or, an armature, without poses) fails before the long work
    rig_mapping.check_rig(obj) if rig_mapping.is_rig(obj) else retarget.shape_keys_of(obj)
    if settings is None:
        settings = GenerateSettings(level=level, person=person, smooth=smooth, blinks=blinks, seed=seed,
                                    checkpoint=checkpoint, device=device, backend=backend, precision=precision,
                                    **(direction or {}))
    settings = settings.validated()  # once: the pipeline and the head motion trust it
    weights = pipeline.generate(str(audio), settings, progress=progress)
    audio_path = str(Path(audio).resolve())
    person = settings.person if isinstance(settings.person, int) else list(settings.person)
    meta = {"audio": audio_path, "level": settings.level, "person": person, "seed": settings.seed,
            "smooth": settings.smooth, "blinks": settings.blinks, "checkpoint": settings.checkpoint or "default",
            directing.SETTINGS_KEY: stored_record(  # what Regenerate reads
                {name: getattr(settings, name) for name in ENGINE_FIELDS}, filepath=audio_path,
                start_frame=start_frame, checkpoint=settings.checkpoint or "")}
    head = None
    if settings.head_motion > 0:  # head motion from the voice, keyed on the head object or bone
        from ..engine.direction.head_motion import motion_for_file

        head = motion_for_file(str(audio), settings, len(weights))
    return scene_writer.write_take(obj, weights, scene=scene, start_frame=start_frame,
                                   audio_path=audio_path, meta=meta, head=head)


def _prepare_scene(args):
    """A fresh scene with the character: the target .blend's object, or a new head."""
    import bpy

    from ..engine.formats import templates
    from ..engine.errors import EmoTalkError
    from ..engine.formats.templates import resolve_template
    from . import head_mesh

    if args.target_blend:
        path = Path(args.target_blend)
        if not path.is_file():
            raise EmoTalkError(f"{path}: no such .blend file")
        bpy.ops.wm.open_mainfile(filepath=str(path.resolve()))
        if not args.object:
            raise EmoTalkError(f"{path}: --object NAME is required with --target-blend")
        obj = bpy.data.objects.get(args.object)
        if obj is None:
            raise EmoTalkError(f"{path}: no object named {args.object!r} (has: "
                               f"{', '.join(o.name for o in bpy.data.objects)})")
        return obj
    # Factory startup, not factory settings: those reset the preferences, which would unload this
    # extension (and its bl_ext package) when bake runs inside a Blender where it is enabled.
    bpy.ops.wm.read_homefile(use_factory_startup=True, use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0  # the take's own rate: no resampling
    ts = templates.load_template_set(resolve_template(args.template))
    obj = head_mesh.build_head_object(ts, name=ts.name or "EmoTalk Head")
    bpy.context.view_layer.objects.active = obj
    return obj


def _outputs(paths, output, suffix):
    """``-o`` (or ``--preview``) is the file for one input, or a folder receiving STEM{suffix} per input."""
    if output is None:
        return [None] * len(paths)
    output = Path(output)
    if len(paths) == 1 and output.suffix and not output.is_dir():
        return [output]
    return atomic.folder_outputs(paths, output, suffix)


def _check_before_work(args, blends, videos) -> None:
    """Every check that needs no inference besides the settings': output names distinct and writable,
    audio files there, start frame inside Blender's range."""
    from . import scene_writer

    atomic.check_outputs([*zip(args.audio, blends), *((a, v) for a, v in zip(args.audio, videos) if v)])
    for audio in args.audio:
        check_audio_path(audio)
    scene_writer.check_start_frame(args.start_frame)
    if args.preview and not 16 <= args.resolution <= MAX_RESOLUTION:
        raise EmoTalkError(f"--resolution {args.resolution}: a preview is 16..{MAX_RESOLUTION} pixels")


def run(args) -> int:
    """The ``bake`` subcommand; returns the exit code. Bad input raises EmoTalkError."""
    try:
        import bpy
    except ImportError:
        print("error: bake needs the bpy module (pip install bpy, see requirements-dev.txt)",
              file=sys.stderr)
        return 2
    from . import portrait, preview, register, unregister
    from .prefs import addon_name

    if not args.target_blend and args.object:
        raise SystemExit("error: --object needs --target-blend")
    settings = settings_of(args, smooth=not args.raw, blinks=not args.raw, checkpoint=args.checkpoint,
                           device=args.device, backend=args.backend)  # checked once, before any scene work
    blends = _outputs(args.audio, args.output, ".blend")
    videos = _outputs(args.audio, args.preview, ".mp4")
    _check_before_work(args, blends, videos)
    registered = False
    try:
        for i, (audio, blend, video) in enumerate(zip(args.audio, blends, videos)):
            obj = _prepare_scene(args)
            if not registered and addon_name() not in bpy.context.preferences.addons:
                register()  # properties (mapping, settings) used by the writer
                registered = True
            take = animate(obj, audio, settings=settings, start_frame=args.start_frame,
                           progress=ProgressBar(f"[{i + 1}/{len(args.audio)}] {Path(audio).name}", force=True))
            sys.stderr.write("\n")
            _pack_sounds()
            with atomic.atomic_path(blend.resolve()) as tmp, portrait.quiet():  # no "Info: Saved copy" line
                bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True)  # copy: the session keeps its name
            print(f"{blend}: {take.summary()}", file=sys.stderr)
            for warning in take.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            if video is not None and video.suffix.lower() == ".png":
                preview.render_contact_sheet(obj, video, resolution=args.resolution, framing=args.framing,
                                             engine=args.engine, label="preview")
                print(f"{video}: contact sheet", file=sys.stderr)
            elif video is not None:
                preview.render_mp4(obj, video, resolution=args.resolution, framing=args.framing,
                                   engine=args.engine)
                print(f"{video}: preview", file=sys.stderr)
    finally:
        if registered:
            unregister()
    return 0


def _pack_sounds():
    """Pack the takes' audio into the .blend so the file plays anywhere."""
    import bpy

    for sound in bpy.data.sounds:
        if sound.packed_file is None and sound.users:
            sound.pack()
