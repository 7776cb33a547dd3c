"""The controls and their one check: level, speaking style (``person``), backend; the CLI's style parser."""
import math

import numpy as np
import pytest

from emotalk_blender.engine.constants import NUM_PERSONS
from emotalk_blender.engine.errors import EmoTalkError
from emotalk_blender.engine.settings import GenerateSettings, SettingsError, parse_person, validate_controls


def one_line_error(call, *args, **kw) -> str:
    with pytest.raises(EmoTalkError) as info:
        call(*args, **kw)
    message = str(info.value)
    assert "\n" not in message and message
    return message


def test_valid_controls_pass_through():
    assert validate_controls(0.25, 3) == (0.25, 3)
    assert validate_controls(1, np.int64(NUM_PERSONS - 1)) == (1.0, NUM_PERSONS - 1)
    mix = [0.0] * NUM_PERSONS
    mix[3], mix[7] = 0.5, 1.5
    level, person = validate_controls(0.0, np.array(mix))
    assert level == 0.0 and person == tuple(mix)  # not renormalised here: the model does that


@pytest.mark.parametrize("level", [-0.1, 1.01, math.nan, math.inf, "1", None])
def test_bad_level_is_one_line(level):
    assert "level must lie in 0..1" in one_line_error(validate_controls, level, 0)


@pytest.mark.parametrize("person, problem", [
    (-1, "style index -1 is out of range 0..23"),  # no wrap-around to the last style
    (NUM_PERSONS, "style index 24 is out of range 0..23"),
    (3.5, "expected a style index"),
    (True, "expected a style index"),
    ([1.0] * (NUM_PERSONS - 1), "needs 24 weights, got 23"),
    ([0.0] * NUM_PERSONS, "positive sum"),
    ([math.nan] + [1.0] * (NUM_PERSONS - 1), "weight nan of style 0"),
    ([-1.0] + [1.0] * (NUM_PERSONS - 1), "weight -1.0 of style 0"),
])
def test_bad_person_is_one_line(person, problem):
    message = one_line_error(validate_controls, 1.0, person)
    assert message.startswith("person: ") and problem in message


def test_settings_validated_and_backend_name():
    s = GenerateSettings(level=0.5, person=np.int32(2))
    assert s.backend == "auto" and s.validated().person == 2 and type(s.validated().person) is int
    assert "backend must be one of auto, torch, numpy" in one_line_error(GenerateSettings(backend="jax").validated)
    assert isinstance(pytest.raises(SettingsError, GenerateSettings(person=-3).validated).value, EmoTalkError)


def test_parse_person_index_and_mix():
    assert parse_person("3") == 3 and parse_person(" 23 ") == 23
    mix = parse_person("3:0.5,7:0.5")
    assert len(mix) == NUM_PERSONS and mix[3] == mix[7] == 0.5 and sum(mix) == 1.0


@pytest.mark.parametrize("text, message", [
    ("30:1", "--person 30:1: style index 30 is out of range 0..23"),
    ("-1", "--person -1: style index -1 is out of range 0..23"),
    ("24", "--person 24: style index 24 is out of range 0..23"),
    ("3:nan", "--person 3:nan: weight nan of style 3 is not a finite non-negative number"),
    ("3:-1", "--person 3:-1: weight -1.0 of style 3 is not a finite non-negative number"),
    ("3:0", "--person 3:0: the style weights must have a positive sum"),
    ("3:0.5,3:0.5", "--person 3:0.5,3:0.5: style 3 is given twice"),
    ("three", "--person three: expected a style index 0..23 or a mix like 3:0.5,7:0.5"),
    ("3:0.5:1", "--person 3:0.5:1: expected a style index 0..23 or a mix like 3:0.5,7:0.5"),
    ("3:", "--person 3:: expected a style index 0..23 or a mix like 3:0.5,7:0.5"),
])
def test_parse_person_errors_are_one_line(text, message):
    assert one_line_error(parse_person, text) == message
