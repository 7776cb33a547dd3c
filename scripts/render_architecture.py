"""Draw the rooms of the package and the imports between them, from an ``ast`` scan of the real code.

Every ``import`` and ``from ... import`` in ``emotalk_blender/`` (at the top of a module or inside a
function: both run) is resolved to the package of the module it names; a room is a package
(``engine`` holds the entry point and the shared modules, ``engine.network`` the network, ...). An
arrow A -> B means some module of A imports a module of B; a red pair is a cycle between rooms.

    .venv/bin/python scripts/render_architecture.py                # -> docs/architecture.png
    .venv/bin/python scripts/render_architecture.py --text         # the graph as text, no picture
    .venv/bin/python scripts/render_architecture.py --root /tmp/old --text   # another checkout
"""
from __future__ import annotations

import argparse
import ast
import math
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "emotalk_blender"

# Where each room sits in the picture (x, y): front ends on top, the shared floor at the bottom.
# A room not listed (a new one) is placed on a ring around the middle, so the picture stays true.
POSITIONS = {
    "emotalk_blender": (3.2, 5.1),
    "blender": (1.0, 4.0), "engine.cli": (3.2, 4.0), "training": (5.9, 4.0), "training.head": (7.6, 4.0),
    "engine.install": (-0.6, 2.9), "engine (entry)": (1.7, 2.9), "engine.capture": (5.3, 2.9),
    "engine.network": (-0.2, 1.75), "engine.direction": (1.7, 1.75), "engine.formats": (3.6, 1.75),
    "engine.audio": (1.0, 0.6), "engine.motion": (3.2, 0.6), "engine (shared)": (5.6, 0.6),
}
ENTRY, SHARED = "engine (entry)", "engine (shared)"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package under ``root``: dotted name -> file."""
    return {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py")) if "__pycache__" not in p.parts}


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules that ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from pkg import mod`` names a module; ``from mod import name`` names mod itself
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # ``import a.b.c`` of a name inside a module: its module
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def package_of(name: str, known: dict[str, Path]) -> str:
    """The package a module belongs to, without the top package's name (``engine.network``)."""
    package = name if known[name].name == "__init__.py" else name.rpartition(".")[0]
    return package.partition(".")[2] or package


def graph(root: Path = REPO) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """(modules per room, imports per room pair A -> B, A != B).

    The engine's own top level is two rooms: the *entry* (``pipeline`` and the top modules that
    import a room, or import the entry) and the *shared* floor every room may use (errors,
    constants, ...). Where the engine is still flat (an old checkout) all of it is one room."""
    known = modules(root)
    imports = {name: imported(name, path, known) for name, path in known.items()}
    top = {n for n in known if package_of(n, known) == "engine" and known[n].name != "__init__.py"}
    rooms_below = any(package_of(n, known) == "engine.network" for n in known)  # the engine in rooms
    entry: set[str] = set()
    if rooms_below:
        grow = True
        while grow:
            grow = False
            for n in top - entry:
                if any(package_of(t, known).startswith("engine.") or t in entry for t in imports[n]):
                    entry.add(n)
                    grow = True

    def room(name: str) -> str:
        package = package_of(name, known)
        if package == "engine" and rooms_below:
            return ENTRY if name in entry else SHARED
        return package

    sizes: dict[str, int] = defaultdict(int)
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for name in known:
        a = room(name)
        sizes[a] += 1
        for t in imports[name]:
            b = room(t)
            if a != b:
                edges[a, b] += 1
    return dict(sizes), dict(edges)


def as_text(sizes: dict[str, int], edges: dict[tuple[str, str], int]) -> str:
    lines = []
    for a in sorted(sizes):
        outs = sorted(b for (x, b) in edges if x == a)
        lines.append(f"{a} ({sizes[a]} modules) -> {', '.join(outs) if outs else '(nothing)'}")
    cycles = sorted({tuple(sorted(e)) for e in edges if (e[1], e[0]) in edges})
    lines.append("cycles between rooms: " + (", ".join(f"{a} <-> {b}" for a, b in cycles) or "none"))
    return "\n".join(lines)


def draw(sizes: dict[str, int], edges: dict[tuple[str, str], int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    pos = dict(POSITIONS)
    extra = sorted(r for r in sizes if r not in pos)
    for i, r in enumerate(extra):
        angle = 2 * math.pi * i / max(1, len(extra))
        pos[r] = (3.5 + 2.8 * math.cos(angle), 2.7 + 2.0 * math.sin(angle))
    fig, ax = plt.subplots(figsize=(12, 7.2), dpi=110)
    ax.set_xlim(-1.3, 8.4)
    ax.set_ylim(0.0, 5.7)
    ax.axis("off")
    w, h = 1.25, 0.5
    colour = {"blender": "#cfe3f7", "training": "#eadcf5", "training.head": "#eadcf5", "emotalk_blender": "#dddddd",
              "engine": "#ffe7b3", ENTRY: "#ffe7b3", SHARED: "#ffe7b3"}
    for (a, b), count in sorted(edges.items()):
        if a not in pos or b not in pos:
            continue
        cycle = (b, a) in edges
        ax.add_patch(FancyArrowPatch(pos[a], pos[b], arrowstyle="-|>", mutation_scale=14, shrinkA=22, shrinkB=22,
                                     connectionstyle="arc3,rad=0.12", lw=0.6 + 0.25 * math.log1p(count),
                                     color="#c0392b" if cycle else "#555555", alpha=0.75, zorder=1))
    for r, n in sizes.items():
        x, y = pos[r]
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04",
                                    fc=colour.get(r, "#e3f1df"), ec="#333333", lw=1.0, zorder=2))
        label = r if r in (ENTRY, SHARED) else r.replace(".", "/") + "/"
        ax.text(x, y + 0.07, label, ha="center", va="center", fontsize=10, weight="bold", zorder=3)
        ax.text(x, y - 0.13, f"{n} modules", ha="center", va="center", fontsize=8, color="#444444", zorder=3)
    ax.text(-1.2, 5.55, "emotalk_blender: rooms (packages) and their imports (A -> B: A imports B)",
            fontsize=12, weight="bold")
    ax.text(-1.2, 0.05, "from an ast scan of every import in emotalk_blender/ (scripts/render_architecture.py); "
            "orange: the engine's entry point and shared modules; green: engine rooms; red: a cycle",
            fontsize=8, color="#444444")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=REPO, help="the checkout to scan (default: this one)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "architecture.png")
    ap.add_argument("--text", action="store_true", help="print the graph only")
    args = ap.parse_args(argv)
    sizes, edges = graph(args.root)
    print(as_text(sizes, edges))
    if not args.text:
        draw(sizes, edges, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
