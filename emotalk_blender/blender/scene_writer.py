"""Write a take (T, 52) at 30 fps into the scene: a new add-on-owned Action on the Key datablock.

One F-curve per mapped shape key (``key_blocks["NAME"].value``), written in bulk with
``keyframe_points.add`` + ``foreach_set`` (never keyframe_insert loops), resampled to the scene's
frame rate, starting at the start frame, assigned so it plays (slot-aware on Blender 4.4+), with
the audio as a sound strip at the same frame and the scene's frame range set to the take.

Never touched: an artist's own Action (it stays in the file with a fake user, unmodified).
On any failure everything done so far is rolled back, so the scene is as it was.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import bpy
import numpy as np

from ..engine.constants import FPS
from ..engine.errors import EmoTalkError
from ..engine.motion_io import check_motion
from . import retarget

TAKE_TAG = "emotalk_take"  # custom property on our Actions and sound strips
FRAMES_30_TAG = "emotalk_frames_30fps"
KEY_TAG = "emotalk_key"  # the Key datablock a take was written for
ORDER_TAG = "emotalk_order"  # takes in the order they were made (bpy.data lists them by name)
MAX_CHANNELS = 128  # Sequencer channels


class SequencerFull(EmoTalkError):
    """No free Sequencer channel for the take's sound strip."""

_LINEAR = 1  # enum index of 'LINEAR' in keyframe interpolation (CONSTANT, LINEAR, BEZIER, ...)


@dataclass
class Take:
    """What a written take is, for the sidebar summary and for scripts."""

    action: str
    start: int
    end: int
    frames: int
    fps: float
    mapped: int
    unmatched: list[str] = field(default_factory=list)
    sound_strip: str | None = None
    replaced_action: str | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{self.action}: frames {self.start}-{self.end} at {self.fps:g} fps, "
                f"{self.mapped}/52 channels")
        if self.unmatched:
            text += f", unmatched: {', '.join(self.unmatched)}"
        return text


def scene_fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def resample(weights: np.ndarray, fps: float) -> np.ndarray:
    """Resample a 30 fps take to ``fps`` (linear in time), frame k at time k / fps.

    Keeps the take on the audio's clock: frame k of the result is the motion at k / fps seconds.
    The last frame reaches (or just passes, holding the last value) the take's end.
    """
    if abs(fps - FPS) < 1e-9:
        return weights
    count = int(np.ceil((len(weights) - 1) * fps / FPS - 1e-9)) + 1
    src = np.arange(count) * (FPS / fps)
    base = np.arange(len(weights))
    return np.stack([np.interp(src, base, weights[:, c]) for c in range(weights.shape[1])],
                    axis=1).astype(np.float32)


def is_take(action) -> bool:
    return action is not None and bool(action.get(TAKE_TAG))


def _fcurve_collection(action, key):
    """Where F-curves for ``key`` go: a channelbag of a new slot (4.4+) or action.fcurves (4.2)."""
    if hasattr(action, "layers"):
        slot = action.slots.new(id_type="KEY", name=key.name)
        strip = action.layers.new("EmoTalk").strips.new(type="KEYFRAME")
        return strip.channelbag(slot, ensure=True).fcurves, slot
    action.id_root = "KEY"
    return action.fcurves, None


def _strips(scene, create=False):
    if scene.sequence_editor is None:
        if not create:
            return None
        scene.sequence_editor_create()
    editor = scene.sequence_editor
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def _all_strips(scene):
    editor = scene.sequence_editor
    if editor is None:
        return []
    return list(editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all)


def write_take(obj, weights, *, scene=None, start_frame: int = 1, audio_path=None,
               name: str | None = None, meta: dict | None = None, set_range: bool = True) -> Take:
    """Write ``weights`` (T, 52, released order, 30 fps) onto ``obj``'s shape keys as a new take.

    Returns a ``Take``; raises ``retarget.TargetError`` (or another EmoTalkError) with the scene
    unchanged when the object cannot take it.
    """
    scene = scene or bpy.context.scene
    weights = check_motion(weights, "take")
    key = retarget.shape_keys_of(obj)
    mapping = retarget.mapping_of(obj)
    if not mapping.channels:
        raise retarget.TargetError(
            f"None of the 52 ARKit channels matches a shape key of {obj.name!r}: edit the mapping "
            "in the EmoTalk panel")
    if audio_path and not os.path.isfile(audio_path):
        from ..engine.errors import AudioError
        raise AudioError(f"{audio_path}: no such audio file")
    fps = scene_fps(scene)
    values = resample(weights, fps)
    count = len(values)
    start = int(start_frame)

    # Several ARKit channels may drive one shape key: their gained weights add up.
    from ..engine.arkit import INDEX
    per_key: dict[str, np.ndarray] = {}
    for arkit_name, (target, gain) in mapping.channels.items():
        curve = values[:, INDEX[arkit_name]] * np.float32(gain)
        per_key[target] = per_key[target] + curve if target in per_key else curve

    rollback = []
    # Evaluating the new take writes shape-key values: put them (and the frame) back on failure.
    old_values = np.empty(len(key.key_blocks), np.float32)
    key.key_blocks.foreach_get("value", old_values)
    old_frame = scene.frame_current

    def restore_values():
        scene.frame_set(old_frame)
        key.key_blocks.foreach_set("value", old_values)
    rollback.append(restore_values)
    try:
        stem = os.path.splitext(os.path.basename(audio_path))[0] if audio_path else "take"
        action = bpy.data.actions.new(name or f"EmoTalk_{stem}")
        rollback.append(lambda: bpy.data.actions.remove(action))
        action[TAKE_TAG] = 1
        action[FRAMES_30_TAG] = len(weights)  # lets read_take return exactly the take's length
        action[KEY_TAG] = key.name
        action[ORDER_TAG] = 1 + max((a.get(ORDER_TAG, 0) for a in bpy.data.actions if is_take(a)), default=0)
        if meta:
            action["emotalk"] = {k: v for k, v in meta.items() if v is not None}
        action.use_fake_user = True  # a take survives being replaced by the next one

        fcurves, slot = _fcurve_collection(action, key)
        frames = np.arange(start, start + count, dtype=np.float32)
        co = np.empty(2 * count, np.float32)
        co[0::2] = frames
        interpolation = np.full(count, _LINEAR, np.int32)
        for target, curve in per_key.items():
            path = f'key_blocks["{bpy.utils.escape_identifier(target)}"].value'
            fc = fcurves.new(path, index=0, action_group="EmoTalk") if slot is None else \
                fcurves.new(path, index=0)
            fc.keyframe_points.add(count)
            co[1::2] = curve
            fc.keyframe_points.foreach_set("co", co)
            fc.keyframe_points.foreach_set("interpolation", interpolation)
            fc.update()

        take = Take(action=action.name, start=start, end=start + count - 1, frames=count,
                    fps=fps, mapped=len(mapping.channels), unmatched=list(mapping.unmatched))
        _assign(key, action, slot, take, rollback)
        if audio_path:
            _add_sound(scene, audio_path, start, action, take, rollback)
        if set_range:
            old = (scene.frame_start, scene.frame_end, scene.frame_current)

            def restore_range():
                scene.frame_start, scene.frame_end = old[0], old[1]
                scene.frame_set(old[2])
            rollback.append(restore_range)
            scene.frame_end = max(take.end, scene.frame_start)  # order avoids start > end clamps
            scene.frame_start = start
            scene.frame_end = take.end
            scene.frame_set(start)
        return take
    except BaseException:
        for undo in reversed(rollback):
            undo()
        raise


def _assign(key, action, slot, take: Take, rollback):
    """Make ``action`` the one that plays on ``key``, keeping whatever was there intact."""
    had_anim = key.animation_data is not None
    anim = key.animation_data_create()
    if not had_anim:
        rollback.append(key.animation_data_clear)
    old_action = anim.action
    old_slot = getattr(anim, "action_slot", None) if old_action else None
    if old_action is not None:
        old_fake = old_action.use_fake_user
        if not is_take(old_action):
            take.replaced_action = old_action.name
            take.warnings.append(f"Action {old_action.name!r} was replaced, not changed: it is "
                                 "kept in the file (fake user)")
        old_action.use_fake_user = True  # never let the artist's Action be purged on save

        def restore():
            old_action.use_fake_user = old_fake
            anim.action = old_action
            if old_slot is not None:
                anim.action_slot = old_slot
        rollback.append(restore)
    else:
        rollback.append(lambda: setattr(anim, "action", None))
    anim.action = action
    if slot is not None:
        anim.action_slot = slot


def _add_sound(scene, audio_path, start, action, take: Take, rollback):
    """The take's audio as a sound strip at the start frame; earlier takes' strips are muted."""
    if not bpy.app.build_options.audaspace:
        take.warnings.append("This Blender build has no audio support: no sound strip added")
        return
    had_editor = scene.sequence_editor is not None
    strips = _strips(scene, create=True)
    if not had_editor:
        rollback.append(scene.sequence_editor_clear)
    for other in _all_strips(scene):
        if other.get(TAKE_TAG) and not other.mute:
            other.mute = True
            rollback.append(lambda s=other: setattr(s, "mute", False))
    sounds_before = set(bpy.data.sounds)
    used = {s.channel for s in _all_strips(scene)}
    free = [c for c in range(1, MAX_CHANNELS + 1) if c not in used]
    if not free:
        raise SequencerFull(f"Scene {scene.name!r}: all {MAX_CHANNELS} Sequencer channels are in "
                            "use, no room for the take's sound")
    channel = free[0]
    strip = strips.new_sound(os.path.basename(audio_path), os.path.abspath(audio_path), channel,
                             start)

    def remove_strip():
        sound = strip.sound
        strips.remove(strip)
        if sound is not None and sound not in sounds_before and sound.users == 0:
            bpy.data.sounds.remove(sound)
    rollback.append(remove_strip)
    strip[TAKE_TAG] = action.name
    action["emotalk_sound_strip"] = strip.name
    take.sound_strip = strip.name
    old_sync = scene.sync_mode
    rollback.append(lambda: setattr(scene, "sync_mode", old_sync))
    scene.sync_mode = "AUDIO_SYNC"  # playback follows the sound, so the face stays on it


def _fcurves_playing(key):
    """F-curves of the Action that plays on ``key`` (its assigned slot on 4.4+)."""
    anim = key.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        return None, []
    if hasattr(action, "layers"):
        slot = anim.action_slot
        curves = []
        for layer in action.layers:
            for strip in layer.strips:
                bag = strip.channelbag(slot) if slot is not None else None
                if bag is not None:
                    curves.extend(bag.fcurves)
        return action, curves
    return action, list(action.fcurves)


def read_take(obj, scene=None) -> np.ndarray:
    """The take playing on ``obj`` as (T, 52) float32 at 30 fps in the released order.

    Reads the F-curves as they are now (artist edits included), undoing each channel's gain;
    channels with no shape key, or no curve, are 0.
    """
    from ..engine.arkit import INDEX, NUM_BLENDSHAPES
    from ..engine.motion_io import MotionFileError

    scene = scene or bpy.context.scene
    key = retarget.shape_keys_of(obj)
    action, curves = _fcurves_playing(key)
    by_path = {fc.data_path: fc for fc in curves}
    if not by_path:
        raise MotionFileError(f"Object {obj.name!r} has no animated shape keys to export")
    first = min(fc.range()[0] for fc in by_path.values())
    last = max(fc.range()[1] for fc in by_path.values())
    fps = scene_fps(scene)
    count = action.get(FRAMES_30_TAG) or int(np.floor((last - first) * FPS / fps + 1e-6)) + 1
    frames = first + np.arange(count) * (fps / FPS)
    out = np.zeros((count, NUM_BLENDSHAPES), np.float32)
    for name, (target, gain) in retarget.mapping_of(obj).channels.items():
        fc = by_path.get(f'key_blocks["{bpy.utils.escape_identifier(target)}"].value')
        if fc is not None and gain != 0:
            out[:, INDEX[name]] = [fc.evaluate(f) / gain for f in frames]
    return out


# --- switching between takes --------------------------------------------------------------------
def takes_of(obj) -> list:
    """The takes written for ``obj``'s shape keys, oldest first."""
    key = retarget.shape_keys_of(obj, required=False) if obj is not None else None
    if key is None:
        return []
    return sorted((a for a in bpy.data.actions if is_take(a) and a.get(KEY_TAG) == key.name),
                  key=lambda a: a.get(ORDER_TAG, 0))


def _take_strip(scene, action):
    return next((s for s in _all_strips(scene) if s.get(TAKE_TAG) == action.name), None)


def use_take(obj, action, scene=None) -> Take:
    """Make an earlier take play again: assigned to the shape keys, its sound strip the one heard,
    the frame range set to it. An artist's Action it replaces is kept (fake user), as on generate."""
    scene = scene or bpy.context.scene
    key = retarget.shape_keys_of(obj)
    if not is_take(action):
        raise EmoTalkError(f"Action {action.name!r} is not an EmoTalk take")
    slot = action.slots[0] if hasattr(action, "slots") and len(action.slots) else None
    curves = [fc for layer in action.layers for strip in layer.strips
              for fc in strip.channelbag(slot).fcurves] if slot is not None else list(action.fcurves)
    start, end = (int(round(v)) for v in (min(fc.range()[0] for fc in curves), max(fc.range()[1] for fc in curves)))
    take = Take(action=action.name, start=start, end=end, frames=end - start + 1, fps=scene_fps(scene),
                mapped=len(curves))
    rollback = []
    try:
        _assign(key, action, slot, take, rollback)
        chosen = _take_strip(scene, action)
        for strip in _all_strips(scene):
            if strip.get(TAKE_TAG):
                strip.mute = strip != chosen
        take.sound_strip = chosen.name if chosen is not None else None
        scene.frame_end = max(end, scene.frame_start)
        scene.frame_start, scene.frame_end = start, end
        scene.frame_set(start)
    except BaseException:
        for undo in reversed(rollback):
            undo()
        raise
    return take


def delete_take(obj, action, scene=None) -> None:
    """Remove a take, its sound strip and (when unused) its sound. If it was playing, the shape
    keys are left with no Action; an artist's Action is never deleted here."""
    scene = scene or bpy.context.scene
    if not is_take(action):
        raise EmoTalkError(f"Action {action.name!r} is not an EmoTalk take: not deleted")
    key = retarget.shape_keys_of(obj, required=False)
    if key is not None and key.animation_data is not None and key.animation_data.action == action:
        key.animation_data.action = None
    strip = _take_strip(scene, action)
    if strip is not None:
        sound = strip.sound
        _strips(scene).remove(strip)
        if sound is not None and sound.users == 0:
            bpy.data.sounds.remove(sound)
    bpy.data.actions.remove(action)
