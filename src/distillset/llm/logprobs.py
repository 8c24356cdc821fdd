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
import itertools
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


def _token_id(entry: dict[str, Any]) -> int | None:
    """The token's id: llama.cpp's `id`, or vLLM's `token_id:N` token text."""
    value = entry.get("id")
    if type(value) is int and 0 <= value < 2**31:
        return value
    token = entry.get("token")
    if type(token) is str and token.startswith("token_id:"):
        match = _TOKEN_ID.fullmatch(token)
        if match is not None and 0 <= int(match.group(1)) < 2**31:
            return int(match.group(1))
    return None


def _entry(entry: Any) -> tuple[bytes, int | None, float]:
    """A token's bytes, id and logprob. Written for speed: it runs K+1 times per token."""
    if type(entry) is not dict:
        raise MalformedLogprobs("not an object")
    logprob = entry.get("logprob")
    if type(logprob) is not float and type(logprob) is not int:
        raise MalformedLogprobs("the logprob is not a number")
    if not logprob <= 1e-3:  # NaN fails this too
        raise MalformedLogprobs(f"the logprob {logprob!r} is not a log-probability")
    raw = entry.get("bytes")
    if raw is not None:
        if type(raw) is not list or len(raw) > MAX_TOKEN_BYTES:
            raise MalformedLogprobs("the token bytes are not a short list")
        try:
            token = bytes(raw)
        except (TypeError, ValueError):
            raise MalformedLogprobs("the token bytes are not bytes") from None
    else:
        text = entry.get("token")
        if type(text) is not str or len(text) > MAX_TOKEN_BYTES:
            raise MalformedLogprobs("the token is not a short string")
        token = text.encode("utf-8", "surrogatepass")
    return token, _token_id(entry), float(logprob) if logprob <= 0 else 0.0


def _alternatives(item: dict[str, Any], keep: int) -> list[tuple[bytes, int | None, float]]:
    alternatives = item.get("top_logprobs") or []
    if type(alternatives) is not list:
        raise MalformedLogprobs("`top_logprobs` is not a list")
    read = []
    for index, alternative in enumerate(alternatives[:keep]):
        try:
            read.append(_entry(alternative))
        except MalformedLogprobs as exc:
            raise MalformedLogprobs(f"alternative {index}: {exc}") from None
    return read


_FLOAT = {float}


def _fast_row(item: Any, keep: int) -> tuple[Any, ...]:
    """One token and its alternatives read in bulk, trusting the usual shape: every entry an
    object with `bytes` (a list of ints) and a float `logprob`. Any other shape raises
    (KeyError, TypeError...) and the careful reader takes over."""
    alternatives = item["top_logprobs"][:keep]
    logprobs = [alternative["logprob"] for alternative in alternatives]
    logprob = item["logprob"]
    if type(logprob) is not float or not set(map(type, logprobs)) <= _FLOAT:
        raise TypeError
    if not (logprob <= 0 and max(logprobs, default=0.0) <= 0):  # NaN fails too
        raise ValueError
    tokens = [bytes(alternative["bytes"]) for alternative in alternatives]
    token = bytes(item["bytes"])
    if max(len(token), *map(len, tokens)) > MAX_TOKEN_BYTES:
        raise ValueError
    ids = [alternative.get("id") for alternative in alternatives]
    return token, item.get("id"), logprob, tokens, ids, logprobs


def _careful_row(item: Any, keep: int) -> tuple[Any, ...]:
    """The same row read field by field, saying what is wrong (MalformedLogprobs)."""
    token, token_id, logprob = _entry(item)
    read = _alternatives(item, keep)
    return (
        token,
        token_id,
        logprob,
        [a[0] for a in read],
        [a[1] for a in read],
        [a[2] for a in read],
    )


def _all_ids(ids: list[Any], top_ids: list[list[Any]]) -> bool:
    """Whether every token and alternative has a usable id (llama.cpp always sends them)."""
    every = list(itertools.chain(ids, *top_ids))
    if set(map(type, every)) != {int}:
        return False
    return min(every) >= 0 and max(every) < 2**31


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
    try:
        rows = [_fast_row(item, keep) for item in content]
        ids = [row[1] for row in rows]
        top_ids = [row[4] for row in rows]
        if not _all_ids(ids, top_ids):  # ids missing or in vLLM's token text: read each
            raise TypeError
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        rows = []
        for position, item in enumerate(content):
            try:
                rows.append(_careful_row(item, keep))
            except MalformedLogprobs as exc:
                raise MalformedLogprobs(f"token {position}: {exc}") from None
        ids = [row[1] for row in rows]
        top_ids = [row[4] for row in rows]
    with_ids = None not in ids and all(None not in row for row in top_ids)
    return SoftLabels(
        k=max((len(row[3]) for row in rows), default=0),
        tokens=[row[0] for row in rows],
        ids=ids if with_ids else None,
        logprobs=[float(row[2]) for row in rows],
        top_tokens=[row[3] for row in rows],
        top_ids=top_ids if with_ids else None,
        top_logprobs=[[float(value) for value in row[5]] for row in rows],
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
    # One text, the alternatives apart: no key match spans a NUL (see llm.redact).
    alternatives = b"\x00".join(token for row in labels.top_tokens for token in row)
    text = (labels.text_bytes + b"\x00" + alternatives).decode("utf-8", "replace")
    return redact(text) != text


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
