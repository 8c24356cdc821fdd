from __future__ import annotations

import pytest

from distillset.llm import ModelOutputError, parse_json_list
from distillset.llm.lists import list_response_format

ITEMS = ["Ball games", "Track and field", "Swimming"]


@pytest.mark.parametrize(
    "text",
    [
        '["Ball games", "Track and field", "Swimming"]',
        '```json\n["Ball games", "Track and field", "Swimming"]\n```',
        '```\n["Ball games", "Track and field", "Swimming"]\n```',
        '{"items": ["Ball games", "Track and field", "Swimming"]}',
        '{"tags": ["Ball games", "Track and field", "Swimming"]}',
        '{"result": {"list": ["Ball games", "Track and field", "Swimming"]}}',
        'Here you go:\n["Ball games", "Track and field", "Swimming"]\nEnjoy!',
        '["1. Ball games", "2) Track and field", "3、Swimming"]',
        '["\\"Ball games\\"", "  Track and field ", "", "Swimming", 7, null]',
        '["Ball games", "Track and field", "Swimming", "Ball games"]',
        '["Ball games", "Track and field", "Swimming",',
        "['Ball games', 'Track and field', 'Swimming']",
        '<think>maybe [x]?</think>\n["Ball games", "Track and field", "Swimming"]',
        'thinking...</think>["Ball games", "Track and field", "Swimming"]',
        "1. Ball games\n2. Track and field\n3. Swimming",
        "- Ball games\n* Track and field\n• Swimming",
        '[{"label": "Ball games"}, {"label": "Track and field"}, {"label": "Swimming"}]',
    ],
)
def test_quirky_lists_parse_to_the_clean_list(text: str) -> None:
    assert parse_json_list(text) == ITEMS


def test_chinese_items_survive() -> None:
    assert parse_json_list('```json\n["1. 球类运动", "田径"]\n```') == ["球类运动", "田径"]


@pytest.mark.parametrize(
    "text", ["", "I cannot help with that.", "[]", '{"items": []}', "[1, 2, null]"]
)
def test_nothing_usable_is_an_output_error(text: str) -> None:
    with pytest.raises(ModelOutputError):
        parse_json_list(text)


def test_response_formats() -> None:
    schema = list_response_format("json_schema")
    assert schema is not None and schema["type"] == "json_schema"
    assert schema["json_schema"]["schema"]["properties"]["items"]["type"] == "array"
    assert list_response_format("json_object") == {"type": "json_object"}
    assert list_response_format("none") is None


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("1. **Ball games**: team sports", ["Ball games: team sports"]),
        ("- **Ball games:** team sports", ["Ball games: team sports"]),
        ('["**Ball games**", "*Swimming*"]', ["Ball games", "Swimming"]),
        ('["__Ball games__", "_Swimming_"]', ["Ball games", "Swimming"]),
        ('["**1. Ball games**", "\\"**Swimming**\\""]', ["Ball games", "Swimming"]),
        ("1. ***Track*** and *field* events", ["Track and field events"]),
        ('["**Ball games"]', ["Ball games"]),  # cut before the closing marker
    ],
)
def test_markdown_emphasis_is_removed_around_words(text: str, items: list[str]) -> None:
    assert parse_json_list(text) == items


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ('["A* search", "IDA* and A* search", "A*"]', ["A* search", "IDA* and A* search", "A*"]),
        ("1. A* search\n2. snake_case names", ["A* search", "snake_case names"]),
        ('["Pointers *p and *q", "x * y"]', ["Pointers *p and *q", "x * y"]),
        ('["2 * 3 = 6", "1. 2 * 3 sets"]', ["2 * 3 = 6", "2 * 3 sets"]),
        ('["1 \\"Introduction\\"", "2 *Swimming*"]', ["Introduction", "Swimming"]),
    ],
)
def test_asterisks_and_underscores_that_are_not_emphasis_stay(text: str, items: list[str]) -> None:
    assert parse_json_list(text) == items
