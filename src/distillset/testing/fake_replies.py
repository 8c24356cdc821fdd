"""Shaping the fake model's replies: list quirks, reasoning styles, response bodies."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from distillset.testing import fake_content
from distillset.testing.fake_config import FakeConfig
from distillset.testing.fake_logprobs import reply_json

STRUCTURED = ("json_schema", "json_object")
PROSE_BEFORE = "Sure! Here is the list you asked for:"
PROSE_AFTER = "Let me know if you need more."
# How each inline reasoning style writes the reasoning into the content.
INLINE_REASONING = {
    "think": "<think>\n{reasoning}\n</think>\n\n{answer}",
    "thinking": "<thinking>\n{reasoning}\n</thinking>\n\n{answer}",
    "think_close": "{reasoning}\n</think>\n\n{answer}",
}


def _chance(rng: random.Random, rate: float) -> bool:
    return rate > 0 and rng.random() < rate


def list_content(
    text: str, config: FakeConfig, rng: random.Random, response_format: dict[str, Any] | None
) -> tuple[str, list[str]]:
    """The reply to a list prompt, and the quirks applied to it."""
    quirks: list[str] = []

    def chance(quirk: str) -> bool:
        if _chance(rng, getattr(config, quirk)):
            quirks.append(quirk)
            return True
        return False

    count = fake_content.requested_count(text)
    if count > 1 and chance("too_few"):
        count = max(1, count // 2)
    elif chance("too_many"):
        count += 3
    items: list[Any] = fake_content.list_items(text, count)
    key = "questions" if any("?" in item for item in items) else "tags"
    if items and chance("duplicates"):
        items = [*items, items[0]]
    honoured = not config.ignore_response_format
    if honoured and response_format is not None and response_format.get("type") in STRUCTURED:
        # Structured output is honoured: valid JSON of the schema, whatever the quirks.
        return json.dumps({"items": items}, ensure_ascii=False), quirks
    if chance("quoted_items"):
        items = [f'"{item}"' if i % 2 else f"“{item}”" for i, item in enumerate(items)]
    if chance("plain_lines"):
        return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1)), quirks
    if chance("bulleted"):
        return "\n".join(f"{'-*'[i % 2]} {item}" for i, item in enumerate(items)), quirks
    if chance("numbering"):
        items = [f"{i}. {item}" for i, item in enumerate(items, 1)]
    if chance("mixed_types"):
        items = [7, *items[:1], None, *items[1:], 2.5]
    payload: Any = {key: items} if chance("object_wrapped") else items
    if chance("near_json"):
        content = near_json(payload)
    else:
        content = json.dumps(payload, ensure_ascii=False, indent=1)
    if chance("code_fence"):
        content = f"```json\n{content}\n```"
    if chance("prose"):
        content = f"{PROSE_BEFORE}\n\n{content}\n\n{PROSE_AFTER}"
    return content, quirks


def near_json(value: Any) -> str:
    """JSON as models sometimes write it: single-quoted strings and trailing commas."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + "".join(f"\n {near_json(item)}," for item in value) + "\n]"
    if isinstance(value, dict):
        pairs = (f"\n {near_json(k)}: {near_json(v)}," for k, v in value.items())
        return "{" + "".join(pairs) + "\n}"
    return json.dumps(value)


def reply_parts(
    kind: str,
    messages: list[dict[str, Any]],
    config: FakeConfig,
    rng: random.Random,
    response_format: dict[str, Any] | None,
    sample: int | None = None,
) -> tuple[str | None, str]:
    """(reasoning, answer) for a request of this kind; ``sample`` numbers a sampled answer
    (see ``fake_content.answer_for``)."""
    text = fake_content.user_text(messages)
    if kind == "list":
        content, _ = list_content(text, config, rng, response_format)
        return f"The path is {' > '.join(fake_content.tag_path(text))}; listing items.", content
    if kind == "follow_up":
        return fake_content.follow_up_for(text)
    if kind == "difficulty":
        rating = fake_content.difficulty_for(text)
        return "Weighing how much the question asks for.", json.dumps(rating)
    if kind == "score":
        verdict = fake_content.score_for(fake_content.message_texts(messages))
        return "Checking accuracy, completeness and clarity.", json.dumps(verdict)
    if kind == "pairwise":
        verdict = fake_content.winner_for(fake_content.message_texts(messages))
        return "Comparing the two answers.", json.dumps(verdict)
    if kind == "place":
        return "Matching each question to a leaf.", json.dumps(fake_content.placements_for(text))
    if kind == "refine":
        return fake_content.refine_for(text)
    return fake_content.answer_for(text, sample)


def message_fields(style: str, reasoning: str | None, answer: str) -> dict[str, Any]:
    """The assistant message in one of the reasoning styles."""
    message: dict[str, Any] = {"role": "assistant", "content": answer}
    if reasoning is None or style == "none":
        return message
    inline = INLINE_REASONING.get(style)
    if inline is not None:
        message["content"] = inline.format(reasoning=reasoning, answer=answer)
    else:
        message[style] = reasoning
    return message


def usage_of(messages: list[dict[str, Any]], message: dict[str, Any]) -> dict[str, Any]:
    prompt = sum(len(text) for text in fake_content.message_texts(messages)) // 4 + 1
    reasoning_len = len(message.get("reasoning_content") or message.get("reasoning") or "")
    completion = (len(message.get("content") or "") + reasoning_len) // 4 + 1
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning_len // 4},
    }


def completion_body(
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, Any],
    logprobs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    choice = {"index": 0, "message": message, "finish_reason": finish_reason}
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage,
    }


def stream_chunks(
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, Any] | None,
    token_groups: list[tuple[str, str, Any]] | None = None,
    final_logprobs: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The same reply as server-sent chunks: reasoning pieces, content pieces, the end. With
    ``token_groups`` (see fake_logprobs.stream_groups) a chunk per group, its logprobs with
    it; ``final_logprobs`` rides on the last chunk."""
    base = {"id": f"chatcmpl-fake-{time.monotonic_ns()}", "object": "chat.completion.chunk"}
    base["model"] = model
    chunks: list[dict[str, Any]] = []

    def add(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> None:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        if logprobs is not None:
            choice["logprobs"] = logprobs
        chunks.append({**base, "choices": [choice]})

    add({"role": "assistant"})
    for field, piece, logprobs in token_groups or []:
        add({field: piece} if field else {}, logprobs=logprobs)
    for name in ("reasoning_content", "reasoning", "content"):
        text = message.get(name)
        if not text or token_groups is not None:
            continue
        step = max(1, len(text) // 3)
        for start in range(0, len(text), step):
            add({name: text[start : start + step]})
    add({}, finish_reason, final_logprobs)
    if usage is not None:
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks


def echo_body(
    model: str, header: str, style: str, logprobs: Callable[[dict[str, Any]], Any] | None = None
) -> str:
    """A completion whose content quotes the Authorization header back (see FakeConfig)."""
    scheme, _, key = header.partition(" ")
    if style == "split":
        half = len(key) // 2
        content = f"your header was {scheme} {key[:half]}\n{key[half:]}"
    elif style == "escaped":
        content = json.dumps({"header": f"{scheme} {key}"})
    else:
        content = f"your header was {header}"
    message = {"role": "assistant", "content": content}
    tokens = None if logprobs is None else logprobs(message)
    body = reply_json(completion_body(model, message, "stop", usage_of([], message), tokens))
    if style == "escaped" and key:
        # Every character of the key as a JSON \u escape: valid JSON that decodes to it.
        body = body.replace(key, "".join(f"\\u{ord(char):04x}" for char in key))
    return body
