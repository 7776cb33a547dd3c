"""Procedural gaze for the eyeLook channels, which the network leaves near zero (numpy only).

Gaze is a sequence of fixations of random length joined by saccades whose duration follows the
main sequence (about 21 ms + 2.2 ms per degree), with slow drift during each fixation. Both eyes
look the same way (looking to the character's left is eyeLookOutLeft + eyeLookInRight). Gaze
runs on an eyes-open clock: while the lids are more than half closed it holds still, and it goes
on from where it was when they open. Everything comes from the seed.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..arkit import BLINK_CHANNELS, INDEX
from ..constants import FPS
from ..errors import EmoTalkError

LOOK_RANGE_DEG = 30.0  # an eyeLook weight of 1 turns the eye this far (ARKit's look shapes, roughly)
RADIUS_DEG = 15.0  # fixations stay within this far from straight ahead (conversation)
VERTICAL = 0.5  # vertical saccades are smaller than horizontal ones
CENTRE_PULL = 0.3  # each saccade starts from this fraction of the way back to centre
AMPLITUDE_GAMMA = (2.0, 3.0)  # shape, scale (degrees): mostly small saccades, mean 6 degrees
FIXATION_GAMMA = (3.0, 0.3)  # shape, scale (seconds): mean 0.9 s
MIN_FIXATION_S = 0.2
DRIFT_SD_DEG, DRIFT_TAU_S, DRIFT_SMOOTH_S = 0.4, 1.0, 0.2  # slow drift: a smoothed Ornstein-Uhlenbeck process
HOLD_BLINK = 0.5  # gaze holds while either eyeBlink is above this

# (yaw > 0: the character's left; pitch > 0: up) -> channels, per sign of the direction
_LEFT = (INDEX["eyeLookOutLeft"], INDEX["eyeLookInRight"])
_RIGHT = (INDEX["eyeLookInLeft"], INDEX["eyeLookOutRight"])
_UP = (INDEX["eyeLookUpLeft"], INDEX["eyeLookUpRight"])
_DOWN = (INDEX["eyeLookDownLeft"], INDEX["eyeLookDownRight"])
EYE_LOOK = tuple(sorted(_LEFT + _RIGHT + _UP + _DOWN))


class GazeError(EmoTalkError):
    """A gaze control outside its range."""


def check_strength(strength) -> float:
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not math.isfinite(strength) \
            or not 0.0 <= strength <= 1.0:
        raise GazeError(f"gaze must lie in 0..1 (0 = off), got {strength}")
    return float(strength)


def _min_jerk(n: int) -> np.ndarray:
    """Fractions of the way a saccade of ``n`` frames has gone at each of its frames (last = 1)."""
    tau = np.arange(1, n + 1) / n
    return 10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5


def gaze_path(frames: int, seed: int | None, saccades: list | None = None) -> np.ndarray:
    """(frames, 2) yaw and pitch in degrees, starting straight ahead: fixations, saccades and drift.

    ``saccades``, when given, receives (first frame, frame count) of each saccade."""
    rng = np.random.default_rng(seed)
    out = np.zeros((frames, 2))
    pos = np.zeros(2)
    t = 0
    while t < frames:
        fix = max(round(MIN_FIXATION_S * FPS), round(rng.gamma(*FIXATION_GAMMA) * FPS))
        out[t:t + fix] = pos
        t += fix
        if t >= frames:
            break
        amp = float(np.clip(rng.gamma(*AMPLITUDE_GAMMA), 0.5, 2 * RADIUS_DEG))
        angle = rng.uniform(0, 2 * np.pi)
        target = (1 - CENTRE_PULL) * pos + amp * np.array([np.cos(angle), VERTICAL * np.sin(angle)])
        norm = float(np.hypot(*target))
        if norm > RADIUS_DEG:
            target *= RADIUS_DEG / norm
        moved = float(np.hypot(*(target - pos)))
        n = max(1, math.ceil((0.021 + 0.0022 * moved) * FPS))  # the main sequence
        if saccades is not None:
            saccades.append((t, n))
        seg = pos + _min_jerk(n)[:, None] * (target - pos)
        out[t:t + n] = seg[:frames - t]
        t += n
        pos = target
    # Drift: AR(1) steps of an Ornstein-Uhlenbeck process with stationary SD DRIFT_SD_DEG.
    a = math.exp(-1.0 / (DRIFT_TAU_S * FPS))
    noise = rng.standard_normal((frames, 2)) * DRIFT_SD_DEG * math.sqrt(1 - a * a)
    b = math.exp(-1.0 / (DRIFT_SMOOTH_S * FPS))  # and low-passed, so that it wanders rather than jitters
    drift, slow = np.zeros(2), np.zeros(2)
    for i in range(frames):
        drift = a * drift + noise[i]
        slow = b * slow + (1 - b) * drift
        out[i] += slow
    return out


def held_frames(weights: np.ndarray, threshold: float = HOLD_BLINK) -> np.ndarray:
    """(T,) bool: frames where either eyelid is more than ``threshold`` closed."""
    return np.asarray(weights)[:, BLINK_CHANNELS].max(axis=1) > threshold


def hold_index(held: np.ndarray) -> np.ndarray:
    """(T,) for each frame the latest eyes-open frame at or before it (the first open one before any)."""
    frames = np.arange(len(held))
    last_open = np.maximum.accumulate(np.where(~held, frames, -1))
    first = int(np.argmax(~held)) if (~held).any() else 0
    return np.where(last_open < 0, first, last_open)


def hold(path: np.ndarray, held: np.ndarray) -> np.ndarray:
    """``path`` laid out on the eyes-open frames only: held frames repeat the last open value."""
    out = np.zeros((len(held), path.shape[1]))
    open_idx = np.flatnonzero(~held)
    out[open_idx] = path[:open_idx.size]
    return out[hold_index(held)]


def look_weights(yaw_pitch: np.ndarray, strength: float) -> np.ndarray:
    """(T, 2) degrees -> (T, 8) eyeLook weights in EYE_LOOK order, each within 0..1."""
    units = np.clip(yaw_pitch * (strength / LOOK_RANGE_DEG), -1.0, 1.0)
    w = np.zeros((len(units), len(INDEX)), np.float32)
    yaw, pitch = units[:, 0], units[:, 1]
    w[:, _LEFT] = np.maximum(yaw, 0)[:, None]
    w[:, _RIGHT] = np.maximum(-yaw, 0)[:, None]
    w[:, _UP] = np.maximum(pitch, 0)[:, None]
    w[:, _DOWN] = np.maximum(-pitch, 0)[:, None]
    return w[:, EYE_LOOK]


def counter_rotation(head_yaw_pitch: np.ndarray, saccades) -> np.ndarray:
    """(T, 2) degrees the eyes turn to hold a fixation while the head moves (``head_yaw_pitch``:
    (T, 2), yaw > 0 to the character's left, pitch > 0 up, as the gaze): the head's change since
    the fixation began, negated. Each saccade re-fixates, moving the reference to where the head
    is when it lands, along the saccade's own minimum-jerk course."""
    head = np.asarray(head_yaw_pitch, np.float64)
    total = len(head)
    ref = np.empty_like(head)
    cur = head[0] if total else np.zeros(2)
    done = 0
    for t, n in saccades:
        if t >= total:
            break
        ref[done:t] = cur
        new = head[min(t + n - 1, total - 1)]
        ref[t:t + n] = (cur + _min_jerk(n)[:, None] * (new - cur))[:total - t]
        cur, done = new, t + n
    ref[done:] = cur
    return ref - head


def add_gaze(weights: np.ndarray, strength: float, seed: int | None = 0, head: np.ndarray | None = None) -> np.ndarray:
    """``weights`` with procedural gaze added to the 8 eyeLook channels (clipped to 0..1).

    The eyeLook channels hold still on frames where an eyelid is more than half closed (read from
    ``weights``, so the blinks go in first). ``head``: the take's (T, 3) head motion (pitch, yaw,
    roll in degrees, engine/direction/head_motion.py); the eyes then counter-rotate to hold each fixation
    while the head turns, and re-fixate with the next saccade.
    """
    strength = check_strength(strength)
    out = np.array(weights, dtype=np.float32, copy=True)
    if strength == 0.0 or out.shape[0] == 0:
        return out
    held = held_frames(out)
    saccades: list = []
    path = hold(gaze_path(int((~held).sum()), seed, saccades), held)
    if head is None:
        look = look_weights(path, strength)
    else:  # the counter-rotation is whole at any gaze strength: it keeps the eyes on their target
        open_idx = np.flatnonzero(~held)
        saccades = [(int(open_idx[t]), n) for t, n in saccades if t < open_idx.size]
        head = np.asarray(head, np.float64)[:len(out)]
        look = look_weights(path * strength + counter_rotation(head[:, [1, 0]], saccades), 1.0)
    look = np.clip(out[:, EYE_LOOK] + look, 0.0, 1.0)
    out[:, EYE_LOOK] = look[hold_index(held)]  # the network's own eyeLook holds too
    return out
