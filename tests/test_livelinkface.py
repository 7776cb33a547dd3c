"""Live Link Face CSV and released .npy: round trips and the real iPhone take."""
import csv
from pathlib import Path

import numpy as np
import pytest

from emotalk_blender.engine import arkit
from emotalk_blender.engine.formats import livelinkface, motion_io
from emotalk_blender.engine.errors import EmoTalkError

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "livelinkface" / "alex_rom_3.csv"
if not FIXTURE.exists():  # CI clones main with shared/ beside it
    FIXTURE = Path("/work/shared/data/livelinkface/alex_rom_3.csv")


def _motion(t=47, seed=3):
    return np.random.default_rng(seed).random((t, 52), dtype=np.float32)


def test_csv_round_trip(tmp_path):
    weights = _motion()
    out = livelinkface.write_csv(tmp_path / "take.csv", weights)
    back = livelinkface.read_csv(out)
    assert back.shape == weights.shape
    np.testing.assert_allclose(back, weights, atol=1e-9)


def test_csv_layout_is_apple_order_pascal_61_values(tmp_path):
    weights = np.zeros((3, 52), np.float32)
    weights[:, arkit.INDEX["jawOpen"]] = 0.5
    out = livelinkface.write_csv(tmp_path / "take.csv", weights)
    rows = list(csv.reader(open(out)))
    header = rows[0]
    assert header[:4] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft", "EyeLookDownLeft"]
    assert len(header) == 63 and rows[1][1] == "61"
    assert len(livelinkface.VALUE_COLUMNS) == 61
    assert header[2:54] == [arkit.pascal(n) for n in arkit.APPLE_ORDER]
    assert float(rows[1][header.index("JawOpen")]) == 0.5
    # 60 fps timecode like the iPhone: two timecode frames per 30 fps row.
    assert [r[0] for r in rows[1:]] == ["00:00:00:00.000", "00:00:00:02.000", "00:00:00:04.000"]


def test_real_fixture_60fps_timecode_imports_at_30fps():
    weights = livelinkface.read_csv(FIXTURE)
    rows = list(csv.reader(open(FIXTURE)))
    header = rows[0]
    # The take spans 13:13:04:31.652 .. 13:15:18:54.561 on a 60 fps timecode: about 134.4 s.
    first_row = [float(v) for v in rows[1][2:54]]
    duration = 134 + (54.561 - 31.652) / 60
    assert weights.shape == (int(duration * 30) + 1, 52)
    # Values land on the right channel (name mapping, not position).
    for name in ("EyeBlinkLeft", "JawOpen", "TongueOut", "BrowInnerUp"):
        col = header.index(name)
        assert weights[0, arkit.INDEX[name[0].lower() + name[1:]]] == pytest.approx(
            float(rows[1][col]), abs=1e-6)
    released = [arkit.APPLE_ORDER.index(n) for n in arkit.ARKIT_NAMES]
    assert np.allclose(weights[0], np.array(first_row)[released], atol=1e-6)
    # Rows come every 2 timecode frames (1/30 s), so frame k of the import is row k+1's data
    # up to tiny sub-frame drift: jaw open at 1 s matches row 31 closely.
    jaw = header.index("JawOpen")
    assert weights[30, arkit.INDEX["jawOpen"]] == pytest.approx(float(rows[31][jaw]), abs=0.02)


def test_npy_round_trip_and_errors(tmp_path):
    weights = _motion(12)
    path = motion_io.save_motion_npy(tmp_path / "m.npy", weights)
    np.testing.assert_array_equal(motion_io.load_motion_npy(path), weights)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npy"]  # written whole, no partial left
    np.save(tmp_path / "bad.npy", np.zeros((5, 51), np.float32))
    with pytest.raises(EmoTalkError, match=r"bad\.npy.*\(T, 52\)"):
        motion_io.load_motion_npy(tmp_path / "bad.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(EmoTalkError, match="junk.npy"):
        motion_io.load_motion_npy(tmp_path / "junk.npy")


def test_bad_csv_names_file_and_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Timecode,BlendShapeCount,EyeBlinkLeft\n00:00:00:00.000,61,0.1\n")
    with pytest.raises(EmoTalkError, match=r"bad\.csv: missing blendshape columns .*JawOpen"):
        livelinkface.read_csv(bad)
    good = livelinkface.write_csv(tmp_path / "g.csv", _motion(4))
    lines = good.read_text().splitlines()
    lines[2] = "nonsense" + lines[2][lines[2].index(","):]
    (tmp_path / "tc.csv").write_text("\n".join(lines))
    with pytest.raises(EmoTalkError, match=r"tc\.csv: row 3: bad timecode"):
        livelinkface.read_csv(tmp_path / "tc.csv")
