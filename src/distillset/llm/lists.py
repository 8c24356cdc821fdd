"""Turn a model reply into a clean list of strings, and ask for one in the right format."""

from __future__ import annotations

import json
import re
from typing import Any

import json_repair

from distillset.domain import normalize_text, storable_text, strip_numbering
from distillset.llm.config import EndpointConfig
from distillset.llm.errors import ModelOutputError
from distillset.llm.reasoning import split_inline

_FENCE = re.compile(r"```[ \t]*[\w-]*[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_LIST_LINE = re.compile(r"^\s*(?:[(\[]?\d+(?:\.\d+)*[.)\]:、]|[-*•+])\s+(\S.*)$")
_ITEM_KEYS = ("text", "question", "label", "tag", "name", "title", "item", "value")
_QUOTES = "\"'`“”‘’「」『』"
# Markdown emphasis (**bold**, *italic*, __bold__, _italic_) opens before a word and closes
# after one, so the lone `*` of `A* search` or the `_` inside snake_case never match.
_EMPHASIS = re.compile(r"(?<![\w*])(\*{1,3}|_{1,3})(?=[^\s*_])(.+?)(?<=[^\s*_])\1(?![\w*])")
# Markers left without their pair (a reply cut after `**Ball games`).
_STRAY_EMPHASIS = re.compile(r"^(?:\*\*+|__+)|(?:\*\*+|__+)$")

ITEMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "string"}}},
    "required": ["items"],
    "additionalProperties": False,
}

JSON_OBJECT_HINT = 'Reply with a JSON object of the form {"items": ["...", "..."]}.'

# Output tokens a list request may use when the endpoint sets no max_tokens: room for a
# reasoning model's thinking plus the items, yet a model that repeats itself stops.
LIST_OUTPUT_BASE = 2048
LIST_OUTPUT_PER_ITEM = 128
LIST_OUTPUT_UNKNOWN_COUNT = 4096


def list_response_format(structured_output: str, count: int | None = None) -> dict[str, Any] | None:
    """The response_format for a list request on an endpoint with this support level; with
    ``count``, the schema holds exactly that many items (a grammar then stops the model)."""
    if structured_output == "json_schema":
        schema = ITEMS_SCHEMA
        if count is not None and count > 0:
            items = {**ITEMS_SCHEMA["properties"]["items"], "minItems": count, "maxItems": count}
            schema = {**ITEMS_SCHEMA, "properties": {"items": items}}
        return {
            "type": "json_schema",
            "json_schema": {"name": "items", "strict": True, "schema": schema},
        }
    if structured_output == "json_object":
        return {"type": "json_object"}
    return None


def default_output_bound(endpoint: EndpointConfig, tokens: int) -> dict[str, Any] | None:
    """``{"max_tokens": tokens}``, or None where the endpoint sets its own bound."""
    if endpoint.max_tokens is not None or endpoint.extra_body.keys() & OUTPUT_BOUND_NAMES:
        return None
    return {"max_tokens": tokens}


def list_output_bound(endpoint: EndpointConfig, count: int | None) -> dict[str, Any] | None:
    """The default max_tokens of a list request, or None where the endpoint sets a bound."""
    if count is None or count <= 0:
        return default_output_bound(endpoint, LIST_OUTPUT_UNKNOWN_COUNT)
    return default_output_bound(endpoint, LIST_OUTPUT_BASE + LIST_OUTPUT_PER_ITEM * count)


OUTPUT_BOUND_NAMES = frozenset({"max_tokens", "max_completion_tokens", "n_predict"})


def with_json_object_hint(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages with the `{"items": [...]}` shape spelled out, for json_object mode."""
    if not messages:
        return [{"role": "user", "content": JSON_OBJECT_HINT}]
    last = messages[-1]
    content = f"{last.get('content', '')}\n\n{JSON_OBJECT_HINT}"
    return [*messages[:-1], {**last, "content": content}]


def _fenced_bodies(text: str) -> list[str]:
    return [match.group(1) for match in _FENCE.finditer(text) if match.group(1).strip()]


def _json_candidates(text: str) -> list[str]:
    """Substrings likely to hold the JSON: fenced blocks, then the outermost brackets."""
    candidates = _fenced_bodies(text) + [text]
    for source in list(candidates):
        starts = [i for i in (source.find("["), source.find("{")) if i >= 0]
        if not starts:
            continue
        start = min(starts)
        end = max(source.rfind("]"), source.rfind("}"))
        candidates.append(source[start : end + 1] if end > start else source[start:])
    return candidates


def _decode(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    if "[" not in candidate and "{" not in candidate:
        return None
    try:
        return json_repair.loads(candidate)
    except (ValueError, RecursionError):
        return None


def _find_array(value: Any, depth: int = 0) -> list[Any] | None:
    """A bare array, or the array an object holds (preferring an `items` key)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and depth < 2:
        if isinstance(value.get("items"), list):
            return value["items"]
        for inner in value.values():
            found = _find_array(inner, depth + 1)
            if found:
                return found
    return None


def _item_text(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        for key in _ITEM_KEYS:
            if isinstance(item.get(key), str):
                return item[key]
        strings = [v for v in item.values() if isinstance(v, str)]
        if len(strings) == 1:
            return strings[0]
    return None


def clean_item(text: str) -> str:
    """Markdown emphasis, numbering, surrounding quotes and spacing removed; a lone
    surrogate the reply's JSON escaped becomes U+FFFD, as in the reply's own text."""
    text = _EMPHASIS.sub(r"\2", " ".join(storable_text(text).split()))
    text = strip_numbering(text).strip(_QUOTES + " ")
    text = _STRAY_EMPHASIS.sub("", strip_numbering(text))
    return text.strip(_QUOTES + ",; ")


def _clean_all(raw_items: list[Any]) -> list[str]:
    items: list[str] = []
    seen: set[str] = set()
    for raw in raw_items:
        text = _item_text(raw)
        if text is None:
            continue
        cleaned = clean_item(text)
        key = normalize_text(cleaned)
        if cleaned and key not in seen:
            seen.add(key)
            items.append(cleaned)
    return items


def _list_lines(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := _LIST_LINE.match(line))]


def parse_json_list(text: str) -> list[str]:
    """A clean list of distinct strings from a reply; ModelOutputError when none remain."""
    _, answer = split_inline(text or "")
    for candidate in _json_candidates(answer):
        array = _find_array(_decode(candidate))
        if array:
            items = _clean_all(array)
            if items:
                return items
    items = _clean_all(_list_lines(answer))
    if items:
        return items
    snippet = " ".join(answer.split())[:120]
    raise ModelOutputError(f"no list of strings found in the model reply: {snippet!r}")
