"""Live Link Face CSV head and eye rotation columns (engine/formats/llf_rotations.py): units and signs
checked on the real fixture, the head round trip, files without head rotation."""
import csv
from pathlib import Path

import numpy as np

from emotalk_blender.engine.direction import head_motion as hm
from emotalk_blender.engine.formats import livelinkface
from emotalk_blender.engine.arkit import INDEX
from emotalk_blender.engine.audio.decoding import load_audio
from emotalk_blender.engine.direction.gaze import add_gaze
from emotalk_blender.engine.formats.llf_rotations import read_head, rotation_columns

FIXTURE = Path("/work/shared/data/livelinkface/alex_rom_3.csv")


def _columns(path, names):
    rows = list(csv.reader(open(path, newline="")))
    idx = [rows[0].index(n) for n in names]
    return np.array([[float(r[i]) for i in idx] for r in rows[1:]])


def test_eye_columns_match_the_apps_units_and_signs():
    """From the fixture's own blendshapes, our eye columns agree with the ones the app wrote."""
    _, raw = livelinkface.read_csv_timed(FIXTURE)
    ours = rotation_columns(raw)
    theirs = _columns(FIXTURE, livelinkface.ROTATION_COLUMNS)
    for col in (3, 4, 6, 7):  # yaw and pitch of each eye
        r = np.corrcoef(ours[:, col], theirs[:, col])[0, 1]
        scale = np.polyfit(ours[:, col], theirs[:, col], 1)[0]
        assert r > 0.7 and 0.6 < scale < 1.6, (livelinkface.ROTATION_COLUMNS[col], r, scale)  # radians, same sign
    assert read_head(FIXTURE) is None  # the app wrote no head rotation in this take


def test_head_and_eyes_round_trip(tmp_path, speech_wav):
    audio = load_audio(speech_wav)
    head = hm.head_motion(audio, seed=1)
    weights = add_gaze(np.full((len(head), 52), 0.1, np.float32), 0.8, seed=2, head=head)
    path = livelinkface.write_csv(tmp_path / "take.csv", weights, head=head)
    assert np.allclose(livelinkface.read_csv(path), weights, atol=1e-6)
    assert np.allclose(read_head(path), head, atol=1e-5)
    cols = _columns(path, ("HeadYaw", "HeadPitch", "HeadRoll"))
    assert np.allclose(cols[:, 0], -np.radians(head[:, 1]), atol=1e-8)  # radians, > 0 to the character's right
    eyes = _columns(path, ("LeftEyeYaw",))[:, 0]
    look_right = weights[:, INDEX["eyeLookInLeft"]] - weights[:, INDEX["eyeLookOutLeft"]]
    assert np.corrcoef(eyes, look_right)[0, 1] > 0.99
    # No head: the head columns are zero and read back as no head motion.
    plain = livelinkface.write_csv(tmp_path / "plain.csv", weights)
    assert not _columns(plain, ("HeadYaw", "HeadPitch", "HeadRoll")).any() and read_head(plain) is None
