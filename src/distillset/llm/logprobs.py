"""Asking a server for log-probabilities, and reading what it sends back.

OpenAI-compatible servers (vLLM, SGLang, llama.cpp, Ollama, OpenAI, Together) answer
`"logprobs": true, "top_logprobs": K` with, per generated token, `{"token", "logprob",
"bytes", "top_logprobs": [...]}`; llama.cpp adds the token `id`, and vLLM started with
`--return-tokens-as-token-ids` writes tokens as `token_id:123`. Everything here is read
defensively: a reply from a hostile or broken server is refused as MalformedLogprobs, never
stored half-read.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from typing import Any

from distillset.llm.soft_labels import (
    CAPTURED,
    MALFORMED,
    MAX_K,
    MAX_TOKEN_BYTES,
    MAX_TOKENS,
    MISALIGNED,
    STATUSES,
    UNCHECKED,
    WITHHELD,
    SoftLabelCapture,
    SoftLabelError,
    SoftLabels,
    pack,
    unpack,
)

_TOKEN_ID = re.compile(r"token_id:(-?\d{1,10})")
# What a server's reasoning parser leaves between the reasoning and the answer tokens.
_BETWEEN = re.compile(rb"\s*(?:</?think(?:ing)?>\s*)*")


class MalformedLogprobs(ValueError):
    """The reply's `logprobs` is not what OpenAI-compatible servers send."""


def request_fields(k: int) -> dict[str, Any]:
    """What a request body adds to ask for the top ``k`` alternatives of every token."""
    return {"logprobs": True, "top_logprobs": k}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedLogprobs(f"{where}: the logprob is not a number")
    number = float(value)
    if math.isnan(number) or number > 1e-3:
        raise MalformedLogprobs(f"{where}: the logprob {value!r} is not a log-probability")
    return min(number, 0.0)


def _token_bytes(entry: dict[str, Any], where: str) -> bytes:
    raw = entry.get("bytes")
    if raw is not None:
        if not isinstance(raw, list) or len(raw) > MAX_TOKEN_BYTES:
            raise MalformedLogprobs(f"{where}: the token bytes are not a short list")
        if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in raw):
            raise MalformedLogprobs(f"{where}: the token bytes are not bytes")
        return bytes(raw)
    token = entry.get("token")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise MalformedLogprobs(f"{where}: the token is not a short string")
    return token.encode("utf-8", "surrogatepass")


def _token_id(entry: dict[str, Any]) -> int | None:
    value = entry.get("id")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    token = entry.get("token")
    match = _TOKEN_ID.fullmatch(token) if isinstance(token, str) else None
    if match is not None and 0 <= int(match.group(1)) < 2**31:
        return int(match.group(1))
    return None


def _entry(value: Any, where: str) -> tuple[bytes, int | None, float]:
    if not isinstance(value, dict):
        raise MalformedLogprobs(f"{where}: not an object")
    return _token_bytes(value, where), _token_id(value), _number(value.get("logprob"), where)


def read_logprobs(payload: Any, k: int) -> SoftLabels | None:
    """The soft labels in a choice's `logprobs` (at most ``k`` alternatives a token are kept),
    None when it holds none; MalformedLogprobs when it is not logprobs at all."""
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise MalformedLogprobs("`logprobs` is not an object")
    content = payload.get("content")
    if content is None:
        return None
    if not isinstance(content, list) or len(content) > MAX_TOKENS:
        raise MalformedLogprobs("`logprobs.content` is not a list of tokens")
    if not content:
        return None
    keep = max(0, min(k, MAX_K))
    tokens: list[bytes] = []
    ids: list[int | None] = []
    logprobs: list[float] = []
    top_tokens: list[list[bytes]] = []
    top_ids: list[list[int | None]] = []
    top_logprobs: list[list[float]] = []
    for position, item in enumerate(content):
        where = f"token {position}"
        token, token_id, logprob = _entry(item, where)
        alternatives = item.get("top_logprobs") or []
        if not isinstance(alternatives, list):
            raise MalformedLogprobs(f"{where}: `top_logprobs` is not a list")
        read = [
            _entry(alt, f"{where}, alternative {i}") for i, alt in enumerate(alternatives[:keep])
        ]
        tokens.append(token)
        ids.append(token_id)
        logprobs.append(logprob)
        top_tokens.append([alt[0] for alt in read])
        top_ids.append([alt[1] for alt in read])
        top_logprobs.append([alt[2] for alt in read])
    with_ids = all(i is not None for i in ids) and all(
        i is not None for row in top_ids for i in row
    )
    return SoftLabels(
        k=max((len(row) for row in top_tokens), default=0),
        tokens=tokens,
        ids=[int(i) for i in ids if i is not None] if with_ids else None,
        logprobs=logprobs,
        top_tokens=top_tokens,
        top_ids=[[int(i) for i in row if i is not None] for row in top_ids] if with_ids else None,
        top_logprobs=top_logprobs,
    )


def answer_start(
    tokens: list[bytes], raw_content: str, raw_reasoning: str | None, answer: str
) -> int | None:
    """The index of the token holding the answer's first byte, when the tokens spell the
    generated text: the content alone, or the separated reasoning, then the content (with
    only think tags and spaces between, as a server's reasoning parser leaves them). None
    when they do not: the record is flagged, not aligned by guesswork."""
    spelled = b"".join(tokens)
    content = raw_content.encode("utf-8", "surrogatepass")
    if not spelled.endswith(content):
        return None
    before = spelled[: len(spelled) - len(content)]
    if before:
        reasoning = (raw_reasoning or "").strip().encode("utf-8", "surrogatepass")
        head, found, tail = before.partition(reasoning) if reasoning else (b"", b"", before)
        if (reasoning and not found) or not _BETWEEN.fullmatch(head + tail):
            return None
    found_at = raw_content.rfind(answer) if answer else -1
    if found_at < 0:
        return None
    offset = len(before) + len(raw_content[:found_at].encode("utf-8", "surrogatepass"))
    end = 0
    for index, token in enumerate(tokens):
        end += len(token)
        if end > offset:
            return index
    return None


def ids_without_text(labels: SoftLabels) -> bool:
    """Whether the tokens are ids written as text (`token_id:N`: vLLM started with
    `--return-tokens-as-token-ids`), so that only the tokenizer could spell the text."""
    return labels.ids is not None and all(
        _TOKEN_ID.fullmatch(token.decode("utf-8", "replace")) for token in labels.tokens
    )


def spells_key(labels: SoftLabels, redact: Callable[[str], str]) -> bool:
    """Whether the tokens spell text that the endpoint's key redaction would change: the
    sampled sequence, or any single alternative (the content itself is redacted already,
    but its tokens one by one are not)."""
    texts = [labels.text_bytes.decode("utf-8", "replace")]
    texts += [token.decode("utf-8", "replace") for row in labels.top_tokens for token in row]
    return any(redact(text) != text for text in texts)


def capture(
    payload: Any,
    k: int,
    *,
    raw_content: str,
    raw_reasoning: str | None,
    answer: str,
    redact: Callable[[str], str] | None = None,
) -> SoftLabelCapture | None:
    """What a reply's `logprobs` gives its answer: packed soft labels (CAPTURED, or
    MISALIGNED when the tokens do not spell the text), MALFORMED, WITHHELD (the tokens
    spell the key ``redact`` masks), or None when it has none."""
    try:
        labels = read_logprobs(payload, k)
    except MalformedLogprobs as exc:
        return SoftLabelCapture(MALFORMED, detail=str(exc))
    if labels is None:
        return None
    if redact is not None and spells_key(labels, redact):
        return SoftLabelCapture(WITHHELD, detail="the tokens spell the endpoint's API key")
    start = answer_start(labels.tokens, raw_content, raw_reasoning, answer)
    status = CAPTURED if start is not None else MISALIGNED
    if start is None and ids_without_text(labels):
        status = UNCHECKED
    return SoftLabelCapture(
        status,
        blob=pack(labels),
        tokens=len(labels),
        k=labels.k,
        has_ids=labels.ids is not None,
        answer_start=start,
    )


# A call log row keeps a reply's soft labels packed under this key of its `logprobs`, not as
# the ~2 KB of JSON a token the server sent: a reply from the cache gives the same capture.
PACKED = "packed_soft_labels"


def packed_entry(captured: SoftLabelCapture) -> dict[str, Any]:
    """The `logprobs` a stored reply keeps in place of the server's."""
    entry: dict[str, Any] = {"status": captured.status}
    if captured.blob is not None:
        entry.update(blob=base64.b64encode(captured.blob).decode("ascii"))
        entry.update(answer_start=captured.answer_start)
    if captured.detail is not None:
        entry["detail"] = captured.detail
    return {PACKED: entry}


def from_packed(entry: Any) -> SoftLabelCapture:
    """The capture a stored reply kept (see packed_entry)."""
    if not isinstance(entry, dict) or entry.get("status") not in STATUSES:
        return SoftLabelCapture(MALFORMED, detail="the stored soft labels are damaged")
    blob_text = entry.get("blob")
    if not isinstance(blob_text, str):
        detail = entry.get("detail")
        return SoftLabelCapture(entry["status"], detail=detail if isinstance(detail, str) else None)
    try:
        blob = base64.b64decode(blob_text, validate=True)
        labels = unpack(blob)
    except (ValueError, SoftLabelError):
        return SoftLabelCapture(MALFORMED, detail="the stored soft labels are damaged")
    start = entry.get("answer_start")
    return SoftLabelCapture(
        entry["status"],
        blob=blob,
        tokens=len(labels),
        k=labels.k,
        has_ids=labels.ids is not None,
        answer_start=start if isinstance(start, int) else None,
    )
