"""Split a chat message into the model's reasoning and its answer."""

from __future__ import annotations

import re
from typing import Any

_THINK_BLOCK = re.compile(r"<(think|thinking)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_UNCLOSED_OPEN = re.compile(r"<(think|thinking)>", re.IGNORECASE)
_LONE_CLOSE = re.compile(r"</(think|thinking)>", re.IGNORECASE)


def message_text(value: Any) -> str:
    """Content as text: a string, or the text parts of a content list."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [p.get("text", "") for p in value if isinstance(p, dict)]
        return "".join(part for part in parts if isinstance(part, str))
    return str(value)


def _none_if_blank(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


def split_inline(content: str) -> tuple[str | None, str]:
    """Reasoning written in the content as <think>/<thinking> blocks, and the rest."""
    if "<" not in content:  # most replies: no tag, so no regular expression to run
        return None, content.strip()
    blocks = [match.group(2) for match in _THINK_BLOCK.finditer(content)]
    rest = _THINK_BLOCK.sub("", content)
    closing = _LONE_CLOSE.search(rest)
    if closing:
        # A template pre-filled the opening tag: everything before the close is reasoning.
        blocks.append(rest[: closing.start()])
        rest = rest[closing.end() :]
    else:
        opening = _UNCLOSED_OPEN.search(rest)
        if opening:
            # Cut off while still thinking: no answer yet.
            blocks.append(rest[opening.end() :])
            rest = rest[: opening.start()]
    reasoning = "\n\n".join(block.strip() for block in blocks if block.strip())
    return _none_if_blank(reasoning), rest.strip()


def split_reasoning(message: dict[str, Any]) -> tuple[str | None, str]:
    """(reasoning, answer) from reasoning_content, reasoning, then inline think tags.

    The dedicated fields are trusted first; inline blocks are always removed from the
    answer. Empty reasoning is None, never "".
    """
    inline_reasoning, answer = split_inline(message_text(message.get("content")))
    for name in ("reasoning_content", "reasoning"):
        field_value = _none_if_blank(message_text(message.get(name)))
        if field_value is not None:
            return field_value, answer
    return inline_reasoning, answer


def raw_parts(message: dict[str, Any]) -> tuple[str, str | None]:
    """The content, and the reasoning a server sent in its own field, exactly as sent (the
    field split_reasoning trusts; None when there is none)."""
    for name in ("reasoning_content", "reasoning"):
        value = message_text(message.get(name))
        if value.strip():
            return message_text(message.get("content")), value
    return message_text(message.get("content")), None


def _span(text: str | None, part: str | None) -> list[int] | None:
    if not text or not part:
        return None
    start = text.rfind(part)
    return None if start < 0 else [start, start + len(part)]


def text_spans(
    raw_content: str, raw_reasoning: str | None, reasoning: str | None, answer: str
) -> dict[str, Any]:
    """Where the answer and the reasoning lie in the raw texts, as [start, end) character
    offsets: the answer in the content; the reasoning in its own field (`reasoning_in`:
    "reasoning") or inline in the content ("content"). A part that is not one run of the raw
    text (several think blocks joined) has no span (null)."""
    inline = raw_reasoning is None
    return {
        "answer": _span(raw_content, answer),
        "reasoning": _span(raw_content if inline else raw_reasoning, reasoning),
        "reasoning_in": None if reasoning is None else ("content" if inline else "reasoning"),
    }
