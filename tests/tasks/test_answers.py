import pytest

from redistill.errors import RedistillError
from redistill.tasks.answers import get_answer_type

LIST = get_answer_type("list")
LABEL = get_answer_type("label")
TOKENS = get_answer_type("tokens")


@pytest.mark.parametrize(
    "response, gold, correct",
    [
        ("[1, 2, 3]", "[1, 2, 3]", True),
        ("[1,2,3]", "[1, 2, 3]", True),  # spacing does not matter in normal mode
        ("The output is [4, 5].", "[4, 5]", True),
        ("```python\n[7, 8]\n```", "[7, 8]", True),
        ("Applying the rule to [3, 4, 5] we get:\nOutput: [4, 5]", "[4, 5]", True),
        ("Input: [1, 2]\nOutput: [2, 1]", "[2, 1]", True),
        ("[[1, 2], [3]]", "[[1, 2], [3]]", True),  # nested brackets
        ("Output: []", "[]", True),
        ("[1, 2, 3]", "[1, 2]", False),
        ("no list here", "[1]", False),
        ("[1, 2", "[1, 2]", False),  # unbalanced
    ],
)
def test_list_normal(response, gold, correct):
    assert LIST.check(response, gold).correct is correct


def test_list_parsed_value_and_miss():
    assert LIST.check("Sure! [3,4]", "[3, 4]").parsed == "[3, 4]"
    assert LIST.check("I cannot tell", "[3, 4]").parsed is None


@pytest.mark.parametrize(
    "response, gold, correct",
    [
        ("[1, 2]", "[1, 2]", True),
        ("[1,2]", "[1, 2]", False),  # the published scoring compares strings
        ("The answer is [1, 2] and not [3]", "[1, 2]", True),  # first [...] substring
        ("From [0, 1] we get [1, 2]", "[1, 2]", False),  # first substring is the wrong one
        ("[[1, 2], [3]]", "[[1, 2], [3]]", False),  # first ']' closes early
    ],
)
def test_list_strict(response, gold, correct):
    assert LIST.check(response, gold, strict=True).correct is correct


@pytest.mark.parametrize(
    "response, gold, correct",
    [
        ("on", "on", True),
        ("  OFF\n", "off", True),
        ("Undetermined.", "undetermined", True),
        ("Based on the examples, the machine is off.", "off", True),  # 'on' in prose; last label wins
        ("The answer is: on", "on", True),
        ("**undetermined**", "undetermined", True),
        ("It is offline", "off", False),  # 'offline' is not the label 'off'
        ("maybe", "on", False),
    ],
)
def test_label_normal(response, gold, correct):
    assert LABEL.check(response, gold).correct is correct


def test_label_strict_is_raw_equality():
    assert LABEL.check("on", "on", strict=True).correct
    assert not LABEL.check("On", "on", strict=True).correct
    assert not LABEL.check("The machine is on.", "on", strict=True).correct


@pytest.mark.parametrize(
    "response, gold, correct",
    [
        ("RED BLUE", "RED BLUE", True),
        ("red   blue\n", "RED BLUE", True),
        ("Output: RED RED RED", "RED RED RED", True),
        ("The translation is:\nGREEN BLUE.", "GREEN BLUE", True),
        ("RED BLUE", "BLUE RED", False),
        ("", "RED", False),
    ],
)
def test_tokens_normal(response, gold, correct):
    assert TOKENS.check(response, gold).correct is correct


def test_tokens_strict():
    assert TOKENS.check("RED BLUE", "RED BLUE", strict=True).correct
    assert not TOKENS.check("RED  BLUE", "RED BLUE", strict=True).correct


def test_unknown_answer_type():
    with pytest.raises(RedistillError, match="unknown answer type"):
        get_answer_type("regex")
