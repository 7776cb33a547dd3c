"""Author Rigify's face poses for the 52 ARKit channels: rigs/rigify_face_poses.json.

    .venv/bin/python scripts/make_rigify_face_poses.py [--out rigs/rigify_face_poses.json]

Generates a Rigify rig from the human meta-rig of the Rigify bundled with Blender (bpy module), then
writes each channel's pose as moves of the face controls described in the character's own terms
(up, forward, toward the character's left, in fractions of measured gaps such as the open eye's),
converted to each bone's local rest space, which is what a pose Action keys. The left side is
authored, the right mirrored. Deterministic: the same Rigify gives the same file.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import bpy
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emotalk_blender.blender import rigify_face  # noqa: E402
from emotalk_blender.engine import atomic  # noqa: E402
from emotalk_blender.engine.arkit import ARKIT_NAMES, mirror  # noqa: E402
from emotalk_blender.engine.motion.pose_blend import rotvec_to_quat  # noqa: E402

# Rig axes (the Rigify meta-rig faces -Y, +X is the character's left, +Z up).
LEFT, UP, FWD = np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), np.array([0, -1.0, 0])
MM = 0.001  # the human meta-rig is in metres, about 1.8 m tall


def _lid_gap(rig, side: str) -> float:
    """The open eye's gap between the middle upper and lower lid controls."""
    top, bottom = (rig.data.bones[f"lid.{tb}.{side}.002"].head_local for tb in "TB")
    return float(top.z - bottom.z)


def _eye_distance(rig, side: str) -> float:
    """How far the eye's aim target is in front of the eye (its lever arm)."""
    return float((rig.data.bones[f"master_eye.{side}"].head_local - rig.data.bones[f"eye.{side}"].head_local).length)


def left_moves(rig) -> dict[str, dict[str, dict]]:
    """Per channel (the Left one of sided pairs, or a centre one), per bone: {"move": world vector,
    "turn": world rotation vector} on the character's left side."""
    gap = _lid_gap(rig, "L")
    look = _eye_distance(rig, "L")
    side = np.tan(np.radians(25)) * look  # eye target moves for a 25-degree look sideways, 20 up/down
    vert = np.tan(np.radians(20)) * look

    def mv(*pairs):
        return {bone: {"move": vec} for bone, vec in pairs}

    lids_top = ("lid.T.L.001", "lid.T.L.002", "lid.T.L.003")
    lids_bottom = ("lid.B.L.001", "lid.B.L.002", "lid.B.L.003")
    return {
        "eyeBlinkLeft": mv(*((b, -0.95 * gap * UP * f) for b, f in zip(lids_top, (0.75, 1.0, 0.8))),
                           *((b, 0.05 * gap * UP) for b in lids_bottom)),
        "eyeSquintLeft": mv(*((b, 0.35 * gap * UP) for b in lids_bottom), ("lid.T.L.002", -0.15 * gap * UP)),
        "eyeWideLeft": mv(*((b, 0.35 * gap * UP) for b in lids_top)),
        "eyeLookUpLeft": mv(("eye.L", vert * UP)),
        "eyeLookDownLeft": mv(("eye.L", -vert * UP)),
        "eyeLookOutLeft": mv(("eye.L", side * LEFT)),
        "eyeLookInLeft": mv(("eye.L", -side * LEFT)),
        "jawOpen": {"jaw_master": {"turn": np.radians(22) * LEFT}},  # about +X: the chin goes down and back
        "jawForward": mv(("jaw_master", 8 * MM * FWD)),
        "jawLeft": mv(("jaw_master", 8 * MM * LEFT)),
        "mouthClose": mv(("lip.T", -4 * MM * UP), ("lip.B", 14 * MM * UP)),
        "mouthFunnel": mv(("lips.L", 9 * MM * -LEFT + 4 * MM * FWD), ("lips.R", 9 * MM * LEFT + 4 * MM * FWD),
                          ("lip.T", 3 * MM * UP + 7 * MM * FWD), ("lip.B", -3 * MM * UP + 7 * MM * FWD)),
        "mouthPucker": mv(("lips.L", 13 * MM * -LEFT + 6 * MM * FWD), ("lips.R", 13 * MM * LEFT + 6 * MM * FWD),
                          ("lip.T", 9 * MM * FWD), ("lip.B", 9 * MM * FWD)),
        "mouthLeft": mv(*((b, 8 * MM * LEFT) for b in ("lips.L", "lips.R", "lip.T", "lip.B"))),
        "mouthSmileLeft": mv(("lips.L", 8 * MM * UP + 6 * MM * LEFT - 3 * MM * FWD),
                             ("cheek.B.L.001", 4 * MM * UP), ("cheek.T.L.001", 2 * MM * UP)),
        "mouthFrownLeft": mv(("lips.L", -7 * MM * UP + 1 * MM * LEFT)),
        "mouthDimpleLeft": mv(("lips.L", 5 * MM * LEFT - 4 * MM * FWD)),
        "mouthStretchLeft": mv(("lips.L", 6 * MM * LEFT - 5 * MM * UP)),
        "mouthRollLower": mv(("lip.B", -6 * MM * FWD + 2 * MM * UP)),
        "mouthRollUpper": mv(("lip.T", -6 * MM * FWD - 2 * MM * UP)),
        "mouthShrugLower": mv(("lip.B", 5 * MM * UP + 2 * MM * FWD), ("chin", 4 * MM * UP)),
        "mouthShrugUpper": mv(("lip.T", 4 * MM * UP + 1 * MM * FWD)),
        "mouthPressLeft": mv(("lip.T.L.001", -2 * MM * UP), ("lip.B.L.001", 2 * MM * UP)),
        "mouthLowerDownLeft": mv(("lip.B.L.001", -6 * MM * UP)),
        "mouthUpperUpLeft": mv(("lip.T.L.001", 6 * MM * UP)),
        "browDownLeft": mv(("brow.T.L.001", -5 * MM * UP), ("brow.T.L.002", -6 * MM * UP),
                           ("brow.T.L.003", -6 * MM * UP - 2 * MM * LEFT)),
        "browInnerUp": mv(("brow.T.L.003", 9 * MM * UP), ("brow.T.R.003", 9 * MM * UP),
                          ("brow.T.L.002", 4 * MM * UP), ("brow.T.R.002", 4 * MM * UP)),
        "browOuterUpLeft": mv(("brow.T.L.001", 9 * MM * UP), ("brow.T.L", 5 * MM * UP)),
        "cheekPuff": mv(("cheek.B.L.001", 7 * MM * LEFT + 3 * MM * FWD),
                        ("cheek.B.R.001", -7 * MM * LEFT + 3 * MM * FWD)),
        "cheekSquintLeft": mv(("cheek.T.L.001", 5 * MM * UP), ("lid.B.L.002", 0.15 * gap * UP)),
        "noseSneerLeft": mv(("nose.L.001", 4 * MM * UP), ("nose.L", 2 * MM * UP), ("brow.T.L.003", -2 * MM * UP)),
        "tongueOut": mv(("tongue_master", 25 * MM * FWD - 5 * MM * UP)),
    }


def _mirror_bone(name: str) -> str:
    return name.replace(".L", ".\0").replace(".R", ".L").replace(".\0", ".R")


def _mirrored(bones: dict) -> dict:
    flip = np.array([-1.0, 1, 1])
    out = {}
    for bone, move in bones.items():
        out[_mirror_bone(bone)] = {k: (v * flip if k == "move" else v * -flip) for k, v in move.items()}
    return out  # a rotation vector (an axial vector) mirrors as (x, -y, -z)


def world_moves(rig) -> dict[str, dict]:
    """All 52 channels: the authored ones and their mirror images."""
    left = left_moves(rig)
    out = {}
    for name in ARKIT_NAMES:
        if name in left:
            out[name] = left[name]
        elif mirror(name) in left:
            out[name] = _mirrored(left[mirror(name)])
    missing = sorted(set(ARKIT_NAMES) - set(out))
    if missing:
        raise SystemExit(f"no pose authored for: {', '.join(missing)}")
    return out


def to_local(rig, moves: dict) -> dict:
    """World moves -> bone-local pose values (what ``pose.bones[...]`` keys hold)."""
    out = {}
    for bone, move in moves.items():
        rest = np.array(rig.data.bones[bone].matrix_local.to_3x3())  # bone axes in rig space
        props = {}
        if "move" in move:
            props["location"] = [round(float(v), 6) for v in rest.T @ move["move"]]
        if "turn" in move:
            props["rotation_quaternion"] = [round(float(v), 6) for v in rotvec_to_quat(rest.T @ move["turn"])]
        out[bone] = props
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "rigs" / "rigify_face_poses.json"))
    args = parser.parse_args(argv)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = rigify_face.generate_rig()
    channels = {name: to_local(rig, moves) for name, moves in world_moves(rig).items()}
    data = {"about": "Poses of the face of a Rigify rig generated from Rigify's human meta-rig, one per ARKit "
                     "channel: each bone's local transform at weight 1 relative to rest (location in metres, "
                     "rotation as a (w, x, y, z) quaternion). Made by scripts/make_rigify_face_poses.py with "
                     f"Blender {bpy.app.version_string}.",
            "channels": channels}
    lines = [f" {json.dumps(name)}: {json.dumps(bones, sort_keys=True)}" for name, bones in sorted(channels.items())]
    text = f'{{"about": {json.dumps(data["about"])},\n"channels": {{\n' + ",\n".join(lines) + "\n}}\n"
    json.loads(text)  # one line per channel, still JSON
    with atomic.atomic_path(Path(args.out)) as tmp:
        Path(tmp).write_text(text)
    print(f"{args.out}: {len(channels)} channels, {sum(len(b) for b in channels.values())} bone poses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
