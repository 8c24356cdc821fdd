"""The text rules in one place: what model text loses, what a person's text may hold, and
how the CLI shows what is stored."""

from __future__ import annotations

import json

import pytest

from distillset.cli.common import print_json, printable
from distillset.domain import InvalidInputError, checked_text, storable_text, unstorable_reason


def test_model_text_keeps_tabs_and_line_breaks_and_drops_other_controls() -> None:
    sent = "a\x00b\x07c\x1b[2Jd\x7fe\tf\r\ng\x0bh\x0ci\ud800j"
    assert storable_text(sent) == "abc[2Jde\tf\r\nghi\ufffdj"
    assert storable_text("plain ascii") == "plain ascii"


@pytest.mark.parametrize(
    ("text", "single_line", "reason"),
    [
        ("a\x00b", False, "control characters (such as NUL or ESC) are not allowed ('\\x00')"),
        ("a\x1bb", False, "control characters (such as NUL or ESC) are not allowed ('\\x1b')"),
        ("a\nb", True, "tabs and line breaks are not allowed in a single line ('\\n')"),
        ("a\ud800\udfffb", False, "cannot be stored or shown ('\\ud800\\udfff')"),
    ],
)
def test_a_persons_text_is_refused_with_its_reason(
    text: str, single_line: bool, reason: str
) -> None:
    found = unstorable_reason(text, single_line=single_line)
    assert found is not None and found.endswith(reason)
    with pytest.raises(InvalidInputError, match="^invalid field: "):
        checked_text("field", text, 100, single_line=single_line)


def test_long_text_keeps_tabs_and_line_breaks_and_lengths_are_checked_first() -> None:
    assert checked_text("note", "a\tb\r\nc", None, single_line=False) == "a\tb\r\nc"
    with pytest.raises(InvalidInputError, match=r"^name too long \(201 > 200 chars\)$"):
        checked_text("name", "n" * 201, 200)
    assert checked_text("name", "n" * 200, 200) == "n" * 200


def test_the_cli_shows_steering_characters_as_escapes() -> None:
    shown = printable("t\x1b]0;x\x07 \u202eevil\u2066 \x9b1m tab\tline\nend \u05e9\u200f")
    assert shown == "t\\x1b]0;x\\x07 \\u202eevil\\u2066 \\x9b1m tab\tline\nend \u05e9\u200f"
    assert printable("a\tb\nc", single_line=True) == "a\\x09b\\x0ac"
    assert printable("plain") == "plain"


def test_printed_json_escapes_them_and_reads_back_the_same(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = {"label": "\u202eevil \x9b \x7f \x1b[2J \u05e9"}
    print_json(data)
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\x9b" not in out and "\x7f" not in out and "\x1b" not in out
    assert json.loads(out) == data
