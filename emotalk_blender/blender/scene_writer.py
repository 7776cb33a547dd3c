"""Write a take (T, 52) at 30 fps into the scene: a new add-on-owned Action on the Key datablock.

One F-curve per mapped shape key (``key_blocks["NAME"].value``), written in bulk with
``keyframe_points.add`` + ``foreach_set`` (never keyframe_insert loops), resampled to the scene's
frame rate (``engine.takes``), starting at the start frame, assigned so it plays (slot-aware on
Blender 4.4+, see ``compat``), with the audio as a sound strip at the same frame and the scene's
frame range set to the take.

Never touched: an artist's own Action (it stays in the file with a fake user, unmodified).
On any failure everything done so far is rolled back (``Rollback``), so the scene is as it was.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import bpy
import numpy as np

from ..engine.motion import takes
from ..engine.arkit import INDEX, NUM_BLENDSHAPES
from ..engine.constants import FPS
from ..engine.errors import AudioError, EmoTalkError
from ..engine.formats.motion_io import MotionFileError, check_motion
from . import compat, head_motion_writer, retarget
from .props import MAX_FRAME
from .rollback import Rollback

TAKE_TAG = "emotalk_take"  # custom property on our Actions and sound strips
FRAMES_30_TAG = "emotalk_frames_30fps"
KEY_TAG = "emotalk_key"  # the Key datablock a take was written for
ORDER_TAG = "emotalk_order"  # takes in the order they were made (bpy.data lists them by name)
SOUND_STRIP_TAG = "emotalk_sound_strip"
MAX_CHANNELS = 128  # Sequencer channels
_LINEAR = 1  # enum index of 'LINEAR' in keyframe interpolation (CONSTANT, LINEAR, BEZIER, ...)


MIN_FRAME = 0  # the earliest frame a scene's range can start at (Scene.frame_start's hard minimum)


class SequencerFull(EmoTalkError):
    """No free Sequencer channel for the take's sound strip."""


class FrameRangeError(EmoTalkError):
    """A take that would start before frame 0 or run past Blender's last frame."""


class LinkedDataError(EmoTalkError):
    """A target whose take would not survive save and reopen (linked from a library)."""


def check_start_frame(start: int, frames: int = 1) -> None:
    """Refuse a take of ``frames`` frames at ``start`` that a scene's frame range cannot hold."""
    if start < MIN_FRAME:
        raise FrameRangeError(f"Start frame {start} is before frame {MIN_FRAME}, the earliest a scene's "
                              "frame range can start: choose a start frame of 0 or later")
    end = start + frames - 1
    if frames > MAX_FRAME - MIN_FRAME + 1:  # no start fits: say so, not "start at frame -951425"
        raise FrameRangeError(f"The take has {frames} frames, more than a Blender scene holds (frames {MIN_FRAME}.."
                              f"{MAX_FRAME}): split it, or import it at a lower scene frame rate")
    if end > MAX_FRAME:
        raise FrameRangeError(f"The take ({frames} frames from frame {start}) would end at frame {end}, past "
                              f"Blender's last frame {MAX_FRAME}: start at frame {MAX_FRAME - frames + 1} or earlier")


def check_persistent(obj) -> None:
    """Refuse, before any work, a target whose take would be lost on save: a linked object.

    A linked mesh under a local object or a library override is fine: ``write_take`` makes the
    mesh a library override, whose shape keys keep the take in this file.
    """
    if obj is not None and obj.library is not None:
        raise LinkedDataError(
            f"Object {obj.name!r} is linked from {obj.library.filepath} and cannot keep a take in this "
            "file: make it a library override (Object > Library Override > Make) and generate again")


def _editable_key(obj, rollback: Rollback):
    """``obj``'s Key, first making a linked mesh a library override so the take persists."""
    check_persistent(obj)
    mesh = obj.data
    if mesh.library is not None and mesh.override_library is None:
        override = mesh.override_create(remap_local_usages=True)
        if override is None or override.shape_keys is None or override.shape_keys.library is not None:
            raise LinkedDataError(f"Mesh {mesh.name!r} is linked from {mesh.library.filepath} and Blender "
                                  "cannot override its shape keys: make the mesh local to animate it")

        def undo():
            override.user_remap(mesh)
            bpy.data.meshes.remove(override)
        rollback.on_undo(undo)
    key = retarget.shape_keys_of(obj)
    if key.library is not None:
        raise LinkedDataError(f"The shape keys of {obj.name!r} are linked from {key.library.filepath} "
                              "and cannot keep a take: make the mesh local or a library override")
    return key


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
                f"{self.mapped}/{NUM_BLENDSHAPES} channels")
        if self.unmatched:
            text += f", unmatched: {', '.join(self.unmatched)}"
        return text


def scene_fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def is_take(action) -> bool:
    return action is not None and bool(action.get(TAKE_TAG))


def _data_path(shape_key: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(shape_key)}"].value'


# --- writing a take ----------------------------------------------------------------------------
def write_take(obj, weights, *, scene=None, start_frame: int = 1, audio_path=None,
               name: str | None = None, meta: dict | None = None, set_range: bool = True, head=None,
               head_bone: str | None = None) -> Take:
    """Write ``weights`` (T, 52, released order, 30 fps) onto ``obj``'s shape keys as a new take.

    ``head``: (T, 3) head motion in degrees (engine/direction/head_motion.py), keyed on the head object or
    bone (``head_bone``, else found by name) as part of the take (head_motion_writer.py).

    Returns a ``Take``; raises ``retarget.TargetError`` (or another EmoTalkError) with the scene
    unchanged when the object cannot take it.
    """
    from . import rig_writer  # armatures: face bones through one pose per channel

    if obj is not None and obj.type == "ARMATURE":
        return rig_writer.write_rig_take(obj, weights, scene=scene, start_frame=start_frame, audio_path=audio_path,
                                         name=name, meta=meta, set_range=set_range, head=head, head_bone=head_bone)
    scene = scene or bpy.context.scene
    weights, key, mapping = _checked_inputs(obj, weights, audio_path)
    fps = scene_fps(scene)
    weights_fps = takes.resample_to_fps(weights, fps)
    curves = takes.mix_to_targets(weights_fps, mapping.channels)
    start = int(start_frame)
    count = len(next(iter(curves.values())))
    check_start_frame(start, count)
    take = Take(action="", start=start, end=start + count - 1, frames=count, fps=fps,
                mapped=len(mapping.channels), unmatched=list(mapping.unmatched))
    with Rollback() as rollback:
        key = _editable_key(obj, rollback)
        _keep_shape_key_values(scene, key, rollback)  # evaluating the new take writes them
        stem = os.path.splitext(os.path.basename(audio_path))[0] if audio_path else "take"
        action = _new_take_action(name or f"EmoTalk_{stem}", key, len(weights), meta, rollback)
        take.action = action.name
        slot = _write_curves(action, key, curves, start)
        _assign(key, action, slot, take, rollback)
        rig_writer.add_rig_part(obj, action, weights_fps, start, take, rollback)  # mixed: jaw/eyes as bones
        if head is not None:
            head_motion_writer.write_head(obj, action, head, start, scene, take, rollback, bone=head_bone)
        else:  # an earlier take's head motion must not go on playing under this one
            head_motion_writer.stop_head(obj, action, rollback)
        if audio_path:
            _add_sound(scene, audio_path, start, action, take, rollback)
        if set_range:
            _set_frame_range(scene, take.start, take.end, rollback)
    return take


def _checked_inputs(obj, weights, audio_path):
    """(weights as float32 (T, 52), the Key, the mapping), or an EmoTalkError before any change."""
    weights = check_motion(weights, "take")
    check_persistent(obj)
    key, mapping = retarget.check_mapped(obj)
    if audio_path and not os.path.isfile(audio_path):
        raise AudioError(f"{audio_path}: no such audio file")
    return weights, key, mapping


def _keep_shape_key_values(scene, key, rollback: Rollback) -> None:
    old_values = np.empty(len(key.key_blocks), np.float32)
    key.key_blocks.foreach_get("value", old_values)
    old_frame = scene.frame_current

    def restore():
        scene.frame_set(old_frame)
        key.key_blocks.foreach_set("value", old_values)
    rollback.on_undo(restore)


def _new_take_action(name: str, key, frames_30: int, meta: dict | None, rollback: Rollback):
    """A new Action tagged as a take for ``key`` (kept by a fake user when the next replaces it)."""
    action = rollback.new(bpy.data.actions, name)
    action[TAKE_TAG] = 1
    action[FRAMES_30_TAG] = frames_30  # lets read_take return exactly the take's length
    action[KEY_TAG] = key.name
    action[ORDER_TAG] = 1 + max((a.get(ORDER_TAG, 0) for a in bpy.data.actions if is_take(a)), default=0)
    if meta:
        action["emotalk"] = {k: v for k, v in meta.items() if v is not None}
    action.use_fake_user = True
    return action


def _write_curves(action, key, curves: dict[str, np.ndarray], start: int):
    """One linear F-curve per shape key, keyed in bulk from ``start``; returns the Action's slot."""
    fcurves, slot = compat.new_fcurves_for(action, "KEY", key.name)
    count = len(next(iter(curves.values())))
    co = np.empty(2 * count, np.float32)
    co[0::2] = np.arange(start, start + count, dtype=np.float32)
    interpolation = np.full(count, _LINEAR, np.int32)
    for shape_key, values in curves.items():
        fc = compat.new_fcurve(fcurves, _data_path(shape_key), group="EmoTalk")
        fc.keyframe_points.add(count)
        co[1::2] = values
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", interpolation)
        fc.update()
    return slot


def _assign(key, action, slot, take: Take, rollback: Rollback) -> None:
    """Make ``action`` the one that plays on ``key``, keeping whatever was there intact."""
    if key.animation_data is None:
        key.animation_data_create()
        rollback.on_undo(key.animation_data_clear)
    anim = key.animation_data
    old_action = anim.action
    if old_action is not None:
        if not is_take(old_action):
            take.replaced_action = old_action.name
            take.warnings.append(f"Action {old_action.name!r} was replaced, not changed: it is "
                                 "kept in the file (fake user)")
        rollback.set(old_action, use_fake_user=True)  # never let the artist's Action be purged on save
    old_slot = compat.assigned_slot(anim) if old_action is not None else None
    rollback.on_undo(lambda: compat.assign_action(anim, old_action, old_slot))
    compat.assign_action(anim, action, slot)


def _add_sound(scene, audio_path, start, action, take: Take, rollback: Rollback) -> None:
    """The take's audio as a sound strip at the start frame; earlier takes' strips are muted."""
    if not compat.has_audio():
        take.warnings.append("This Blender build has no audio support: no sound strip added")
        return
    if scene.sequence_editor is None:
        scene.sequence_editor_create()
        rollback.on_undo(scene.sequence_editor_clear)
    for other in compat.all_strips(scene):
        if other.get(TAKE_TAG) and not other.mute:
            rollback.set(other, mute=True)
    used = {s.channel for s in compat.all_strips(scene)}
    free = [c for c in range(1, MAX_CHANNELS + 1) if c not in used]
    if not free:
        raise SequencerFull(f"Scene {scene.name!r}: all {MAX_CHANNELS} Sequencer channels are in "
                            "use, no room for the take's sound")
    sounds_before = set(bpy.data.sounds)
    strip = compat.new_sound_strip(scene, os.path.basename(audio_path), os.path.abspath(audio_path),
                                   free[0], start)
    rollback.on_undo(lambda: _remove_strip(scene, strip, keep=sounds_before))
    strip[TAKE_TAG] = action.name
    action[SOUND_STRIP_TAG] = strip.name
    take.sound_strip = strip.name
    rollback.set(scene, sync_mode="AUDIO_SYNC")  # playback follows the sound, so the face stays on it


def _remove_strip(scene, strip, keep=()) -> None:
    """Remove a sound strip, and its sound when nothing else uses it (and it is not in ``keep``)."""
    sound = strip.sound
    compat.remove_strip(scene, strip)
    if sound is not None and sound not in keep and sound.users == 0:
        bpy.data.sounds.remove(sound)


def _set_frame_range(scene, start: int, end: int, rollback: Rollback) -> None:
    old_frame = scene.frame_current
    rollback.on_undo(lambda: scene.frame_set(old_frame))
    rollback.set(scene, frame_end=max(end, scene.frame_start))  # this order avoids start > end clamps
    rollback.set(scene, frame_start=start)
    rollback.set(scene, frame_end=end)
    scene.frame_set(start)


# --- reading a take back -------------------------------------------------------------------------
def read_take(obj, scene=None) -> np.ndarray:
    """The take playing on ``obj`` as (T, 52) float32 at 30 fps in the released order.

    Reads the F-curves as they are now (artist edits included), undoing each channel's gain;
    channels with no shape key, or no curve, are 0.
    """
    scene = scene or bpy.context.scene
    key = retarget.shape_keys_of(obj)
    action, curves = compat.playing_fcurves(key.animation_data)
    by_path = {fc.data_path: fc for fc in curves}
    if not by_path:
        raise MotionFileError(f"Object {obj.name!r} has no animated shape keys to export")
    first, last = _curve_range(by_path.values())
    fps = scene_fps(scene)
    count = action.get(FRAMES_30_TAG) or int(np.floor((last - first) * FPS / fps + 1e-6)) + 1
    frames = takes.source_frames(count, fps, start=first)
    out = np.zeros((count, NUM_BLENDSHAPES), np.float32)
    for name, (target, gain) in retarget.mapping_of(obj).channels.items():
        fc = by_path.get(_data_path(target))
        if fc is not None and gain != 0:
            out[:, INDEX[name]] = [fc.evaluate(f) / gain for f in frames]
    return out


def _curve_range(curves) -> tuple[float, float]:
    curves = list(curves)
    return min(fc.range()[0] for fc in curves), max(fc.range()[1] for fc in curves)


# --- switching between takes --------------------------------------------------------------------
def takes_of(obj) -> list:
    """The takes written for ``obj``'s shape keys (an armature's: its bones), oldest first."""
    if obj is not None and obj.type == "ARMATURE":
        from . import rig_writer

        return rig_writer.takes_of(obj)
    key = retarget.shape_keys_of(obj, required=False) if obj is not None else None
    if key is None:
        return []
    return sorted((a for a in bpy.data.actions if is_take(a) and a.get(KEY_TAG) == key.name),
                  key=lambda a: a.get(ORDER_TAG, 0))


def take_strip(scene, action):
    """The sound strip written with the take ``action``, or None."""
    return next((s for s in compat.all_strips(scene) if s.get(TAKE_TAG) == action.name), None)


def use_take(obj, action, scene=None) -> Take:
    """Make an earlier take play again: assigned to the shape keys, its sound strip the one heard,
    the frame range set to it. An artist's Action it replaces is kept (fake user), as on generate."""
    from . import rig_writer

    if obj is not None and obj.type == "ARMATURE":
        return rig_writer.use_take(obj, action, scene=scene)
    scene = scene or bpy.context.scene
    key = retarget.shape_keys_of(obj)
    if not is_take(action):
        raise EmoTalkError(f"Action {action.name!r} is not an EmoTalk take")
    slot = compat.find_slot(action, "KEY", action.get(KEY_TAG))
    curves = compat.fcurves_of(action, slot)
    if not curves:
        raise EmoTalkError(f"Take {action.name!r} has no curves for shape keys")
    start, end = (int(round(v)) for v in _curve_range(curves))
    take = Take(action=action.name, start=start, end=end, frames=end - start + 1,
                fps=scene_fps(scene), mapped=len(curves))
    with Rollback() as rollback:
        _assign(key, action, slot, take, rollback)
        rig_writer.use_rig_part(obj, action, take, rollback)
        head_motion_writer.use_head(action, take, rollback)
        head_motion_writer.stop_head(obj, action, rollback)  # a take without head motion: the head rests
        chosen = take_strip(scene, action)
        for strip in compat.all_strips(scene):
            if strip.get(TAKE_TAG):
                rollback.set(strip, mute=strip != chosen)
        take.sound_strip = chosen.name if chosen is not None else None
        _set_frame_range(scene, start, end, rollback)
    return take


def delete_take(obj, action, scene=None) -> None:
    """Remove a take, its sound strip and (when unused) its sound. If it was playing, the shape
    keys are left with no Action; an artist's Action is never deleted here."""
    from . import rig_writer

    if obj is not None and obj.type == "ARMATURE":
        return rig_writer.delete_take(obj, action, scene=scene)
    scene = scene or bpy.context.scene
    if not is_take(action):
        raise EmoTalkError(f"Action {action.name!r} is not an EmoTalk take: not deleted")
    key = retarget.shape_keys_of(obj, required=False)
    anim = key.animation_data if key is not None else None
    with Rollback() as rollback:
        if anim is not None and anim.action == action:
            slot = compat.assigned_slot(anim)
            compat.assign_action(anim, None, None)
            rollback.on_undo(lambda: compat.assign_action(anim, action, slot))
        strip = take_strip(scene, action)
        if strip is not None:
            _remove_strip(scene, strip)
        rig_writer.delete_parts(action, rollback)  # rig bones back at rest, 4.2 companions
        head_motion_writer.delete_head(action, rollback)
        bpy.data.actions.remove(action)
