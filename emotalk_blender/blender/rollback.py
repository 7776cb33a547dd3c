"""Undo on failure: record what a block creates and changes, put it all back if the block fails.

One helper for every "the scene stays as it was" path: writing, using and deleting takes, and the
render settings a preview borrows (``Rollback(always=True)`` restores them on every exit).
"""
from __future__ import annotations

from collections.abc import Callable


class Rollback:
    """A context manager holding undo steps; they run newest first on an exception (or always)."""

    def __init__(self, always: bool = False):
        self.always = always
        self._steps: list[Callable[[], object]] = []

    def __enter__(self) -> Rollback:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None or self.always:
            self.undo()
        return False

    def on_undo(self, step: Callable[[], object]) -> None:
        """Run ``step`` when rolling back (after every step recorded later)."""
        self._steps.append(step)

    def set(self, target, **values) -> None:
        """Set attributes in the order given, each restored on rollback."""
        for name, value in values.items():
            old = getattr(target, name)
            setattr(target, name, value)
            self.on_undo(lambda name=name, old=old: setattr(target, name, old))

    def new(self, collection, *args, **kwargs):
        """``collection.new(...)`` (a bpy.data collection), removed again on rollback."""
        block = collection.new(*args, **kwargs)
        self.on_undo(lambda: collection.remove(block))
        return block

    def undo(self) -> None:
        while self._steps:
            self._steps.pop()()
