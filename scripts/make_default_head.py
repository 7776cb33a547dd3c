"""Generate the default head template set (deterministic) and write it as a compressed .npz.

    .venv/bin/python scripts/make_default_head.py            # -> flame_templates/default_head.npz
    .venv/bin/python scripts/make_default_head.py --check    # fail if the committed file is stale
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emotalk_blender.engine.formats import templates  # noqa: E402
from emotalk_blender.training.head import make_default_head  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "flame_templates" / templates.STYLISED_TEMPLATE_NAME))
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    ts = make_default_head()
    took = time.perf_counter() - t0
    if args.check:
        old = templates.load_template_set(args.out)
        same = (np.array_equal(old.neutral, ts.neutral) and np.array_equal(old.deltas, ts.deltas)
                and np.array_equal(old.face_indices, ts.face_indices))
        print(f"{args.out}: {'up to date' if same else 'STALE: rerun scripts/make_default_head.py'}")
        return 0 if same else 1
    path = templates.save_template_set(ts, args.out)
    print(f"wrote {path}: {ts.num_vertices} vertices, {ts.num_faces} faces, "
          f"{path.stat().st_size / 1e6:.2f} MB, generated in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
