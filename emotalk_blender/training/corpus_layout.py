"""The corpus's on-disk layout that every writer of a corpus shares: its format version and the index's columns.

``corpus.py`` (synthetic clips), ``from_video.py`` (your own videos) and ``gen3.py`` write corpora the
trainer reads; they take these from here so that none imports another for them.
"""
from __future__ import annotations

FORMAT_VERSION = 1
CSV_FIELDS = ("name", "kind", "split", "speaker", "person", "emotion", "level", "sentence", "duration", "frames",
              "text")
