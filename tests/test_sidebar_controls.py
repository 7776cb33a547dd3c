"""Every control of the table (engine/controls.py) that is not hidden is drawn in the sidebar, so no
control is reachable only from the command line or a script (the sidebar code is read, not run: a
Panel's layout exists only in a Blender with a window)."""
from __future__ import annotations

import ast
from pathlib import Path

from emotalk_blender.engine.controls import CONTROLS

BLENDER = Path(__file__).resolve().parents[1] / "emotalk_blender" / "blender"


def drawn_properties() -> set[str]:
    """Names passed as the property of ``<layout>.prop(settings, "name", ...)`` in the sidebar's code."""
    names = set()
    for path in (BLENDER / "panels.py", BLENDER / "directing.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if _is_prop(node) and isinstance(node.args[1], ast.Constant):
                names.add(node.args[1].value)
            # for name in ("upper_face", ...): col.prop(settings, name)
            if (isinstance(node, ast.For) and isinstance(node.target, ast.Name)
                    and isinstance(node.iter, (ast.Tuple, ast.List))
                    and any(_is_prop(n) and isinstance(n.args[1], ast.Name) and n.args[1].id == node.target.id
                            for n in ast.walk(node))):
                names.update(e.value for e in node.iter.elts if isinstance(e, ast.Constant))
    return names


def _is_prop(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "prop"
            and len(node.args) >= 2)


def test_every_shown_control_is_drawn_in_the_sidebar():
    shown = {c.name for c in CONTROLS if not c.hidden}
    missing = shown - drawn_properties()
    assert not missing, f"controls with no place in the sidebar: {sorted(missing)}"
    assert "neutral_lean" in shown and "head_motion" in shown  # the newest controls are among them
