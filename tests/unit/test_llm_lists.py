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
