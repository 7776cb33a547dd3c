"""The corpus's on-disk layout that every writer of a corpus shares: its format version, the index's columns
and the writing of the index files.

``corpus.py`` (synthetic clips), ``from_video.py`` (your own videos) and ``gen3.py`` write corpora the
trainer reads; they take these from here so that none imports another for them.
"""
from __future__ import annotations

import csv
import json

from ..engine.atomic import atomic_open, write_text

FORMAT_VERSION = 1
CSV_FIELDS = ("name", "kind", "split", "speaker", "person", "emotion", "level", "sentence", "duration", "frames",
              "text")


def write_index(out, manifest: dict, alignments: dict, refs: dict, rows: list) -> None:
    """The corpus's index files in ``out``, each atomically: manifest (JSON and CSV), alignments, references."""
    write_text(out / "manifest.json", json.dumps(manifest, indent=1))
    write_text(out / "alignments.json", json.dumps(alignments))
    write_text(out / "real_reference.json", json.dumps(refs))
    with atomic_open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
