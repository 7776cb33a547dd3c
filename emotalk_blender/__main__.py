"""``python -m emotalk_blender``: the engine's commands plus ``bake`` from the Blender side."""
import sys

from .blender.bake import add_command as add_bake
from .engine.cli.main import main

sys.exit(main(extra_commands=[add_bake]))
