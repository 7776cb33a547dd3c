"""The one rollback helper (writing/using/deleting takes, preview settings), on plain objects."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from emotalk_blender.blender.rollback import Rollback


class _Collection:
    def __init__(self):
        self.items = []

    def new(self, name):
        self.items.append(name)
        return name

    def remove(self, item):
        self.items.remove(item)


def test_failure_undoes_everything_newest_first():
    target = SimpleNamespace(start=1, end=10)
    blocks = _Collection()
    order = []
    with pytest.raises(ValueError, match="half-way"):
        with Rollback() as rollback:
            rollback.on_undo(lambda: order.append("first recorded"))
            rollback.set(target, end=100)
            rollback.set(target, start=50, end=200)  # the same attribute twice: the oldest wins
            rollback.new(blocks, "Action")
            rollback.on_undo(lambda: order.append("last recorded"))
            raise ValueError("half-way")
    assert (target.start, target.end) == (1, 10)
    assert blocks.items == [] and order == ["last recorded", "first recorded"]


def test_success_keeps_the_changes_unless_always():
    target = SimpleNamespace(engine="EEVEE")
    with Rollback() as rollback:
        rollback.set(target, engine="WORKBENCH")
    assert target.engine == "WORKBENCH"
    with Rollback(always=True) as restore:
        restore.set(target, engine="CYCLES")
        assert target.engine == "CYCLES"
    assert target.engine == "WORKBENCH"


def test_a_set_that_fails_records_only_what_changed():
    class Strict(SimpleNamespace):
        def __setattr__(self, name, value):
            if value == "bad":
                raise ValueError(f"{name}: bad value")
            super().__setattr__(name, value)

    target = Strict(a=1, b=2)
    with pytest.raises(ValueError, match="b: bad"):
        with Rollback() as rollback:
            rollback.set(target, a=5, b="bad")
    assert (target.a, target.b) == (1, 2)
