"""Generate from audio in real Blender: the scene plays exactly the engine's take, in sync."""
import bpy
import numpy as np
import pytest

from blender_support import HAS_AUDIO, arkit_mesh, expected_value, mesh_with_keys, needs_audio, snapshot
from emotalk_blender.blender import compat, scene_writer
from emotalk_blender.engine.jobs import GenerateJob
from emotalk_blender.engine import pipeline
from emotalk_blender.engine.arkit import ARKIT_NAMES, INDEX
from emotalk_blender.engine.errors import EmoTalkError

pytest_plugins = ["blender_support"]  # the `blender` fixture

_engine_cache = {}


def engine_take(audio, checkpoint, **kw):
    """The engine's own output for the same audio and settings (what the scene must play)."""
    key = (str(audio), str(checkpoint), tuple(sorted(kw.items())))
    if key not in _engine_cache:
        _engine_cache[key] = pipeline.generate(
            str(audio), pipeline.GenerateSettings(checkpoint=str(checkpoint), **kw))
    return _engine_cache[key]


def generate(audio, checkpoint, **kw):
    # ('EXEC_DEFAULT', True): push an undo step as a click in the UI does (Python calls do not).
    return bpy.ops.emotalk.generate("EXEC_DEFAULT", True, filepath=str(audio),
                                    checkpoint=str(checkpoint), **kw)


def test_scene_plays_engine_output_at_30fps(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    result = generate(speech_wav, tiny_checkpoint, level=0.6, person=5, seed=7, start_frame=10)
    assert result == {"FINISHED"}
    take = engine_take(speech_wav, tiny_checkpoint, level=0.6, person=5, seed=7)
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (10, 10 + len(take) - 1)
    key = obj.data.shape_keys
    action = key.animation_data.action
    assert scene_writer.is_take(action)
    assert action["emotalk"]["seed"] == 7 and action["emotalk"]["person"] == 5
    for k in (0, 1, len(take) // 3, len(take) // 2, len(take) - 1):
        scene.frame_set(10 + k)
        for name in ("jawOpen", "eyeBlinkLeft", "mouthSmileRight", "browInnerUp", "tongueOut"):
            assert key.key_blocks[name].value == pytest.approx(
                expected_value(obj, name, take[k, INDEX[name]]), abs=1e-6), (k, name)
    # Blinks follow the seed: a different seed moves them, the same seed reproduces them.
    assert not np.allclose(take[:, INDEX["eyeBlinkLeft"]],
                           engine_take(speech_wav, tiny_checkpoint, level=0.6, person=5,
                                       seed=8)[:, INDEX["eyeBlinkLeft"]])
    assert "52/52 channels" in scene.emotalk.last_take


def test_defaults_equal_the_cli_defaults(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    assert generate(speech_wav, tiny_checkpoint) == {"FINISHED"}
    take = engine_take(speech_wav, tiny_checkpoint)  # GenerateSettings() defaults = the CLI's
    scene = bpy.context.scene
    assert scene.frame_start == 1
    scene.frame_set(1 + 20)
    assert obj.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(
        expected_value(obj, "jawOpen", take[20, INDEX["jawOpen"]]), abs=1e-6)


@needs_audio
def test_sound_strip_at_the_start_frame(blender, speech_wav, tiny_checkpoint):
    arkit_mesh()
    assert generate(speech_wav, tiny_checkpoint, start_frame=25) == {"FINISHED"}
    take = engine_take(speech_wav, tiny_checkpoint)
    scene = bpy.context.scene
    strips = [s for s in compat.all_strips(scene) if s.type == "SOUND"]
    assert len(strips) == 1
    strip = strips[0]
    assert compat.strip_start(strip) == 25
    assert bpy.path.abspath(strip.sound.filepath) == str(speech_wav)
    # The sound lasts as long as the take (T = ceil(N/16000*30) frames).
    assert abs(compat.strip_duration(strip) - len(take)) <= 1
    assert scene.sync_mode == "AUDIO_SYNC"


def test_24fps_scene_stays_in_sync(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh(fps=24)
    assert generate(speech_wav, tiny_checkpoint, start_frame=1) == {"FINISHED"}
    take = engine_take(speech_wav, tiny_checkpoint)
    scene = bpy.context.scene
    duration = (len(take) - 1) / 30
    # The last scene frame reaches the end of the take: the face ends with the sound.
    assert scene.frame_end - 1 == int(np.ceil(duration * 24 - 1e-9))
    key = obj.data.shape_keys
    for f in (0, 7, 24, 37, scene.frame_end - 2):
        scene.frame_set(1 + f)
        t30 = f * 30 / 24  # scene frame f is at f/24 s, i.e. 30 fps frame f*30/24
        want = np.interp(t30, np.arange(len(take)), take[:, INDEX["jawOpen"]])
        assert key.key_blocks["jawOpen"].value == pytest.approx(
            expected_value(obj, "jawOpen", want), abs=1e-5), f
    if HAS_AUDIO:
        strip = next(iter(compat.all_strips(scene)))
        assert abs(compat.strip_duration(strip) - duration * 24) <= 1.5


def test_bad_audio_is_a_report_and_changes_nothing(blender, tmp_path, tiny_checkpoint):
    arkit_mesh()
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    before = snapshot()
    with pytest.raises(RuntimeError) as err:  # bpy turns an operator's ERROR report into this
        generate(bad, tiny_checkpoint)
    message = str(err.value)
    assert "notes.wav" in message and "Traceback" not in message
    assert snapshot() == before


def test_missing_shape_keys_is_a_report(blender, speech_wav, tiny_checkpoint):
    me = bpy.data.meshes.new("plain")
    obj = bpy.data.objects.new("plain", me)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    before = snapshot()
    with pytest.raises(RuntimeError, match="'plain' has no shape keys") as err:
        generate(speech_wav, tiny_checkpoint)
    assert "Traceback" not in str(err.value)
    assert snapshot() == before


def test_failure_while_writing_rolls_everything_back(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    # A previous take exists; a take that fails half-way must disturb nothing.
    assert generate(speech_wav, tiny_checkpoint) == {"FINISHED"}
    weights = engine_take(speech_wav, tiny_checkpoint)
    before = snapshot()
    # Past Blender's last frame: refused before any change (a failure half-way through the write:
    # test_full_sequencer_is_an_error_and_rolls_back).
    with pytest.raises(EmoTalkError, match="past Blender's last frame 1048574"):
        scene_writer.write_take(obj, weights, start_frame=2**40, audio_path=str(speech_wav))
    assert snapshot() == before
    with pytest.raises(EmoTalkError, match="gone.wav: no such audio file"):
        scene_writer.write_take(obj, weights, audio_path=str(speech_wav) + ".gone.wav")
    assert snapshot() == before


@needs_audio
def test_full_sequencer_is_an_error_and_rolls_back(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    scene = bpy.context.scene
    editor = scene.sequence_editor_create()
    for channel in range(1, scene_writer.MAX_CHANNELS + 1):
        editor.strips.new_effect(name=f"c{channel}", type="COLOR", channel=channel,
                                 frame_start=1, length=1)
    before = snapshot()
    with pytest.raises(RuntimeError, match="Sequencer channels are in use") as err:
        generate(speech_wav, tiny_checkpoint)
    assert "Traceback" not in str(err.value)
    assert snapshot() == before
    assert obj.data.shape_keys.animation_data is None


def test_cancel_leaves_scene_unchanged(blender, long_speech_wav, tiny_checkpoint):
    arkit_mesh()
    before = snapshot()
    job = GenerateJob(str(long_speech_wav),
                      pipeline.GenerateSettings(checkpoint=str(tiny_checkpoint))).start()
    job.cancel()
    assert job.wait(timeout=120) == "cancelled"
    assert job.result is None or job.cancelled
    assert snapshot() == before


def test_artists_action_is_never_overwritten(blender, speech_wav, tiny_checkpoint):
    obj = arkit_mesh()
    key = obj.data.shape_keys
    kb = key.key_blocks["jawOpen"]
    kb.value = 0.25
    kb.keyframe_insert("value", frame=1)
    kb.value = 0.75
    kb.keyframe_insert("value", frame=50)
    artist = key.animation_data.action
    artist.name = "ArtistJaw"
    assert generate(speech_wav, tiny_checkpoint) == {"FINISHED"}
    assert key.animation_data.action.name != "ArtistJaw"
    kept = bpy.data.actions["ArtistJaw"]
    assert kept.use_fake_user and not scene_writer.is_take(kept)
    curves = compat.fcurves_of(kept, compat.find_slot(kept, "KEY"))
    points = [tuple(p.co) for p in curves[0].keyframe_points]
    assert points == [(1.0, 0.25), (50.0, 0.75)]


def test_each_generate_is_a_new_take_and_undo_removes_one(blender, speech_wav, tiny_checkpoint):
    arkit_mesh()
    bpy.ops.ed.undo_push(message="before takes")
    assert generate(speech_wav, tiny_checkpoint, seed=1) == {"FINISHED"}
    assert generate(speech_wav, tiny_checkpoint, seed=2) == {"FINISHED"}
    takes = [a.name for a in bpy.data.actions if scene_writer.is_take(a)]
    assert len(takes) == 2
    bpy.ops.ed.undo()
    assert [a.name for a in bpy.data.actions if scene_writer.is_take(a)] == takes[:1]
    key = bpy.data.objects["Face"].data.shape_keys
    assert key.animation_data.action.name == takes[0]
    bpy.ops.ed.undo()
    assert not [a for a in bpy.data.actions if scene_writer.is_take(a)]


def test_retarget_other_naming_with_gain_and_unmatched(blender, speech_wav, tiny_checkpoint):
    # A character rig: numbered prefixes, _L/_R suffixes, and two channels missing.
    names = []
    for i, n in enumerate(ARKIT_NAMES):
        if n in ("cheekPuff", "tongueOut"):
            continue
        if n.endswith("Left"):
            names.append(f"{n[:-4]}_L")
        elif n.endswith("Right"):
            names.append(f"{n[:-5]}_R")
        else:
            names.append(f"AK_{i:02d}_{n[0].upper()}{n[1:]}")
    obj = mesh_with_keys(names)
    assert bpy.ops.emotalk.auto_map() == {"FINISHED"}
    rows = {row.arkit: row for row in obj.emotalk.channels}
    assert rows["browDownLeft"].target == "browDown_L"
    assert rows["jawOpen"].target == "AK_24_JawOpen"
    assert rows["tongueOut"].target == ""
    rows["jawOpen"].gain = 0.5
    rows["mouthSmileRight"].target = "mouthSmile_L"  # an artist's edit: both smiles on one key
    assert generate(speech_wav, tiny_checkpoint) == {"FINISHED"}
    summary = bpy.context.scene.emotalk.last_take
    assert "50/52" in summary and "cheekPuff" in summary and "tongueOut" in summary
    take = engine_take(speech_wav, tiny_checkpoint)
    scene = bpy.context.scene
    key = obj.data.shape_keys
    for k in (3, 30, len(take) - 2):
        scene.frame_set(1 + k)
        assert key.key_blocks["AK_24_JawOpen"].value == pytest.approx(
            expected_value(obj, "AK_24_JawOpen", 0.5 * take[k, INDEX["jawOpen"]]), abs=1e-6)
        assert key.key_blocks["browDown_R"].value == pytest.approx(
            expected_value(obj, "browDown_R", take[k, INDEX["browDownRight"]]), abs=1e-6)
        both = take[k, INDEX["mouthSmileLeft"]] + take[k, INDEX["mouthSmileRight"]]
        assert key.key_blocks["mouthSmile_L"].value == pytest.approx(
            expected_value(obj, "mouthSmile_L", both), abs=1e-6)
    assert key.key_blocks["mouthSmile_R"].value == 0.0  # no longer driven


def test_invoke_in_background_runs_synchronously(blender, speech_wav, tiny_checkpoint):
    arkit_mesh()
    assert bpy.app.background
    result = bpy.ops.emotalk.generate("INVOKE_DEFAULT", filepath=str(speech_wav),
                                      checkpoint=str(tiny_checkpoint))
    assert result == {"FINISHED"}
    assert bpy.context.window_manager.emotalk_job.running is False
