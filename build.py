"""Build the installable extension: ``python build.py`` -> ``dist/emotalk_blender-<version>.zip``.

The zip mirrors the repository layout so the engine finds its shipped files the same way in both:

    blender_manifest.toml   the manifest (validated by Blender's own validator)
    __init__.py             a two-line shim: the add-on's register/unregister
    emotalk_blender/        the package (engine + Blender side; no training code, no caches)
    models/  flame_templates/  the shipped default model and head
    LICENSE  README.md      when present

No tests, caches or development files go in. The zip is built and then validated with
``blender_ext.py`` from the bpy package (or a ``blender`` on PATH): ``build`` then ``validate``.

torch is not bundled: it is large and platform-specific. The shipped default model runs on NumPy,
which Blender has; for the released checkpoint or a GPU, the Preferences' *Install PyTorch* button
fetches torch with Blender's own pip into the extension's user folder (``blender/installer.py``).
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE = "emotalk_blender"
SHIM = '''"""EmoTalk for Blender, installed as an extension: the package is emotalk_blender/ beside this."""
from .emotalk_blender import register, unregister  # noqa: F401
'''
# What is shipped from each folder (anything else there is a development file).
SHIPPED = {
    PACKAGE: ("*.py",),
    "models": ("*.safetensors", "*.presets.npz", "*.json", "*.md", "LICENSE*"),  # presets: named emotions
    "flame_templates": ("*.npz", "*.md", "LICENSE*"),
    "rigs": ("*.json",),  # ready poses for face rigs (rigs/rigify_face_poses.json)
}
EXCLUDED_DIRS = {"__pycache__", "training", "tests"}  # training code is dev-only
TOP_FILES = ("LICENSE", "README.md")


class BuildError(Exception):
    pass


def version() -> str:
    """The one version: the manifest's, which must equal the package's ``__version__``."""
    manifest = (ROOT / "blender_manifest.toml").read_text()
    found = re.search(r'^version\s*=\s*"([^"]+)"', manifest, re.M)
    init = (ROOT / PACKAGE / "__init__.py").read_text()
    package = re.search(r'^__version__\s*=\s*"([^"]+)"', init, re.M)
    if not found or not package or found.group(1) != package.group(1):
        raise BuildError(f"version mismatch: blender_manifest.toml "
                         f"{found and found.group(1)!r} vs {PACKAGE}.__version__ "
                         f"{package and package.group(1)!r}")
    return found.group(1)


def stage(dest: Path) -> Path:
    """Lay out the extension's files in ``dest`` (created; must not exist)."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    shutil.copy2(ROOT / "blender_manifest.toml", dest / "blender_manifest.toml")
    (dest / "__init__.py").write_text(SHIM)
    for folder, patterns in SHIPPED.items():
        src = ROOT / folder
        if not src.is_dir():
            continue
        for dirpath, dirnames, _ in os.walk(src):
            dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS
                                 and not d.startswith("."))
            rel = Path(dirpath).relative_to(ROOT)
            for pattern in patterns:
                for path in sorted(Path(dirpath).glob(pattern)):
                    if path.is_file():
                        (dest / rel).mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, dest / rel / path.name)
    for name in TOP_FILES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    return dest


def validator_command() -> list[str]:
    """Blender's extension tool: blender_ext.py from the bpy package, else ``blender --command``."""
    candidates = []
    spec = importlib.util.find_spec("bpy")
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent)
    for venv in (".venv", ".venv42"):
        candidates += [Path(p) for p in glob.glob(str(ROOT / venv / "lib/python3*/site-packages/bpy"))]
    for base in candidates:
        found = sorted(base.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return [sys.executable, str(found[-1])]
    blender = shutil.which("blender")
    if blender:
        return [blender, "--factory-startup", "--command", "extension"]
    raise BuildError("Blender's extension validator not found: install the bpy package "
                     "(make setup) or put blender on PATH")


def _run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or "error" in (proc.stdout + proc.stderr).lower():
        raise BuildError(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def build(out_dir: Path = ROOT / "dist") -> Path:
    """Stage, build the zip with Blender's tool, validate it; returns the zip's path."""
    ver = version()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{PACKAGE}-{ver}.zip"
    tool = validator_command()
    with tempfile.TemporaryDirectory() as tmp:
        src = stage(Path(tmp) / PACKAGE)
        _run(tool + ["validate", str(src)])
        if out.exists():
            out.unlink()
        _run(tool + ["build", "--source-dir", str(src), "--output-filepath", str(out)])
    _run(tool + ["validate", str(out)])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=str(ROOT / "dist"), help="where the zip goes")
    args = parser.parse_args(argv)
    try:
        out = build(Path(args.out_dir))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB), validated by Blender's extension tool")
    return 0


if __name__ == "__main__":
    sys.exit(main())
