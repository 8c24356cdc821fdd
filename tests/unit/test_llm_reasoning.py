from __future__ import annotations

import pytest

from distillset.llm import split_reasoning


@pytest.mark.parametrize(
    ("message", "reasoning", "answer"),
    [
        ({"content": "42", "reasoning_content": "add them"}, "add them", "42"),
        ({"content": "42", "reasoning": "add them"}, "add them", "42"),
        ({"content": "<think>\nadd them\n</think>\n\n42"}, "add them", "42"),
        ({"content": "<thinking>add them</thinking>42"}, "add them", "42"),
        ({"content": "add them\n</think>\n\n42"}, "add them", "42"),
        ({"content": "42"}, None, "42"),
        ({"content": "<think>  </think>42"}, None, "42"),
        ({"content": "42", "reasoning_content": ""}, None, "42"),
        ({"content": "<think>still thinking"}, "still thinking", ""),
        ({"content": None, "reasoning_content": "only thoughts"}, "only thoughts", ""),
        ({"content": [{"type": "text", "text": "4"}, {"type": "text", "text": "2"}]}, None, "42"),
    ],
)
def test_split_reasoning(message: dict[str, object], reasoning: str | None, answer: str) -> None:
    assert split_reasoning(message) == (reasoning, answer)


def test_field_is_trusted_over_inline_but_inline_is_still_removed() -> None:
    message = {"content": "<think>inline</think>42", "reasoning_content": "field"}
    assert split_reasoning(message) == ("field", "42")
