"""The artist's own animation is never changed: when a take's Action must play on an object or a rig
that already plays one of the artist's Actions, that Action moves to an NLA track under the take,
keeps a fake user (a save keeps it), and the take's summary says so. One undo puts it back."""
from __future__ import annotations

from typing import Callable

from . import compat
from .rollback import Rollback

NLA_TRACK = "EmoTalk: artist's animation"


def play_over(target, action, slot, take, rollback: Rollback, is_ours: Callable[[object], bool],
              under: str = "the take") -> None:
    """``target`` plays ``action`` (``slot`` on 4.4+); an Action there that ``is_ours`` does not claim
    moves to the NLA track ``NLA_TRACK`` and keeps playing under it."""
    if target.animation_data is None:
        target.animation_data_create()
        rollback.on_undo(target.animation_data_clear)
    anim = target.animation_data
    old, old_slot = anim.action, compat.assigned_slot(anim)
    if old is not None and not is_ours(old):
        track = anim.nla_tracks.new()
        track.name = NLA_TRACK
        strip = track.strips.new(old.name, int(old.frame_range[0]), old)
        if old_slot is not None and hasattr(strip, "action_slot"):
            strip.action_slot = old_slot
        rollback.on_undo(lambda: anim.nla_tracks.remove(track))
        rollback.set(old, use_fake_user=True)
        take.warnings.append(f"Action {old.name!r} of {target.name!r} is unchanged and plays from the NLA track "
                             f"{NLA_TRACK!r} under {under}")
    rollback.on_undo(lambda: compat.assign_action(anim, old, old_slot))
    compat.assign_action(anim, action, slot)
